#!/usr/bin/env bash
# The compose stack (compose.yaml) for local use and the smoke test.
#
#   scripts/compose.sh up      start it and wait until every service is healthy
#   scripts/compose.sh down    stop and remove it
#   scripts/compose.sh smoke   up, vibevoice-smoke against it, and down again however that went;
#                              exits with vibevoice-smoke's status (or 1 if the stack never got healthy).
#                              A stack already up (`make up`) is smoke-tested and left running.
#
# Uses `docker compose` (v2) when it exists, else `docker-compose` (1.29). Environment:
#   COMPOSE_PROJECT_NAME (default vibevoice), VIBEVOICE_TTS_PUBLISH / VIBEVOICE_AGENT_PUBLISH (host ports,
#   default 8000 / 8080), VIBEVOICE_TTS_IMAGE / VIBEVOICE_AGENT_IMAGE, HEALTHY_TIMEOUT_S (default 120),
#   SMOKE (the vibevoice-smoke command, default: the one on PATH).
set -euo pipefail

cd "$(dirname "$0")/.."
export COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME:-vibevoice}
services=(tts agent)
timeout_s=${HEALTHY_TIMEOUT_S:-120}

log() { echo "compose: $*" >&2; }

compose() {
  if docker compose version >/dev/null 2>&1; then
    docker compose --file compose.yaml "$@"
  elif command -v docker-compose >/dev/null; then
    docker-compose --file compose.yaml "$@"
  else
    log "neither \`docker compose\` nor docker-compose is installed (apt-get install docker-compose)"
    return 1
  fi
}

# Wait until each service's container reports healthy; fail at once if one stops or turns unhealthy.
wait_healthy() {
  local deadline=$((SECONDS + timeout_s)) service id state
  for service in "${services[@]}"; do
    while :; do
      id=$(compose ps --all --quiet "$service")
      state=$([[ -n $id ]] && docker inspect --format '{{.State.Status}}/{{.State.Health.Status}}' "$id" || echo missing)
      case $state in
        running/healthy) break ;;
        running/starting | missing) ;;
        *) log "$service is $state"; return 1 ;;
      esac
      if ((SECONDS >= deadline)); then
        log "$service not healthy after ${timeout_s}s ($state)"
        return 1
      fi
      sleep 1
    done
    log "$service healthy"
  done
}

up() {
  compose up --detach
  if ! wait_healthy; then
    compose logs --tail 50 >&2 || true
    return 1
  fi
}

down() {
  compose down --volumes --remove-orphans
}

smoke() {
  local status=0
  if [[ -n $(compose ps --quiet 2>/dev/null) ]]; then
    log "the stack is up already: smoke-testing it and leaving it up (make down stops it)"
    wait_healthy || return 1
  else
    trap down EXIT
    up || return 1
  fi
  ${SMOKE:-vibevoice-smoke} \
    --tts-url "http://127.0.0.1:${VIBEVOICE_TTS_PUBLISH:-8000}" \
    --agent-url "http://127.0.0.1:${VIBEVOICE_AGENT_PUBLISH:-8080}" || status=$?
  if ((status)); then
    compose logs --tail 50 >&2 || true
  fi
  return "$status"
}

case ${1:-} in
  up) up ;;
  down) down ;;
  smoke) smoke ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
esac
