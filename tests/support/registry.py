"""A container registry on loopback for tests: Debian's `docker-registry` (distribution 2.8).

It serves plain HTTP on a free 127.0.0.1 port from a temporary folder and stops with its context.
Registry clients built on go-containerregistry (cosign among them) speak plain HTTP to 127.0.0.1 by
themselves; skopeo is told with `--dest-tls-verify=false`. Images go in with skopeo from a
`docker save` archive or an OCI layout made here (a multi-platform index), so nothing is pulled and
no docker engine is needed.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import socket
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Generator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.processes import free_port, running
from tests.support.tools import require_tool

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
# gzipped: skopeo would compress a plain tar layer on the way, and the index would change digest.
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


@contextmanager
def loopback_registry(storage: Path, users: Mapping[str, str] | None = None) -> Generator[str]:
    """`docker-registry serve` storing its blobs under `storage`; yields its `127.0.0.1:port`.
    With `users` (name: password) it asks for a login (HTTP basic, htpasswd with bcrypt)."""
    registry = require_tool("docker-registry", "apt-get install docker-registry")
    port, debug_port = free_port(), free_port()
    settings: dict[str, Any] = {
        "version": 0.1,
        "log": {"level": "warn", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": str(storage / "data")}},
        "http": {"addr": f"127.0.0.1:{port}", "debug": {"addr": f"127.0.0.1:{debug_port}"}},
    }
    if users:
        settings["auth"] = {
            "htpasswd": {"realm": "tests", "path": str(htpasswd(storage / "htpasswd", users))}
        }
    config = storage / "config.yml"
    config.write_text(json.dumps(settings), encoding="utf-8")  # JSON is YAML
    # Ready: the debug server's health check (/v2/ answers 401 to a registry that wants a login), then
    # the registry's own port, which opens after it.
    with running([registry, "serve", str(config)], port=debug_port, ready_path="/debug/health"):
        _wait_for_listener(port)
        yield f"127.0.0.1:{port}"


def htpasswd(path: Path, users: Mapping[str, str]) -> Path:
    """An htpasswd file of bcrypt hashes (apache2-utils' htpasswd, each password on its stdin)."""
    binary = require_tool("htpasswd", "apt-get install apache2-utils")
    for number, (user, password) in enumerate(users.items()):
        flags = "-iBc" if number == 0 else "-iB"
        subprocess.run(
            [binary, flags, str(path), user], input=password, text=True, capture_output=True, check=True
        )
    return path


def _wait_for_listener(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def push(source: str, reference: str, authfile: Path | None = None) -> str:
    """Copy `source` (`docker-archive:PATH`, `oci:DIR:NAME`) with every platform to `reference`
    (`host:port/name:tag`), logged in with `authfile` (a docker config.json) if given; returns the
    digest of the manifest or index pushed."""
    skopeo = require_tool("skopeo", "apt-get install skopeo")
    with tempfile.TemporaryDirectory() as folder:
        digest_file = Path(folder) / "digest"
        # --insecure-policy: no signature policy file is needed to copy what the test made itself.
        command = [skopeo, "--insecure-policy", "copy", "--quiet", "--all", "--dest-tls-verify=false"]
        command += ["--dest-authfile", str(authfile)] if authfile is not None else []
        command += ["--digestfile", str(digest_file), source, f"docker://{reference}"]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if result.returncode != 0:
            msg = f"skopeo copy to {reference} failed ({result.returncode}): {result.stderr}"
            raise RuntimeError(msg)
        return digest_file.read_text(encoding="utf-8").strip()


def _blob(layout: Path, data: bytes, media_type: str, **extra: Any) -> dict[str, Any]:
    """Store `data` in the layout's blobs; its OCI descriptor."""
    digest = hashlib.sha256(data).hexdigest()
    (layout / "blobs" / "sha256" / digest).write_bytes(data)
    return {"mediaType": media_type, "digest": f"sha256:{digest}", "size": len(data), **extra}


def _json_blob(layout: Path, document: Mapping[str, Any], media_type: str, **extra: Any) -> dict[str, Any]:
    return _blob(layout, json.dumps(document, sort_keys=True).encode(), media_type, **extra)


@dataclass(frozen=True)
class OciIndex:
    """A multi-platform index in an OCI layout: skopeo's source name, its digest, each platform's."""

    source: str
    digest: str
    platforms: dict[str, str]


def oci_index(layout: Path, platforms: Mapping[str, Mapping[str, str]], name: str = "release") -> OciIndex:
    """An OCI layout at `layout` holding one multi-platform index: for each `os/arch`, a one-layer image
    of the given files."""
    (layout / "blobs" / "sha256").mkdir(parents=True)
    manifests: list[dict[str, Any]] = []
    for platform, files in sorted(platforms.items()):
        os_name, architecture = platform.split("/")
        layer = io.BytesIO()
        with tarfile.open(fileobj=layer, mode="w") as archive:
            for path, content in sorted(files.items()):
                data = content.encode()
                info = tarfile.TarInfo(path)
                info.size, info.mode = len(data), 0o644
                archive.addfile(info, io.BytesIO(data))
        layer_bytes = layer.getvalue()
        config = {
            "architecture": architecture,
            "os": os_name,
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [f"sha256:{hashlib.sha256(layer_bytes).hexdigest()}"]},
        }
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": _json_blob(layout, config, OCI_CONFIG),
            "layers": [_blob(layout, gzip.compress(layer_bytes, mtime=0), OCI_LAYER)],
        }
        descriptor = {"os": os_name, "architecture": architecture}
        manifests.append(_json_blob(layout, manifest, OCI_MANIFEST, platform=descriptor))
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": manifests,
    }
    top = _json_blob(layout, index, OCI_INDEX, annotations={"org.opencontainers.image.ref.name": name})
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [top]}), encoding="utf-8")
    (layout / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}), encoding="utf-8")
    by_platform = {
        f"{item['platform']['os']}/{item['platform']['architecture']}": item["digest"] for item in manifests
    }
    return OciIndex(f"oci:{layout}:{name}", top["digest"], by_platform)
