"""The compose stack: `scripts/compose.sh smoke` (what `make smoke` runs) passes on the images of
`make images`, fails when the stack is broken, and leaves nothing running either way.

Each run gets its own compose project name and free host ports, so it cannot meet a stack a developer
has up on 8000/8080.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.container.conftest import ON_THE_ENGINE, Images
from tests.container.engine import Docker
from tests.support.processes import free_port
from tests.support.tools import ROOT, require_tool

pytestmark = [pytest.mark.container, ON_THE_ENGINE]

SMOKE = Path(sys.executable).parent / "vibevoice-smoke"


def compose_env(tts_image: str, agent_image: str) -> tuple[str, dict[str, str]]:
    """A fresh project name and the environment that points compose.sh at it."""
    require_tool("docker-compose", "apt-get install docker-compose")
    project = f"vvtest{uuid.uuid4().hex[:8]}"
    return project, {
        **os.environ,
        "COMPOSE_PROJECT_NAME": project,
        "VIBEVOICE_TTS_IMAGE": tts_image,
        "VIBEVOICE_AGENT_IMAGE": agent_image,
        "VIBEVOICE_TTS_PUBLISH": str(free_port()),
        "VIBEVOICE_AGENT_PUBLISH": str(free_port()),
        "HEALTHY_TIMEOUT_S": "90",
        "SMOKE": str(SMOKE),
    }


def compose_sh(command: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`scripts/compose.sh COMMAND` (up, down, smoke) in the project `env` names."""
    return subprocess.run(
        [str(ROOT / "scripts" / "compose.sh"), command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def compose_smoke(tts_image: str, agent_image: str) -> tuple[str, subprocess.CompletedProcess[str]]:
    """Run the smoke script in a fresh project; returns (project name, completed process)."""
    project, env = compose_env(tts_image, agent_image)
    return project, compose_sh("smoke", env)


def leftovers(docker: Docker, project: str) -> str:
    """Containers and networks the project still has."""
    label = f"label=com.docker.compose.project={project}"
    containers = docker.out("ps", "--all", "--quiet", "--filter", label)
    networks = docker.out("network", "ls", "--quiet", "--filter", label)
    return (containers + "\n" + networks).strip()


def test_compose_file_is_valid_for_compose_v2_and_docker_compose_1_29() -> None:
    # v2 validates against the Compose Specification's schema; 1.29 has its own parser.
    checker = require_tool("check-jsonschema", "pip install check-jsonschema (the dev extra)")
    compose_file = str(ROOT / "compose.yaml")
    spec = subprocess.run(
        [checker, "--builtin-schema", "vendor.compose-spec", compose_file],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert spec.returncode == 0, spec.stdout + spec.stderr
    v1 = require_tool("docker-compose", "apt-get install docker-compose")
    config = subprocess.run(
        [v1, "--file", compose_file, "config", "--services"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert config.returncode == 0, config.stderr
    assert sorted(config.stdout.split()) == ["agent", "tts"]


def test_compose_smoke_passes_and_takes_the_stack_down(docker: Docker, images: Images) -> None:
    project, result = compose_smoke(images.tts, images.agent)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "smoke test passed" in output
    assert "tts healthy" in output
    assert "agent healthy" in output
    assert leftovers(docker, project) == ""


def test_compose_smoke_fails_on_a_broken_stack_and_still_takes_it_down(
    docker: Docker, images: Images
) -> None:
    # The TTS image in the agent's place: it rejects the agent's flags and exits, never healthy.
    project, result = compose_smoke(images.tts, images.tts)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "agent is exited" in output
    assert leftovers(docker, project) == ""


def test_compose_smoke_leaves_a_stack_that_was_up_running(docker: Docker, images: Images) -> None:
    project, env = compose_env(images.tts, images.agent)
    try:
        assert compose_sh("up", env).returncode == 0
        result = compose_sh("smoke", env)
        output = result.stdout + result.stderr
        assert result.returncode == 0, output
        assert "the stack is up already" in output
        assert leftovers(docker, project) != ""  # `make up`'s stack is still there
    finally:
        compose_sh("down", env)
    assert leftovers(docker, project) == ""
