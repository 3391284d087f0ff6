#!/usr/bin/env bash
# Let this machine run arm64 binaries under qemu (for building and running linux/arm64 images).
# Needs root and Debian's qemu-user-static and binfmt-support; idempotent.
set -euo pipefail

arch=${1:-aarch64}
entry=/proc/sys/fs/binfmt_misc/qemu-$arch

command -v update-binfmts >/dev/null || { echo "enable-binfmt: apt-get install binfmt-support qemu-user-static" >&2; exit 1; }
if [[ ! -e /proc/sys/fs/binfmt_misc/register ]]; then
  mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
fi
if [[ ! -e $entry ]] || ! grep -qx enabled "$entry"; then
  update-binfmts --enable "qemu-$arch"
fi
# F (fix binary): the kernel opens the interpreter now, so it works inside containers and chroots.
if ! grep -qx enabled "$entry" || ! grep -q '^flags: .*F' "$entry"; then
  echo "enable-binfmt: $entry is not enabled with the F flag:" >&2
  cat "$entry" >&2 || true
  exit 1
fi
echo "enable-binfmt: qemu-$arch enabled" >&2
