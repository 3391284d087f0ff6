#!/usr/bin/env python3
"""Wrap a root filesystem tarball into a one-layer image archive that `docker load` reads.

`docker import` always records the engine's own architecture, so an arm64 stand-in base built on an
amd64 machine would be mislabelled; writing the archive ourselves lets the config say what the
filesystem really is. The archive (manifest.json, the config, one uncompressed layer) goes to stdout:

    scripts/docker-archive.py --rootfs rootfs.tar --arch arm64 --tag base:arm64 --env LANG=C.UTF-8 \
        --label org.example=1 --cmd python3 | docker load
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
import tarfile
import time
from pathlib import Path

CHUNK = 1 << 20


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def pairs(items: list[str], what: str) -> dict[str, str]:
    """KEY=VALUE strings as a dict; a missing '=' is a usage error."""
    result: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"docker-archive: {what} must be KEY=VALUE, got {item!r}")
        result[key] = value
    return result


def image_config(args: argparse.Namespace, diff_id: str) -> dict[str, object]:
    """The image config: platform, runtime defaults and the single layer."""
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    env = [f"{key}={value}" for key, value in pairs(args.env, "--env").items()]
    platform: dict[str, object] = {"architecture": args.arch, "os": "linux"}
    if args.variant:
        platform["variant"] = args.variant
    return {
        **platform,
        "created": created,
        "config": {"Env": env, "Cmd": args.cmd, "Labels": pairs(args.label, "--label")},
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{diff_id}"]},
        "history": [{"created": created, "created_by": "debootstrap (scripts/base-image.sh)"}],
    }


def add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    """Add an in-memory file to the archive."""
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(time.time())
    archive.addfile(info, io.BytesIO(data))


def main() -> int:
    """Write the image archive to stdout."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rootfs", type=Path, required=True, help="uncompressed tar of the root filesystem")
    parser.add_argument("--arch", required=True, help="image architecture: amd64, arm64, ...")
    parser.add_argument("--variant", default="", help="architecture variant (v8 for arm64)")
    parser.add_argument("--tag", action="append", required=True, help="repository:tag (repeatable)")
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE (repeatable)")
    parser.add_argument("--label", action="append", default=[], help="KEY=VALUE (repeatable)")
    parser.add_argument("--cmd", nargs="+", default=["/bin/sh"], help="default command")
    args = parser.parse_args()
    if not args.rootfs.is_file():
        parser.error(f"--rootfs {args.rootfs}: no such file")
    if sys.stdout.isatty():
        parser.error("the archive is binary: pipe it into `docker load`")

    diff_id = sha256_of(args.rootfs)
    config = json.dumps(image_config(args, diff_id), sort_keys=True).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    layer_name = f"{diff_id}/layer.tar"
    manifest = [{"Config": config_name, "RepoTags": args.tag, "Layers": [layer_name]}]

    with tarfile.open(fileobj=sys.stdout.buffer, mode="w|") as archive:
        add_bytes(archive, config_name, config)
        archive.add(args.rootfs, arcname=layer_name)
        add_bytes(archive, "manifest.json", json.dumps(manifest).encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
