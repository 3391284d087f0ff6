"""Fixtures of the container tests: the engine, and the images `make images` builds (once a session)."""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.container.engine import Docker, connect
from tests.support.tools import ROOT, require_tool

BUILD_TIMEOUT_S = 1800
# The tests that build or run images share one xdist worker (`make test` runs a worker per core): a
# session is per worker, so the images are built once, and the engine never runs two such builds.
ON_THE_ENGINE = pytest.mark.xdist_group("docker-engine")


@dataclass(frozen=True)
class Images:
    """The tags `make images` gives the shipped images (VIBEVOICE_TTS_IMAGE and VIBEVOICE_AGENT_IMAGE,
    as the Makefile exports them; a shared engine wants tags of one's own)."""

    tts: str
    agent: str


@pytest.fixture(scope="session")
def docker() -> Docker:
    """The docker client, with an engine that answers."""
    return connect()


@pytest.fixture(scope="session")
def images(docker: Docker) -> Images:
    """The shipped images, built by `make images` (cached layers make reruns quick)."""
    make = require_tool("make", "apt-get install make")
    built = Images(
        tts=os.environ.get("VIBEVOICE_TTS_IMAGE", "vibevoice-tts:dev"),
        agent=os.environ.get("VIBEVOICE_AGENT_IMAGE", "vibevoice-agent:dev"),
    )
    log = Path(tempfile.mkstemp(prefix="make-images-", suffix=".log")[1])
    with log.open("wb") as sink:
        result = subprocess.run(
            [make, "--no-print-directory", "images", f"TTS_IMAGE={built.tts}", f"AGENT_IMAGE={built.agent}"],
            cwd=ROOT,
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={**os.environ},
            timeout=BUILD_TIMEOUT_S,
            check=False,
        )
    if result.returncode != 0:
        pytest.fail(
            f"make images exited {result.returncode}; last lines of {log}:\n{log.read_text()[-4000:]}"
        )
    for tag in (built.tts, built.agent):
        docker.inspect("image", tag)
    return built
