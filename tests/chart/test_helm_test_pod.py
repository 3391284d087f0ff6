"""The `helm test` pod: what it runs, and that its check passes against the real services started with
the chart's own environment, and fails on silence or on a service that does not answer."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.chart.chart import CHART, Manifest, Rendered, chart_environment, container, env_of
from tests.support.processes import Service, free_port, running

SCRIPT = (CHART / "files" / "helm_test.py").read_text()


def hook_pod(rendered: Rendered) -> Manifest:
    """The chart's helm test pod."""
    (pod,) = rendered.all("Pod")
    return pod


def test_test_pod_is_a_helm_test_hook_running_the_script(cpu: Rendered) -> None:
    pod = hook_pod(cpu)
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert pod["spec"]["restartPolicy"] == "Never"
    check = container(pod["spec"])
    assert check["command"] == ["python3", "-c", SCRIPT]
    services = {
        service["metadata"]["labels"]["app.kubernetes.io/component"]: service
        for service in cpu.all("Service")
    }
    urls = {
        component: f"http://{service['metadata']['name']}:{service['spec']['ports'][0]['port']}"
        for component, service in services.items()
    }
    assert env_of(check) == {"VIBEVOICE_TEST_TTS_URL": urls["tts"], "VIBEVOICE_TEST_AGENT_URL": urls["agent"]}


def run_check(cpu: Rendered, tts_url: str, agent_url: str) -> subprocess.CompletedProcess[str]:
    """Run the test pod's command here, as the pod would, pointed at local URLs."""
    command = container(hook_pod(cpu)["spec"])["command"]
    env = {"VIBEVOICE_TEST_TTS_URL": tts_url, "VIBEVOICE_TEST_AGENT_URL": agent_url}
    argv = [sys.executable, *command[1:]]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, check=False)


def local(environment: dict[str, str], prefix: str, port: int) -> dict[str, str]:
    """A chart environment, listening on loopback at `port` instead of all interfaces at the pod's port."""
    return {**environment, f"{prefix}_HOST": "127.0.0.1", f"{prefix}_PORT": str(port)}


@pytest.fixture(scope="module")
def chart_services(cpu: Rendered, espeak_ng: str) -> Iterator[tuple[Service, Service]]:
    """The real TTS and agent, started with the environment of the chart's cpu values."""
    tts_port, agent_port = free_port(), free_port()
    tts_env = local(chart_environment(cpu, "tts"), "VIBEVOICE_TTS", tts_port)
    with running(["vibevoice-tts"], port=tts_port, env=tts_env) as tts:
        agent_env = {
            **local(chart_environment(cpu, "agent"), "VIBEVOICE_AGENT", agent_port),
            "VIBEVOICE_AGENT_TTS_URL": tts.url,
        }
        with running(["vibevoice-agent"], port=agent_port, env=agent_env) as agent:
            yield tts, agent


@pytest.mark.integration
def test_check_passes_against_the_real_services(
    cpu: Rendered, chart_services: tuple[Service, Service]
) -> None:
    tts, agent = chart_services
    result = run_check(cpu, tts.url, agent.url)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[1:3] for line in lines] == [
        ["GET", f"{tts.url}/health"],
        ["GET", f"{tts.url}/ready"],
        ["POST", f"{tts.url}/v1/audio/speech:"],
        ["GET", f"{agent.url}/health"],
        ["GET", f"{agent.url}/ready"],
    ]
    assert all(line.startswith("ok ") for line in lines)


class SilentSpeech(BaseHTTPRequestHandler):
    """A TTS stand-in that is up and ready but synthesises silence (a failure the real one cannot fake)."""

    def do_GET(self) -> None:
        self.reply(b"{}")

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.reply(bytes(4800))  # 0.1 s of zero samples

    def reply(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.mark.integration
def test_check_fails_on_silent_audio(cpu: Rendered) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), SilentSpeech)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        result = run_check(cpu, url, url)
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == 1
    assert f"FAIL POST {url}/v1/audio/speech: 2400 samples are silent (peak 0 < 500)" in result.stdout


@pytest.mark.integration
def test_check_fails_when_nothing_answers(cpu: Rendered) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = run_check(cpu, url, url)
    assert result.returncode == 1
    assert f"FAIL GET {url}/health: " in result.stdout
    assert f"FAIL POST {url}/v1/audio/speech: " in result.stdout
