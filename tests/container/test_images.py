"""The shipped images, built by `make images`, run as the Dockerfiles promise.

Non-root, read-only root filesystem with only /tmp writable, healthy through their own HEALTHCHECK,
really speaking (TTS alone, and the agent through the TTS), stopping cleanly on SIGTERM, labelled from
git, and carrying no compiler, no pip cache, no wheels and no build secret.
"""

from __future__ import annotations

import subprocess
import tomllib

import httpx
import pytest
from httpx_sse import EventSource
from vibevoice_ci.images import check_scripts

from tests.container.conftest import ON_THE_ENGINE, Images
from tests.container.engine import Docker, network, running
from tests.support.processes import wait_until_ok
from tests.support.tools import ROOT
from vibevoice_platform.audio import (
    SAMPLE_RATE,
    WAV_HEADER_SIZE,
    duration_seconds,
    parse_wav_header,
    rms_dbfs,
)

pytestmark = [pytest.mark.container, ON_THE_ENGINE]

LOCKED_DOWN = ("--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL", "--security-opt", "no-new-privileges")
TEXT = "The container speaks from a read-only filesystem."


def shipped(images: Images) -> list[tuple[str, str, int]]:
    """(image, entrypoint, port) of each shipped image."""
    return [(images.tts, "vibevoice-tts", 8000), (images.agent, "vibevoice-agent", 8080)]


def speech(port: int) -> bytes:
    """One WAV synthesis from a TTS on loopback."""
    response = httpx.post(
        f"http://127.0.0.1:{port}/v1/audio/speech",
        json={"model": "tts-1", "input": TEXT, "voice": "alloy", "response_format": "wav"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.content


def assert_speech(pcm: bytes) -> None:
    """Plausibly long, not silent 24 kHz PCM16."""
    assert 1.0 < duration_seconds(len(pcm)) < 15.0
    assert rms_dbfs(pcm) > -45.0


def git(*args: str) -> str:
    """Output of a git command in the repository."""
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()


def test_images_are_labelled_from_git(docker: Docker, images: Images) -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    for image, title in ((images.tts, "vibevoice-tts"), (images.agent, "vibevoice-agent")):
        labels = docker.inspect("image", image)["Config"]["Labels"]
        assert labels["org.opencontainers.image.title"] == title
        assert labels["org.opencontainers.image.version"] == version
        # A commit of this repository (HEAD when built), and its commit time as the creation time.
        revision = labels["org.opencontainers.image.revision"].removesuffix("-dirty")
        assert git("cat-file", "-t", revision) == "commit"
        assert labels["org.opencontainers.image.created"] == git("show", "-s", "--format=%cI", revision)
        assert "org.opencontainers.image.source" in labels


def test_images_declare_user_port_healthcheck_and_exec_entrypoint(docker: Docker, images: Images) -> None:
    for image, entrypoint, port in shipped(images):
        config = docker.inspect("image", image)["Config"]
        assert config["User"] == "10001:10001"
        assert f"{port}/tcp" in config["ExposedPorts"]
        assert config["Entrypoint"] == [entrypoint]
        check = config["Healthcheck"]["Test"]
        assert check[0] == "CMD"
        assert "/ready" in check[-1]
        assert not {"curl", "wget"} & set(" ".join(check).split())


def test_images_run_as_non_root(docker: Docker, images: Images) -> None:
    for image, _, _ in shipped(images):
        ids = docker.out("run", "--rm", "--entrypoint", "id", image)
        assert ids.startswith("uid=10001(vibevoice) gid=10001(vibevoice)"), ids


def test_runtime_images_carry_no_compiler_pip_cache_or_build_leftovers(
    docker: Docker, images: Images
) -> None:
    # The script the pipeline's image check runs on the engine's images (container_checks).
    _, flag, script = check_scripts.leftovers()
    for image, _, _ in shipped(images):
        found = docker.out("run", "--rm", "--user", "0", "--entrypoint", "sh", image, flag, script)
        assert found == "", f"{image} carries: {found}"


def test_the_pipelines_read_only_root_check_passes_on_the_images(docker: Docker, images: Images) -> None:
    # The engine cannot mount a root read-only, so its check lists what the runtime user may write;
    # on the engine it first failed on Debian's /var/tmp, then on the /var/lock link.
    _, flag, script = check_scripts.writable_outside()
    for image, _, _ in shipped(images):
        user = ("--user", check_scripts.RUNTIME_USER)
        found = docker.out("run", "--rm", *user, "--entrypoint", "sh", image, flag, script)
        assert found == "", f"{image}: writable outside {check_scripts.WRITABLE}: {found}"


def test_tts_serves_speech_on_a_read_only_filesystem(docker: Docker, images: Images) -> None:
    with running(docker, images.tts, options=LOCKED_DOWN, publish=[8000]) as tts:
        tts.wait_healthy()
        wav = speech(tts.host_port(8000))
    rate, channels, bits = parse_wav_header(wav[:WAV_HEADER_SIZE])
    assert (rate, channels, bits) == (SAMPLE_RATE, 1, 16)
    assert_speech(wav[WAV_HEADER_SIZE:])


def test_agent_is_healthy_behind_a_healthy_tts_and_speaks(docker: Docker, images: Images) -> None:
    with network(docker) as net:
        tts_options = (*LOCKED_DOWN, "--network", net, "--network-alias", "tts")
        with running(docker, images.tts, options=tts_options) as tts:
            tts.wait_healthy()
            agent_options = (*LOCKED_DOWN, "--network", net)
            agent_args = ("--llm", "scripted", "--tts-url", "http://tts:8000")
            with running(docker, images.agent, *agent_args, options=agent_options, publish=[8080]) as agent:
                agent.wait_healthy()
                port = agent.host_port(8080)
                with httpx.stream(
                    "POST", f"http://127.0.0.1:{port}/v1/agent/turn", json={"text": "Say hello."}, timeout=30
                ) as response:
                    assert response.status_code == 200
                    events = list(EventSource(response).iter_sse())
    names = [event.event for event in events]
    assert names[-1] == "done", names
    assert "error" not in names
    assert {"text", "audio", "metrics"} <= set(names)


@pytest.mark.parametrize("which", ["tts", "agent"])
def test_sigterm_stops_the_service_cleanly(docker: Docker, images: Images, which: str) -> None:
    image = images.tts if which == "tts" else images.agent
    port = 8000 if which == "tts" else 8080
    with running(docker, image, options=LOCKED_DOWN, publish=[port]) as container:
        # Live is enough (the agent, with no TTS to reach, is live but never ready).
        wait_until_ok(f"http://127.0.0.1:{container.host_port(port)}/health", None, None, 60)
        docker.run("stop", "--time", "20", container.id, timeout=60)
        state = container.state()
        logs = container.logs()
    assert state["ExitCode"] == 0, f"exit {state['ExitCode']} (137 means it ignored SIGTERM):\n{logs[-2000:]}"
    assert "Shutting down" in logs
