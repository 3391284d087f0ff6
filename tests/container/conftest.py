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


@dataclass(frozen=True)
class Images:
    """The tags `make images` gives the shipped images."""

    tts: str
    agent: str


@pytest.fixture(scope="session")
def docker() -> Docker:
    """The docker client, with an engine that answers."""
    return connect()


@pytest.fixture(scope="session")
def images(docker: Docker) -> Images:
    """vibevoice-tts:dev and vibevoice-agent:dev, built by `make images` (cached layers make reruns quick)."""
    make = require_tool("make", "apt-get install make")
    built = Images(tts="vibevoice-tts:dev", agent="vibevoice-agent:dev")
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
