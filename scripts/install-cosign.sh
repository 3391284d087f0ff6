#!/usr/bin/env bash
# Install cosign into .tools/bin from the Go module proxy, at the version of the pipeline's cosign
# image (the FROM line of ci/images/cosign/Dockerfile), so the tests sign and verify with the cosign
# the pipeline runs. Nothing to do when that version is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

dockerfile=ci/images/cosign/Dockerfile
version=$(sed -nE 's|^FROM [^ ]*/cosign:(v[0-9]+\.[0-9]+\.[0-9]+)@sha256:.*|\1|p' "$dockerfile")
if [[ -z $version ]]; then
  echo "install-cosign: no cosign:vX.Y.Z@sha256:... FROM line in $dockerfile" >&2
  exit 1
fi
bin_dir=$PWD/.tools/bin
if [[ -x $bin_dir/cosign ]] && "$bin_dir/cosign" version --json 2>/dev/null | grep -q "\"gitVersion\": \"$version\""; then
  exit 0
fi

major=${version%%.*}
module=github.com/sigstore/cosign
[[ $major == v0 || $major == v1 ]] || module+=/$major
command -v go >/dev/null || PATH=/usr/local/go/bin:$PATH
echo "install-cosign: go install $module/cmd/cosign@$version (a few minutes on 2 cores)" >&2
mkdir -p "$bin_dir"
rm -f "$bin_dir/cosign"  # go install overwrites only a Go binary
# -modcacherw: a module cache that `go clean -modcache` or rm can remove.
GOBIN=$bin_dir GOFLAGS="-buildvcs=false -modcacherw" go install "$module/cmd/cosign@$version"
"$bin_dir/cosign" version --json | grep -q "\"gitVersion\": \"$version\""
