"""Test support for the supply-chain tests: an OSV API on loopback, image archives and wheels made here.

The OSV fake is a real HTTP server (Starlette under uvicorn in a thread) answering the two endpoints
pip-audit and the gate use, `POST /v1/query` and `GET /v1/vulns/{id}`, from advisory files written
for these tests. The image archive is a real `docker save` archive (manifest, config, one layer) that
trivy reads like any saved image; the wheels are real, minimal wheels that uv and pip resolve from a
local folder.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
import zipfile
from collections.abc import Generator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from packaging.version import Version
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.threaded_server import serve_in_thread

FIXTURES = Path(__file__).with_name("fixtures")
ADVISORIES = FIXTURES / "osv"
# The two Jinja2 advisories, as OSV serves them: HIGH (CVSS 3.0, 8.6) and MODERATE (CVSS 3.1, 5.3).
JINJA2_HIGH = "GHSA-462w-v97r-4m45"
JINJA2_MODERATE = "GHSA-g3rq-g295-4j3m"


def advisories() -> dict[str, dict[str, Any]]:
    """Every advisory file, by id."""
    return {path.stem: json.loads(path.read_text(encoding="utf-8")) for path in ADVISORIES.glob("*.json")}


def _affects(advisory: Mapping[str, Any], name: str, version: str) -> bool:
    """Whether `version` of `name` is in an ECOSYSTEM range of the advisory (introduced 0, fixed X)."""
    for affected in advisory["affected"]:
        if affected["package"]["name"].lower() != name.lower():
            continue
        for ranges in affected["ranges"]:
            fixed = [event["fixed"] for event in ranges["events"] if "fixed" in event]
            if fixed and Version(version) < Version(fixed[0]):
                return True
    return False


@contextmanager
def osv_server(records: Mapping[str, dict[str, Any]] | None = None) -> Generator[str]:
    """An OSV API on loopback serving `records` (default: the fixture advisories); yields its base URL."""
    served = dict(advisories() if records is None else records)
    by_alias = {alias: record for record in served.values() for alias in record.get("aliases", [])}

    async def query(request: Request) -> Response:
        body = await request.json()
        package, version = body["package"], body["version"]
        if package.get("ecosystem") != "PyPI":
            return JSONResponse({})
        vulns = [record for record in served.values() if _affects(record, package["name"], version)]
        return JSONResponse({"vulns": vulns} if vulns else {})

    async def vuln(request: Request) -> Response:
        wanted = request.path_params["vuln_id"]
        record = served.get(wanted) or by_alias.get(wanted)
        if record is None:
            return JSONResponse({"code": 5, "message": "Bug not found."}, status_code=404)
        return JSONResponse(record)

    app = Starlette(
        routes=[
            Route("/v1/query", query, methods=["POST"]),
            Route("/v1/vulns/{vuln_id}", vuln, methods=["GET"]),
        ]
    )
    with serve_in_thread(app) as url:
        yield url


def wheel(folder: Path, name: str, version: str, requires: Sequence[str] = ()) -> Path:
    """A minimal, valid pure-Python wheel of `name` `version` in `folder`."""
    dist_info = f"{name}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    metadata += "".join(f"Requires-Dist: {requirement}\n" for requirement in requires)
    files = {
        f"{name}/__init__.py": "",
        f"{dist_info}/METADATA": metadata,
        f"{dist_info}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = ""
    for path, content in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(content.encode()).digest()).rstrip(b"=").decode()
        record += f"{path},sha256={digest},{len(content)}\n"
    files[f"{dist_info}/RECORD"] = record + f"{dist_info}/RECORD,,\n"
    target = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(target, "w") as archive:
        for path, content in files.items():
            archive.writestr(path, content)
    return target


def _add(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o644, 0
    archive.addfile(info, io.BytesIO(data))


def image_archive(path: Path, files: Mapping[str, str], tag: str = "example/fixture:1") -> Path:
    """A `docker save` archive of a one-layer linux/amd64 image holding `files`."""
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as archive:
        for name, content in files.items():
            _add(archive, name, content.encode())
    layer_bytes = layer.getvalue()
    diff_id = "sha256:" + hashlib.sha256(layer_bytes).hexdigest()
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
            "history": [{"created_by": "tests"}],
        }
    ).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    manifest = json.dumps([{"Config": config_name, "RepoTags": [tag], "Layers": ["layer.tar"]}]).encode()
    with tarfile.open(path, "w") as archive:
        _add(archive, "manifest.json", manifest)
        _add(archive, config_name, config)
        _add(archive, "layer.tar", layer_bytes)
    return path


# A Debian 12 root with one package, Jinja2 2.10 installed for Python 3.12, and a leaked AWS key id.
DEBIAN_WITH_JINJA2 = {
    "etc/os-release": 'NAME="Debian GNU/Linux"\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\nID=debian\n',
    "etc/debian_version": "12.15\n",
    "var/lib/dpkg/status": (
        "Package: zlib1g\nStatus: install ok installed\nArchitecture: amd64\nSource: zlib\n"
        "Version: 1:1.2.13.dfsg-1\nDescription: compression library - runtime\n\n"
    ),
    "usr/local/lib/python3.12/site-packages/jinja2-2.10.dist-info/METADATA": (
        "Metadata-Version: 2.1\nName: Jinja2\nVersion: 2.10\n"
    ),
}
LEAKED_KEY = {"app/settings.py": 'AWS_ACCESS_KEY_ID = "AKIA2E0A8F3B244C9986"\n'}
