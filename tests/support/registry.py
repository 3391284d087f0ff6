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
import subprocess
import tarfile
import tempfile
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
def loopback_registry(storage: Path) -> Generator[str]:
    """`docker-registry serve` storing its blobs under `storage`; yields its `127.0.0.1:port`."""
    registry = require_tool("docker-registry", "apt-get install docker-registry")
    port = free_port()
    config = storage / "config.yml"
    settings = {
        "version": 0.1,
        "log": {"level": "warn", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": str(storage / "data")}},
        "http": {"addr": f"127.0.0.1:{port}"},
    }
    config.write_text(json.dumps(settings), encoding="utf-8")  # JSON is YAML
    with running([registry, "serve", str(config)], port=port, ready_path="/v2/"):
        yield f"127.0.0.1:{port}"


def push(source: str, reference: str) -> str:
    """Copy `source` (`docker-archive:PATH`, `oci:DIR:NAME`) with every platform to `reference`
    (`host:port/name:tag`); returns the digest of the manifest or index pushed."""
    skopeo = require_tool("skopeo", "apt-get install skopeo")
    with tempfile.TemporaryDirectory() as folder:
        digest_file = Path(folder) / "digest"
        # --insecure-policy: no signature policy file is needed to copy what the test made itself.
        command = [skopeo, "--insecure-policy", "copy", "--quiet", "--all", "--dest-tls-verify=false"]
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
