"""Air-gapped mode: --mirror and --image move every image the module pulls, digests kept by default.

The redirects are pure (mirrors.py); here they are checked alone, then in the queries the module
builds: a tool image pulled from the mirror, the Dockerfiles' base images as build arguments, a
stand-in replacing a pin whole, and every concern handed the same redirects.
"""

# The tests read the redirects main hands its concerns.
# pyright: reportPrivateUsage=false

from __future__ import annotations

import re
from pathlib import Path

import pytest
from dagger import dag
from dagger_query import only
from vibevoice_ci import mirrors
from vibevoice_ci.images import TOOLS, parse_pin
from vibevoice_ci.main import Vibevoice
from vibevoice_ci.mirrors import Redirects

ROOT = Path(__file__).resolve().parents[2]
DIGEST = "sha256:" + "a" * 64
SOURCE = dag.directory().with_new_file("marker", "the repository")


@pytest.mark.parametrize(
    ("pinned", "expected"),
    [
        (f"python:3.12-slim@{DIGEST}", f"reg.corp:5000/hub/library/python:3.12-slim@{DIGEST}"),
        (f"aquasec/trivy:0.74.0@{DIGEST}", f"reg.corp:5000/hub/aquasec/trivy:0.74.0@{DIGEST}"),
        (f"ghcr.io/astral-sh/uv:0.9.26@{DIGEST}", f"reg.corp:5000/ghcr/astral-sh/uv:0.9.26@{DIGEST}"),
        (f"gcr.io/projectsigstore/cosign:v3.0.6@{DIGEST}", f"gcr.io/projectsigstore/cosign:v3.0.6@{DIGEST}"),
    ],
)
def test_a_mirror_moves_its_registrys_images_and_keeps_path_tag_and_digest(
    pinned: str, expected: str
) -> None:
    redirects = Redirects.parse(["docker.io=reg.corp:5000/hub", "ghcr.io=reg.corp:5000/ghcr"])
    assert redirects.reference("trivy", pinned) == expected  # gcr.io has no mirror: as pinned


def test_an_override_replaces_one_image_whole_and_wins_over_the_mirror() -> None:
    redirects = Redirects.parse(["docker.io=localhost:5000"], ["python=localhost:5000/python:stand-in"])
    assert redirects.reference("python", f"python:3.12-slim@{DIGEST}") == "localhost:5000/python:stand-in"
    assert (
        redirects.reference("registry", f"registry:2@{DIGEST}")
        == f"localhost:5000/library/registry:2@{DIGEST}"
    )


def test_no_redirects_pull_every_image_as_pinned() -> None:
    assert Redirects().reference("python", f"python:3.12-slim@{DIGEST}") == f"python:3.12-slim@{DIGEST}"
    assert Redirects().build_args() == {}


def test_the_dockerfiles_bases_reach_the_builds_as_build_arguments() -> None:
    redirects = Redirects.parse(["docker.io=localhost:5000"], ["cuda-base=localhost:5000/cuda:stand-in"])
    assert redirects.build_args() == {
        "BASE_IMAGE": "localhost:5000/library/python:3.12-slim",
        "CUDA_IMAGE": "localhost:5000/cuda:stand-in",
    }


def test_a_download_reaches_the_builds_as_its_build_argument() -> None:
    # Found on an offline engine: the model tests' stage could not reach PyTorch's CPU index, and
    # nothing but editing the Dockerfile could point it at a mirror.
    redirects = Redirects.parse(downloads=["torch-index=http://localhost:3141/simple"])
    assert redirects.build_args() == {"TORCH_INDEX_URL": "http://localhost:3141/simple"}
    pipeline = Vibevoice(source=SOURCE, download=["torch-index=http://localhost:3141/simple"])
    build = only(pipeline.suite().model_tests(), "dockerBuild")
    assert {"name": "TORCH_INDEX_URL", "value": "http://localhost:3141/simple"} in build["buildArgs"]


def test_each_download_is_a_build_argument_of_the_tts_dockerfile() -> None:
    text = (ROOT / "Dockerfile.tts").read_text(encoding="utf-8")
    for argument in mirrors.DOWNLOADS.values():
        assert re.search(rf"^ARG {argument}=\S+$", text, re.MULTILINE), argument


def test_the_bases_defaults_are_the_dockerfiles() -> None:
    for argument, default in mirrors.BASES.values():
        for dockerfile in ("Dockerfile.tts", "Dockerfile.agent"):
            text = (ROOT / dockerfile).read_text(encoding="utf-8")
            found = re.findall(rf"^ARG {argument}=(\S+)$", text, re.MULTILINE)
            assert found in ([], [default]), (dockerfile, argument)
    assert set(mirrors.NAMES) == {*TOOLS, "base", "cuda-base"}


def test_encoding_for_the_concerns_loses_nothing() -> None:
    redirects = Redirects.parse(
        ["docker.io=localhost:5000"], ["helm=localhost:5000/helm:x"], ["vibevoice-source=http://h/v.tar.gz"]
    )
    assert Redirects.decode(redirects.encode()) == redirects


@pytest.mark.parametrize(
    ("mirror", "image", "download", "message"),
    [
        (["docker.io"], [], [], "expected HOST=PREFIX"),
        (["docker.io=https://reg"], [], [], "a registry host and a registry"),
        ([], ["kubectl=reg/kubectl:1"], [], "no such image; choose one of"),
        ([], ["python=Not A Reference"], [], "not an image reference"),
        ([], ["python="], [], "expected NAME=REFERENCE"),
        ([], [], ["pip=http://reg/simple"], "no such download; choose one of"),
        ([], [], ["torch-index=ftp://reg/simple"], "not an http"),
    ],
)
def test_malformed_redirects_are_refused_naming_the_flag(
    mirror: list[str], image: list[str], download: list[str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Redirects.parse(mirror, image, download)
    with pytest.raises(ValueError, match=message):  # before anything is built
        Vibevoice(source=SOURCE, mirror=mirror, image=image, download=download).build(service="tts")


def test_the_module_builds_from_the_mirror_and_hands_every_concern_the_same_redirects() -> None:
    pipeline = Vibevoice(source=SOURCE, mirror=["docker.io=localhost:5000"], image=["uv=localhost:5000/uv:x"])
    build = only(pipeline.build(service="tts"), "dockerBuild")
    assert {"name": "BASE_IMAGE", "value": "localhost:5000/library/python:3.12-slim"} in build["buildArgs"]
    expected = ["docker.io=localhost:5000", "uv=localhost:5000/uv:x"]
    concerns = [
        pipeline.services(),
        pipeline.supply_chain(),
        pipeline.chart(),
        pipeline.benchmark(),
        pipeline.suite(),
        pipeline.image_checks(),
        pipeline.pip_cache(),
        pipeline.gpu(),
        pipeline.release(),
    ]
    assert all(list(concern.redirects) == expected for concern in concerns)
    # and each concern's own images follow them
    images = pipeline.image_checks()._images()
    assert all(
        {"name": "BASE_IMAGE", "value": "localhost:5000/library/python:3.12-slim"}
        in only(image, "dockerBuild")["buildArgs"]
        for image in images.values()
    )


def test_a_tool_image_is_pulled_from_the_mirror_but_keeps_its_pin() -> None:
    pin = parse_pin("python", f"FROM python:3.12-slim@{DIGEST}\n")
    moved = Redirects.parse(["docker.io=localhost:5000"]).pin(pin)
    assert moved.reference == f"localhost:5000/library/python:3.12-slim@{DIGEST}"
    assert (moved.pinned, moved.digest) == (pin.pinned, DIGEST)  # what the provenance names
    assert Redirects().pin(pin) == pin


def test_the_checks_ask_the_advisory_mirrors_given_to_the_module() -> None:
    # Found on an offline engine: `dagger check` passes no arguments, so the audit asked the public
    # OSV API and the scan the default Trivy database, and neither check could pass behind a firewall.
    pipeline = Vibevoice(source=SOURCE, osv_url="http://osv.corp", trivy_db_repository="reg.corp/trivy-db")
    supply_chain = pipeline.supply_chain()
    assert (supply_chain.osv_url, supply_chain.db_repository) == ("http://osv.corp", "reg.corp/trivy-db")
    defaults = Vibevoice(source=SOURCE).supply_chain()
    assert (defaults.osv_url, defaults.db_repository) == ("https://api.osv.dev", "")
