#!/bin/sh
# The start of every service runtime (Dockerfile.tts's cpu and cuda, Dockerfile.agent's agent): the
# unprivileged user the services run as, and the runtime dependencies from the wheels the builder stage
# made, bind-mounted on /mnt (no index: what installs is what was built). numpy's wheel carries its own
# test suite (15 MB) that nothing here runs: dropped in the same layer.
#
#   RUN --mount=type=bind,source=scripts,target=/srv --mount=type=bind,from=builder,source=/wheels,target=/mnt \
#       sh /srv/install-runtime.sh
set -eu

groupadd --gid 10001 vibevoice
useradd --uid 10001 --gid 10001 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin vibevoice
pip install --no-cache-dir --no-index --find-links /mnt /mnt/*.whl
numpy_dir=$(python3 -c 'import os, numpy; print(os.path.dirname(numpy.__file__))')
find "$numpy_dir" -depth -type d -name tests -exec rm -rf {} +
