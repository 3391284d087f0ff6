#!/usr/bin/env bash
# Build one target of one of our Dockerfiles with BuildKit, labelled from git, the way `make images` does.
#
#   scripts/build-image.sh --file Dockerfile.tts --target cpu --tag vibevoice-tts:dev \
#       [--platform linux/arm64] [--base IMAGE] [--build-arg K=V]... [--context DIR] [--no-cache] [--quiet]
#
# BuildKit is required: it skips stages the target does not need (the cuda stage cannot be built
# offline) and gives RUN --mount (wheels bind-mounted from the builder, the CA as a secret). The script
# picks a client that has it: one with the buildx plugin, or a pre-23 client (Debian 12's docker.io)
# that has BuildKit built in. Never --pull: base images come from the local engine when no registry
# answers (scripts/base-image.sh).
#
# Labels: VERSION from pyproject.toml, REVISION the commit (with -dirty for uncommitted changes),
# CREATED the commit time (so an unchanged tree rebuilds from cache), SOURCE the origin remote.
# The CA bundle ${PIP_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}, when present, is handed to pip as
# the build secret pip_ca; it never enters a layer.
set -euo pipefail

cd "$(dirname "$0")/.."
file="" target="" tag="" platform="" base="" quiet=0 context=. no_cache=0
build_args=()

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}
while (($#)); do
  case $1 in
    --file) file=$2; shift 2 ;;
    --target) target=$2; shift 2 ;;
    --tag) tag=$2; shift 2 ;;
    --platform) platform=$2; shift 2 ;;
    --base) base=$2; shift 2 ;;
    --build-arg) build_args+=(--build-arg "$2"); shift 2 ;;
    --context) context=$2; shift 2 ;;
    --no-cache) no_cache=1; shift ;;
    --quiet) quiet=1; shift ;;
    -h | --help) usage ;;
    *) echo "build-image: unknown argument $1" >&2; usage ;;
  esac
done
[[ -n $file && -n $target && -n $tag ]] || usage
[[ -f $context/$file ]] || { echo "build-image: no such Dockerfile: $context/$file" >&2; exit 2; }

# A docker client that builds with BuildKit: prints the command words to use.
buildkit_client() {
  local candidate major
  for candidate in docker /usr/bin/docker /usr/local/bin/docker; do
    command -v "$candidate" >/dev/null || continue
    if "$candidate" buildx version >/dev/null 2>&1; then
      echo "$candidate buildx build --load"
      return
    fi
    major=$("$candidate" version --format '{{.Client.Version}}' 2>/dev/null | cut -d. -f1 || true)
    if [[ $major =~ ^[0-9]+$ ]] && ((major < 23)); then
      echo "$candidate build"
      return
    fi
  done
  echo "build-image: no docker client with BuildKit (install docker-buildx, or Debian 12's docker.io)" >&2
  return 1
}

version=$(python3 -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')
revision=unknown created="" source=""
if git rev-parse --git-dir >/dev/null 2>&1; then
  revision=$(git rev-parse HEAD)
  [[ -z $(git status --porcelain --untracked-files=no) ]] || revision+=-dirty
  created=$(git show -s --format=%cI HEAD)
  source=$(git remote get-url origin 2>/dev/null || true)
fi
build_args+=(--build-arg "VERSION=$version" --build-arg "REVISION=$revision"
  --build-arg "CREATED=$created" --build-arg "SOURCE=$source")
[[ -z $base ]] || build_args+=(--build-arg "BASE_IMAGE=$base")

ca=${PIP_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
secret=()
[[ ! -s $ca ]] || secret=(--secret "id=pip_ca,src=$ca")

read -r -a client <<<"$(buildkit_client)"
command=("${client[@]}" --file "$context/$file" --target "$target" --tag "$tag" "${build_args[@]}" "${secret[@]}")
[[ -z $platform ]] || command+=(--platform "$platform")
((no_cache)) && command+=(--no-cache)
((quiet)) && command+=(--quiet) || command+=(--progress plain)
echo "build-image: ${command[*]} $context" >&2
DOCKER_BUILDKIT=1 "${command[@]}" "$context"
