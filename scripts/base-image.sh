#!/usr/bin/env bash
# Make sure a base image for our Dockerfiles exists in the local engine (the air-gapped mode).
#
#   scripts/base-image.sh                 python:3.12-slim for this machine's architecture
#   scripts/base-image.sh --arch arm64    an arm64 stand-in, tagged vibevoice-python-standin:arm64
#
# amd64: an image already present is used as it is; otherwise `docker pull` is tried, and only when the
# registry cannot be reached is a stand-in built: a debootstrap (minbase) of the host's own Debian suite
# with a CPython 3.12 of this machine copied into /usr/local (pyenv's, by default), the runtime
# libraries that CPython links against, and the machine's CA bundle so pip can reach the package index
# through the TLS-intercepting proxy. It is tagged python:3.12-slim, so the Dockerfiles stay unchanged.
#
# arm64: no arm64 CPython exists on an amd64 machine, so the stand-in is a debootstrap of the same suite
# for arm64 with Debian's own python3 and pip (run under qemu-user-static; binfmt must be enabled, see
# scripts/enable-binfmt.sh). It is never given an official name.
#
# Either is built once and reused (delete the image to rebuild it). Needs root, debootstrap, docker.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
arch=$(dpkg --print-architecture)
tag=""
python_prefix=${STANDIN_PYTHON:-}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
pull_timeout_s=${PULL_TIMEOUT_S:-60}
standin_label=org.vibevoice.standin

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}

while (($#)); do
  case $1 in
    --arch) arch=$2; shift 2 ;;
    --tag) tag=$2; shift 2 ;;
    --python) python_prefix=$2; shift 2 ;;
    -h | --help) usage ;;
    *) echo "base-image: unknown argument $1" >&2; usage ;;
  esac
done

host_arch=$(dpkg --print-architecture)
if [[ $arch == "$host_arch" ]]; then
  tag=${tag:-python:3.12-slim}
else
  tag=${tag:-vibevoice-python-standin:$arch}
fi
suite=${DEBIAN_SUITE:-$(sed -n "s/^VERSION_CODENAME=//p" /etc/os-release)}

log() { echo "base-image: $*" >&2; }
die() { log "$*"; exit 1; }

if docker image inspect "$tag" >/dev/null 2>&1; then
  kind=$(docker image inspect --format "{{ index .Config.Labels \"$standin_label\" }}" "$tag")
  log "$tag present${kind:+ (stand-in: $kind)}; reusing it"
  exit 0
fi
if [[ $arch == "$host_arch" && $tag == python:* ]]; then
  if timeout "$pull_timeout_s" docker pull "$tag" >/dev/null 2>&1; then
    log "pulled $tag from the registry"
    exit 0
  fi
  log "cannot pull $tag: building an offline stand-in from Debian $suite"
fi

command -v debootstrap >/dev/null || die "debootstrap not found (apt-get install debootstrap)"
((EUID == 0)) || die "debootstrap needs root"

work=$(mktemp -d /var/tmp/base-image.XXXXXX)
trap 'rm -rf "$work"' EXIT
root=$work/rootfs
mkdir -p "$root"

# The Debian packages that own the shared libraries a CPython tree links against (tkinter excluded).
runtime_packages() {
  local prefix=$1
  local file
  find "$prefix/bin" "$prefix/lib" -maxdepth 3 -type f \( -name 'python3.*' -o -name '*.so*' \) ! -name '_tkinter*' |
    while read -r file; do ldd "$file" 2>/dev/null || true; done |
    awk '/=> \//{print $3}' | sort -u | grep -v "^$prefix" |
    xargs -r readlink -f | sort -u |
    while read -r lib; do
      dpkg -S "$lib" 2>/dev/null || dpkg -S "${lib#/usr}" 2>/dev/null ||
        die "no Debian package owns $lib (needed by $prefix)"
    done | cut -d: -f1 | sort -u | grep -vx libc6 | paste -sd, -
}

# Copy a CPython prefix into <root>/usr/local, without what a slim image leaves out, and point its
# scripts' shebangs at the new place.
install_python() {
  local prefix=$1 dest=$root/usr/local
  tar -C "$prefix" \
    --exclude='lib/python3.*/test' --exclude='lib/python3.*/idlelib' \
    --exclude='lib/python3.*/tkinter' --exclude='lib/python3.*/turtledemo' \
    --exclude='lib/python3.*/lib-dynload/_tkinter*' --exclude='lib/python3.*/config-*/*.a' \
    --exclude='lib/*.a' --exclude='*/__pycache__/*.opt-?.pyc' \
    -cf - bin include lib | tar -C "$dest" -xf -
  grep -rlI --null "^#!$prefix/bin/" "$dest/bin" | xargs -0 -r sed -i "1s|^#!$prefix/bin/|#!/usr/local/bin/|"
  chroot "$root" ldconfig
  chroot "$root" /usr/local/bin/python3 -c 'import ssl, sqlite3, ctypes, lzma, bz2, zlib, readline, uuid'
  chroot "$root" /usr/local/bin/pip --version >/dev/null
}

env_args=(--env LANG=C.UTF-8)
if [[ $arch == "$host_arch" ]]; then
  if [[ -z $python_prefix ]]; then
    python_prefix=$(find /root/.pyenv/versions -maxdepth 1 -name '3.12.*' 2>/dev/null | sort -V | tail -n 1 || true)
  fi
  [[ -n $python_prefix && -x $python_prefix/bin/python3 ]] ||
    die "no CPython 3.12 on this machine (looked in /root/.pyenv/versions/3.12.*; set STANDIN_PYTHON=PREFIX)"
  version=$("$python_prefix/bin/python3" -c 'import platform; print(platform.python_version())')
  [[ $version == 3.12.* ]] || die "$python_prefix is CPython $version, not 3.12"
  packages=ca-certificates,netbase,tzdata,$(runtime_packages "$python_prefix")
  log "debootstrap $suite ($arch) with $packages"
  debootstrap --variant=minbase --include="$packages" "$suite" "$root" "$mirror" >"$work/debootstrap.log" 2>&1 ||
    die "debootstrap failed: $(tail -n 5 "$work/debootstrap.log")"
  install_python "$python_prefix"
  env_args+=(--env PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin --env "PYTHON_VERSION=$version")
  cmd=(python3)
  kind="$suite + CPython $version from $python_prefix"
else
  [[ -e /proc/sys/fs/binfmt_misc/qemu-${arch/arm64/aarch64} ]] ||
    die "binfmt for $arch is not enabled (scripts/enable-binfmt.sh)"
  packages=ca-certificates,netbase,tzdata,python3,python3-pip,python-is-python3
  log "debootstrap $suite ($arch, under emulation) with $packages"
  debootstrap --arch="$arch" --variant=minbase --include="$packages" "$suite" "$root" "$mirror" \
    >"$work/debootstrap.log" 2>&1 || die "debootstrap failed: $(tail -n 5 "$work/debootstrap.log")"
  # Like the python images: pip installs into the system interpreter without complaint.
  rm -f "$root"/usr/lib/python3*/EXTERNALLY-MANAGED
  version=$(chroot "$root" python3 -c 'import platform; print(platform.python_version())')
  env_args+=(--env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)
  cmd=(python3)
  kind="$suite ($arch) + Debian python $version"
fi

# The machine's CA bundle (it holds the proxy's CA) replaces Debian's; it is public, not a secret.
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
rm -rf "${root:?}"/var/lib/apt/lists/* "${root:?}"/var/cache/apt/*.bin "${root:?}"/var/cache/apt/archives/*.deb \
  "${root:?}"/usr/share/man/* "${root:?}"/usr/share/info/* "${root:?}"/var/log/*.log \
  "${root:?}"/dev/* "${root:?}"/proc/* "${root:?}"/sys/*

tar -C "$root" --numeric-owner --xattrs -cf "$work/rootfs.tar" .
variant=()
[[ $arch == arm64 ]] && variant=(--variant v8)
python3 "$here/docker-archive.py" --rootfs "$work/rootfs.tar" --arch "$arch" "${variant[@]}" --tag "$tag" \
  "${env_args[@]}" --label "$standin_label=$kind" --cmd "${cmd[@]}" | docker load >/dev/null
log "built $tag: $kind ($(docker image inspect --format '{{.Size}}' "$tag" | numfmt --to=si)B)"
