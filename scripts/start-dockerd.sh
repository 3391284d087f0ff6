#!/usr/bin/env bash
# Start the Docker engine when none answers (machines without systemd), then wait until it does.
# The daemon's log goes to ${DOCKERD_LOG:-/tmp/dockerd.log}.
set -euo pipefail

timeout_s=${DOCKERD_TIMEOUT_S:-60}
log=${DOCKERD_LOG:-/tmp/dockerd.log}

if docker info >/dev/null 2>&1; then
  exit 0
fi
if ! command -v dockerd >/dev/null; then
  echo "start-dockerd: dockerd not found (apt-get install docker.io)" >&2
  exit 1
fi
if ! pgrep -x dockerd >/dev/null; then
  echo "start-dockerd: starting dockerd (log: $log)" >&2
  (setsid nohup dockerd >"$log" 2>&1 &)
fi
for ((waited = 0; waited < timeout_s; waited++)); do
  if docker info >/dev/null 2>&1; then
    exit 0
  fi
  sleep 1
done
echo "start-dockerd: the engine did not answer within ${timeout_s}s; last lines of $log:" >&2
tail -n 20 "$log" >&2 || true
exit 1
