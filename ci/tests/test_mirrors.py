"""Air-gapped mode's redirects (vibevoice_ci.core.redirects): mirrors and overrides move images, digests kept
by default; downloads reach the builds as build arguments; the bases agree with the Dockerfiles.

That every function follows them is test_invariants' (no image or download from upstream).
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import AIR_GAPPED
from recording_engine.harness import record
from vibevoice_ci.core import redirects
from vibevoice_ci.core.pins import TOOLS, parse_pin
from vibevoice_ci.core.redirects import Redirects

ROOT = Path(__file__).resolve().parents[2]
DIGEST = "sha256:" + "a" * 64


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
    mirrored = Redirects.parse(["docker.io=localhost:5000"])
    assert mirrored.build_args() == {"BASE_IMAGE": "localhost:5000/library/python:3.12-slim"}
    replaced = Redirects.parse(["docker.io=localhost:5000"], ["base=localhost:5000/python:stand-in"])
    assert replaced.build_args() == {"BASE_IMAGE": "localhost:5000/python:stand-in"}


def test_a_download_reaches_the_builds_as_its_build_argument() -> None:
    # Found on an offline engine: the model tests' stage could not reach PyTorch's CPU index, and
    # nothing but editing the Dockerfile could point it at a mirror.
    # (test_invariants: no build downloads from upstream when every download is mirrored)
    redirects = Redirects.parse(downloads=["torch-index=http://localhost:3141/simple"])
    assert redirects.build_args() == {"TORCH_INDEX_URL": "http://localhost:3141/simple"}


def test_each_download_is_a_build_argument_of_the_tts_dockerfile() -> None:
    text = (ROOT / "Dockerfile.tts").read_text(encoding="utf-8")
    for argument in redirects.DOWNLOADS.values():
        assert re.search(rf"^ARG {argument}=\S+$", text, re.MULTILINE), argument


def test_the_bases_are_the_dockerfiles() -> None:
    # Each base the module resolves is declared, with that default, by a Dockerfile, and every base a
    # Dockerfile declares is one the module knows (a base left behind was resolved, and named in the
    # provenance, after the CUDA image moved to the shared base).
    declared: dict[str, set[str]] = {}
    for dockerfile in ("Dockerfile.tts", "Dockerfile.agent"):
        text = (ROOT / dockerfile).read_text(encoding="utf-8")
        for argument, default in re.findall(r"^ARG (\w+_IMAGE)=(\S+)$", text, re.MULTILINE):
            declared.setdefault(argument, set()).add(default)
    assert declared == {argument: {default} for argument, default in redirects.BASES.values()}
    assert set(redirects.NAMES) == {*TOOLS, *redirects.BASES}


def test_a_tool_image_is_pulled_from_the_mirror_but_keeps_its_pin() -> None:
    pin = parse_pin("python", f"FROM python:3.12-slim@{DIGEST}\n")
    moved = Redirects.parse(["docker.io=localhost:5000"]).pin(pin)
    assert moved.reference == f"localhost:5000/library/python:3.12-slim@{DIGEST}"
    assert (moved.pinned, moved.digest) == (pin.pinned, DIGEST)  # what the provenance names
    assert Redirects().pin(pin) == pin


def test_an_override_of_k3s_is_what_the_cluster_test_runs(tmp_path: Path) -> None:
    # `chart cluster-test` is the one function that runs k3s: its image follows `--image k3s=...`.
    stand_in = "registry.corp:5000/k3s:v1.36.4-corp"
    constructor = {**AIR_GAPPED.constructor, "image": [f"k3s={stand_in}"]}
    recording = record(
        replace(AIR_GAPPED, constructor=constructor), only="chart cluster_test".__eq__, log_dir=tmp_path
    )
    pulled = recording.calls["chart cluster_test"].images
    assert stand_in in pulled
    assert [image for image in pulled if "k3s" in image and image != stand_in] == []
