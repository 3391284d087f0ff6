#!/usr/bin/env bash
# Install the chart's checkers into .tools/bin, at pinned versions, from the registries this project
# reaches: kube-score and promtool from the Go module proxy (built here), checkov from PyPI into a venv of
# its own (.tools/checkov: its pins would clash with the dev extra's). A checker already there at its
# version is left alone. tests/chart/test_checkers.py and test_alerts.py run them (required under CI=true).
set -euo pipefail
cd "$(dirname "$0")/.."

KUBE_SCORE_VERSION=v1.20.0
# Prometheus's Go module versions v0.X.Y are its releases v3.X.Y.
PROMETHEUS_MODULE_VERSION=v0.316.0
CHECKOV_VERSION=3.3.30

bin_dir=$PWD/.tools/bin
mkdir -p "$bin_dir"
command -v go >/dev/null || PATH=/usr/local/go/bin:$PATH

go_tool() {  # go_tool NAME MODULE PACKAGE VERSION [TAGS]: build MODULE/PACKAGE@VERSION into .tools/bin/NAME
  local name=$1 module=$2 package=$3 version=$4 tags=${5:-}
  # The binary's build information names its module's version: nothing to do when it is this one.
  if [[ -x $bin_dir/$name ]] && go version -m "$bin_dir/$name" | grep -qE "^[[:space:]]+mod[[:space:]]+${module}[[:space:]]+${version}([[:space:]]|$)"; then
    return
  fi
  echo "install-chart-checkers: go install $module/$package@$version (minutes on 2 cores)" >&2
  # -modcacherw: a module cache that `go clean -modcache` or rm can remove.
  GOBIN=$bin_dir GOFLAGS="-buildvcs=false -modcacherw" go install ${tags:+-tags="$tags"} "$module/$package@$version"
}

go_tool kube-score github.com/zegl/kube-score cmd/kube-score "$KUBE_SCORE_VERSION"
# remove_all_sd leaves out Prometheus's service discovery plugins (the cloud SDKs, most of its build
# time): promtool checks and unit-tests rules without them.
go_tool promtool github.com/prometheus/prometheus cmd/promtool "$PROMETHEUS_MODULE_VERSION" remove_all_sd

checkov_venv=$PWD/.tools/checkov
if ! { [[ -x $checkov_venv/bin/checkov ]] && [[ $("$checkov_venv/bin/checkov" --version) == "$CHECKOV_VERSION" ]]; }; then
  echo "install-chart-checkers: checkov $CHECKOV_VERSION into $checkov_venv" >&2
  rm -rf "$checkov_venv"
  python3 -m venv "$checkov_venv"
  "$checkov_venv/bin/pip" install --quiet "checkov==$CHECKOV_VERSION"
fi
ln -sf "$checkov_venv/bin/checkov" "$bin_dir/checkov"
