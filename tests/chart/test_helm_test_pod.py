"""The `helm test` pod: what it runs, and that its check passes against the real services started with
the chart's own environment (also when they start after it, as a pod that a NetworkPolicy admits a second
late sees them), and fails on silence or on a service that never answers."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from array import array
from collections.abc import Iterator
from contextlib import contextmanager
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


def check_argv(cpu: Rendered) -> list[str]:
    """The test pod's command, run here with this Python."""
    return [sys.executable, *container(hook_pod(cpu)["spec"])["command"][1:]]


def check_env(tts_url: str, agent_url: str, deadline_s: float) -> dict[str, str]:
    """The test pod's environment, pointed at local URLs, with a deadline for each check."""
    return {
        "VIBEVOICE_TEST_TTS_URL": tts_url,
        "VIBEVOICE_TEST_AGENT_URL": agent_url,
        "VIBEVOICE_TEST_DEADLINE_S": str(deadline_s),
        "PYTHONUNBUFFERED": "1",
    }


def run_check(
    cpu: Rendered, tts_url: str, agent_url: str, deadline_s: float = 2.0
) -> subprocess.CompletedProcess[str]:
    """Run the test pod's command here, as the pod would, pointed at local URLs."""
    env = check_env(tts_url, agent_url, deadline_s)
    return subprocess.run(check_argv(cpu), env=env, capture_output=True, text=True, timeout=60, check=False)


def local(environment: dict[str, str], prefix: str, port: int) -> dict[str, str]:
    """A chart environment, listening on loopback at `port` instead of all interfaces at the pod's port."""
    return {**environment, f"{prefix}_HOST": "127.0.0.1", f"{prefix}_PORT": str(port)}


@contextmanager
def started_services(cpu: Rendered, tts_port: int, agent_port: int) -> Iterator[tuple[Service, Service]]:
    """The real TTS and agent on the given ports, started with the environment of the chart's cpu values."""
    tts_env = local(chart_environment(cpu, "tts"), "VIBEVOICE_TTS", tts_port)
    with running(["vibevoice-tts"], port=tts_port, env=tts_env) as tts:
        agent_env = {
            **local(chart_environment(cpu, "agent"), "VIBEVOICE_AGENT", agent_port),
            "VIBEVOICE_AGENT_TTS_URL": tts.url,
        }
        with running(["vibevoice-agent"], port=agent_port, env=agent_env) as agent:
            yield tts, agent


@pytest.fixture(scope="module")
def chart_services(cpu: Rendered, espeak_ng: str) -> Iterator[tuple[Service, Service]]:
    """The real TTS and agent, started with the environment of the chart's cpu values."""
    with started_services(cpu, free_port(), free_port()) as services:
        yield services


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


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """`handler` behind a real HTTP server on loopback, for as long as the block runs; yields its URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.integration
def test_check_fails_on_silent_audio(cpu: Rendered) -> None:
    with serving(SilentSpeech) as url:
        result = run_check(cpu, url, url)
    assert result.returncode == 1
    assert f"FAIL POST {url}/v1/audio/speech: 2400 samples are silent (peak 0 < 500)" in result.stdout


@pytest.mark.integration
def test_check_waits_for_services_that_start_late(cpu: Rendered, espeak_ng: str) -> None:
    """Issue 27: under an enforced NetworkPolicy the test pod's first connections were refused. The check
    starts first, is refused, and passes once the real services come up."""
    tts_port, agent_port = free_port(), free_port()
    tts_url, agent_url = f"http://127.0.0.1:{tts_port}", f"http://127.0.0.1:{agent_port}"
    env = {**os.environ, **check_env(tts_url, agent_url, deadline_s=120)}
    check = subprocess.Popen(check_argv(cpu), env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert check.stdout is not None
        first = check.stdout.readline()  # no service listens yet: the first attempt is refused
        assert first.startswith(f"wait GET {tts_url}/health: "), first
        with started_services(cpu, tts_port, agent_port):
            rest, _ = check.communicate(timeout=120)
    finally:
        check.kill()
    assert check.returncode == 0, first + rest
    assert f"ok   GET {tts_url}/health" in rest
    assert f"ok   POST {tts_url}/v1/audio/speech" in rest
    assert f"ok   GET {agent_url}/ready" in rest


class LoadingThenReady(SilentSpeech):
    """A service that listens before its engine is loaded (as both do: the port is bound first): its first
    answers are 503 "loading", then it is ready and speaks (a square wave, loud enough to pass)."""

    loading_answers = 3
    lock = threading.Lock()

    def do_GET(self) -> None:
        if not self.still_loading():
            self.reply(b"{}")

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        if not self.still_loading():
            self.reply(array("h", [8000, -8000] * 1200).tobytes())

    def still_loading(self) -> bool:
        with self.lock:
            loading = type(self).loading_answers > 0
            type(self).loading_answers -= 1
        if loading:
            body = b'{"status": "loading"}'
            self.send_response(503)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        return loading


@pytest.mark.integration
def test_check_waits_for_a_service_that_listens_before_it_is_ready(cpu: Rendered) -> None:
    """Found merging the services' busy-port fix (the port is bound before the engine loads): the late-start
    test above got "/ready answered 503 loading" when it caught the TTS between listening and ready."""
    with serving(LoadingThenReady) as url:
        result = run_check(cpu, url, url, deadline_s=30.0)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("answered 503 (not ready yet)") == 3
    assert f"ok   GET {url}/ready" in result.stdout


@pytest.mark.integration
def test_check_fails_when_nothing_answers(cpu: Rendered) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = run_check(cpu, url, url, deadline_s=2.0)
    assert result.returncode == 1
    assert f"FAIL GET {url}/health: " in result.stdout
    assert f"FAIL POST {url}/v1/audio/speech: " in result.stdout
    assert "attempts)" in result.stdout  # tried again until the deadline, then failed
