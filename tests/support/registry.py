"""A container registry on loopback for tests: Debian's `docker-registry` (distribution 2.8).

It serves plain HTTP on a free 127.0.0.1 port from a temporary folder and stops with its context.
Registry clients built on go-containerregistry (cosign among them) speak plain HTTP to 127.0.0.1 by
themselves; skopeo is told with `--dest-tls-verify=false`. Images go in with skopeo from a
`docker save` archive, so nothing is pulled and no docker engine is needed.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Generator
from contextlib import contextmanager
from pathlib import Path

from tests.support.processes import free_port, running
from tests.support.tools import require_tool


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


def push(archive: Path, reference: str) -> str:
    """Push a `docker save` archive to `reference` (`host:port/name:tag`); returns its manifest digest."""
    skopeo = require_tool("skopeo", "apt-get install skopeo")
    digest_file = archive.with_suffix(".digest")
    # --insecure-policy: no signature policy file is needed to copy an archive made by the test itself.
    command = [skopeo, "--insecure-policy", "copy", "--quiet", "--dest-tls-verify=false"]
    command += ["--digestfile", str(digest_file), f"docker-archive:{archive}", f"docker://{reference}"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        msg = f"skopeo copy to {reference} failed ({result.returncode}): {result.stderr}"
        raise RuntimeError(msg)
    return digest_file.read_text(encoding="utf-8").strip()
