#!/usr/bin/env bash
# Benchmark figures of the images (measured, never asserted by a test):
#   - size each image adds over its base (targets: tts-cpu <= 150 MB, agent <= 80 MB; MB = 10^6 bytes)
#   - cold build time (--no-cache: every layer rebuilt, wheels downloaded, apt run; the base image kept)
#   - rebuild time after a one-line source change (target <= 10 s: every dependency layer cached)
#   - time from `docker run` to healthy (the image's own HEALTHCHECK, 5 s interval) and to /ready 200
#
#   scripts/image-figures.sh [--runs N] [--out FILE.json]
#
# The source change is made in a copy of the build context under /var/tmp, never in the work tree.
# Images are tagged vibevoice-{tts,agent}:figures so `make images` output is left alone.
set -euo pipefail

cd "$(dirname "$0")/.."
runs=3 out=""
while (($#)); do
  case $1 in
    --runs) runs=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
  esac
done

base=${BASE_IMAGE:-python:3.12-slim}
docker image inspect "$base" >/dev/null || { echo "image-figures: no $base (make base-image)" >&2; exit 1; }
context=$(mktemp -d /var/tmp/image-figures.XXXXXX)
trap 'rm -rf "$context"' EXIT
git ls-files -z --cached --others --exclude-standard -- pyproject.toml README.md model-constraints.txt scripts src tests 'Dockerfile.*' \
  .dockerignore | xargs -0 cp --parents -t "$context"

now() { date +%s.%N; }
elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$1" "$2"; }
build() { # build NAME FILE TARGET [extra build-image.sh args]: prints seconds
  local name=$1 file=$2 target=$3 start
  shift 3
  start=$(now)
  scripts/build-image.sh --context "$context" --file "$file" --target "$target" \
    --tag "vibevoice-$name:figures" --quiet "$@" >/dev/null
  elapsed "$start" "$(now)"
}
size() { docker image inspect --format '{{.Size}}' "$1"; }

# run_to_healthy NAME PORT ARGS...: "seconds-to-ready seconds-to-healthy" for one fresh container
# (docker run options from the array run_options).
run_to_healthy() {
  local name=$1 port=$2 start id ready="" health="" status
  shift 2
  start=$(now)
  id=$(docker run --detach --read-only --tmpfs /tmp --publish "127.0.0.1::$port" "${run_options[@]}" \
    "vibevoice-$name:figures" "$@")
  local host_port
  host_port=$(docker port "$id" "$port/tcp" | head -n 1 | sed 's/.*://')
  for _ in $(seq 1 1200); do
    if [[ -z $ready ]] && python3 -c "import sys, urllib.request as r; r.build_opener(r.ProxyHandler({})).open(sys.argv[1], timeout=1)" \
      "http://127.0.0.1:$host_port/ready" 2>/dev/null; then
      ready=$(elapsed "$start" "$(now)")
    fi
    status=$(docker inspect --format '{{.State.Health.Status}}' "$id")
    if [[ $status == healthy ]]; then
      health=$(elapsed "$start" "$(now)")
      break
    fi
    sleep 0.1
  done
  docker rm --force "$id" >/dev/null
  echo "${ready:-nan} ${health:-nan}"
}
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }

declare -A cold rebuild added ready healthy
specs=("tts Dockerfile.tts cpu 8000" "agent Dockerfile.agent agent 8080")
echo "image-figures: cold builds (--no-cache)" >&2
for spec in "${specs[@]}"; do
  read -r name file target _ <<<"$spec"
  cold[$name]=$(build "$name" "$file" "$target" --no-cache)
  added[$name]=$(($(size "vibevoice-$name:figures") - $(size "$base")))
done

echo "image-figures: rebuilds after a one-line change to src/vibevoice_platform/__init__.py" >&2
echo "# image-figures: one-line change $(date +%s)" >>"$context/src/vibevoice_platform/__init__.py"
for spec in "${specs[@]}"; do
  read -r name file target _ <<<"$spec"
  rebuild[$name]=$(build "$name" "$file" "$target")
done

echo "image-figures: docker run to healthy, $runs runs each" >&2
for spec in "${specs[@]}"; do
  read -r name _ _ port <<<"$spec"
  args=() run_options=() net=""
  if [[ $name == agent ]]; then # the agent is ready only once its TTS is: give it a healthy one
    net=vibevoice-figures-$$
    docker network create "$net" >/dev/null
    docker run --detach --name "$net-tts" --network "$net" --network-alias tts vibevoice-tts:figures >/dev/null
    until [[ $(docker inspect --format '{{.State.Health.Status}}' "$net-tts") == healthy ]]; do sleep 0.2; done
    args=(--llm scripted --tts-url http://tts:8000) run_options=(--network "$net")
  fi
  ready_runs=() health_runs=()
  for _ in $(seq 1 "$runs"); do
    read -r r h < <(run_to_healthy "$name" "$port" "${args[@]}")
    ready_runs+=("$r") health_runs+=("$h")
  done
  ready[$name]=$(median "${ready_runs[@]}")
  healthy[$name]=$(median "${health_runs[@]}")
  if [[ -n $net ]]; then
    docker rm --force "$net-tts" >/dev/null
    docker network rm "$net" >/dev/null
  fi
done

mb() { python3 -c "import sys; print(f'{int(sys.argv[1]) / 1e6:.1f}')" "$1"; }
base_kind=$(docker image inspect --format '{{ index .Config.Labels "org.vibevoice.standin" }}' "$base")
cat <<TABLE
Image figures ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, base $base${base_kind:+: stand-in, $base_kind})

| image | added over base | target | cold build | rebuild after 1-line change | run to /ready | run to healthy |
|---|---|---|---|---|---|---|
| vibevoice-tts (cpu) | $(mb "${added[tts]}") MB | <= 150 MB | ${cold[tts]} s | ${rebuild[tts]} s | ${ready[tts]} s | ${healthy[tts]} s |
| vibevoice-agent | $(mb "${added[agent]}") MB | <= 80 MB | ${cold[agent]} s | ${rebuild[agent]} s | ${ready[agent]} s | ${healthy[agent]} s |

Run times are medians of $runs runs; "healthy" waits for the image's HEALTHCHECK (first probe after its 5 s interval).
TABLE
if [[ -n $out ]]; then
  python3 - "$out" <<PY
import json, sys
figures = {
    name: {
        "added_bytes": int(added), "cold_build_s": float(cold), "rebuild_s": float(rebuild),
        "run_to_ready_s": float(ready), "run_to_healthy_s": float(healthy),
    }
    for name, added, cold, rebuild, ready, healthy in (
        ("tts", "${added[tts]}", "${cold[tts]}", "${rebuild[tts]}", "${ready[tts]}", "${healthy[tts]}"),
        ("agent", "${added[agent]}", "${cold[agent]}", "${rebuild[agent]}", "${ready[agent]}", "${healthy[agent]}"),
    )
}
json.dump({"base": "$base", "runs": $runs, "images": figures}, open(sys.argv[1], "w"), indent=2)
PY
  echo "image-figures: wrote $out" >&2
fi
