"""The agent image for linux/arm64, built from an arm64 stand-in base and run under qemu emulation.

The pipeline builds arm64 on CI with a registry; here the base comes from `scripts/base-image.sh --arch
arm64` (a debootstrap of the host's suite for arm64, built once and reused) and binfmt must be enabled
(`scripts/enable-binfmt.sh`, which .ci/run calls). The emulated agent talks to the amd64 TTS image, and
vibevoice-smoke checks a real spoken turn through it. Takes minutes the first time.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.container.conftest import ON_THE_ENGINE, Images
from tests.container.engine import Docker, network, running
from tests.support.tools import ROOT, unavailable

pytestmark = [pytest.mark.container, pytest.mark.slow, ON_THE_ENGINE]

BINFMT = Path("/proc/sys/fs/binfmt_misc/qemu-aarch64")
BASE = "vibevoice-python-standin:arm64"
IMAGE = "vibevoice-agent:arm64-test"
SMOKE = Path(sys.executable).parent / "vibevoice-smoke"


def script(*argv: str, timeout: float) -> None:
    """Run one of scripts/; fail the test with its output if it fails."""
    result = subprocess.run(
        [str(ROOT / "scripts" / argv[0]), *argv[1:]],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, f"{' '.join(argv)} exited {result.returncode}:\n{result.stderr[-4000:]}"


@pytest.fixture(scope="module")
def arm64_agent(docker: Docker) -> str:
    """The agent image built for linux/arm64 on the arm64 stand-in base."""
    if not BINFMT.exists() or "enabled" not in BINFMT.read_text():
        unavailable(
            "arm64 emulation is not enabled (apt-get install qemu-user-static binfmt-support; "
            "scripts/enable-binfmt.sh)"
        )
    script("base-image.sh", "--arch", "arm64", timeout=1800)
    script(
        "build-image.sh",
        "--file", "Dockerfile.agent", "--target", "agent", "--tag", IMAGE,
        "--platform", "linux/arm64", "--base", BASE, "--quiet",
        timeout=1800,
    )  # fmt: skip
    return IMAGE


def test_arm64_agent_image_is_arm64(docker: Docker, arm64_agent: str) -> None:
    assert docker.inspect("image", arm64_agent)["Architecture"] == "arm64"
    machine = docker.out(
        "run", "--rm", "--platform", "linux/arm64", "--entrypoint", "uname", arm64_agent, "-m"
    )
    assert machine == "aarch64"


def test_arm64_agent_runs_under_emulation_and_speaks(
    docker: Docker, images: Images, arm64_agent: str
) -> None:
    locked_down = ("--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL")
    with network(docker) as net:
        tts_options = (*locked_down, "--network", net, "--network-alias", "tts")
        with running(docker, images.tts, options=tts_options, publish=[8000]) as tts:
            tts.wait_healthy()
            agent_options = (*locked_down, "--network", net, "--platform", "linux/arm64")
            agent_args = ("--llm", "scripted", "--tts-url", "http://tts:8000")
            with running(docker, arm64_agent, *agent_args, options=agent_options, publish=[8080]) as agent:
                agent.wait_healthy(timeout=240)
                smoke = subprocess.run(
                    [
                        str(SMOKE),
                        "--tts-url", f"http://127.0.0.1:{tts.host_port(8000)}",
                        "--agent-url", f"http://127.0.0.1:{agent.host_port(8080)}",
                    ],
                    capture_output=True,
                    text=True,
                    timeout=120,
                    check=False,
                )  # fmt: skip
    assert smoke.returncode == 0, smoke.stdout + smoke.stderr
    assert "smoke test passed" in smoke.stdout + smoke.stderr
