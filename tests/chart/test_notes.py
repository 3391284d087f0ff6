"""NOTES.txt renders for every values set and tells the operator how to check the release.

`helm template` leaves NOTES.txt out and `helm install --dry-run` needs a cluster, so the test renders
a copy of the chart in which the notes are a named template wrapped in a ConfigMap.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.chart.chart import CHART, NAMESPACE, RELEASE, VALUE_SETS, Rendered, run_helm, values_args

PROBE = """apiVersion: v1
kind: ConfigMap
metadata:
  name: notes
data:
  notes: {{ include "test.notes" . | quote }}
"""


@pytest.fixture(scope="module")
def notes_chart(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the chart whose NOTES.txt renders as a ConfigMap."""
    chart = tmp_path_factory.mktemp("chart") / "vibevoice"
    shutil.copytree(CHART, chart)
    notes = chart / "templates" / "NOTES.txt"
    (chart / "templates" / "_notes.tpl").write_text(
        '{{- define "test.notes" -}}\n' + notes.read_text() + "{{- end }}\n"
    )
    notes.unlink()
    (chart / "templates" / "notes.yaml").write_text(PROBE)
    return chart


def notes(helm: str, chart: Path, files: tuple[Path, ...], values: Mapping[str, Any] | None = None) -> str:
    """The rendered NOTES.txt of `chart` with `files` (and `values` on top)."""
    args = ["template", RELEASE, str(chart), "--namespace", NAMESPACE, "--show-only", "templates/notes.yaml"]
    rendered = Rendered.parse(run_helm(helm, [*args, *values_args(files)], values))
    return rendered.manifests[0]["data"]["notes"]


@pytest.mark.parametrize("name", VALUE_SETS)
def test_notes_say_how_to_check_the_release(helm: str, notes_chart: Path, name: str) -> None:
    text = notes(helm, notes_chart, VALUE_SETS[name])
    assert f"helm test {RELEASE} --namespace {NAMESPACE} --logs" in text
    assert "port-forward service/" in text
    assert "<no value>" not in text
    assert "--from-literal" not in text, "a secret's value on a command line lands in the shell's history"


def test_the_charts_readme_never_puts_a_secret_on_a_command_line() -> None:
    readme = (CHART / "README.md").read_text()
    assert "kubectl create secret" in readme
    assert "--from-literal" not in readme


def test_notes_describe_the_variant(helm: str, notes_chart: Path) -> None:
    gpu = notes(helm, notes_chart, VALUE_SETS["gpu"])
    assert "VibeVoice engine (microsoft/VibeVoice-Realtime-0.5B) on 1 nvidia.com/gpu per pod" in gpu
    assert "the rollout allows 1500 s for it" in gpu
    assert "@0123456789abcdef0123456789abcdef01234567" in gpu
    assert "WARNING" not in gpu  # a pinned revision, a ReadWriteMany claim
    assert "API keys are required" in gpu
    assert "X-Session-ID" in gpu
    assert "HTTPRoute voice-vibevoice on public for voice.example.com (timeouts 7200 s)" in gpu
    assert "asks the Gateway for session persistence (Cookie)" in gpu
    assert "its key from Secret\n      vibevoice-openai (key api-key)" in gpu
    assert "UNSET" not in gpu
    assert "Rate limits are per pod" in gpu
    assert "N TTS pods make N times\ntts.rateLimit.requestsPerSecond" in gpu
    cpu = notes(helm, notes_chart, VALUE_SETS["cpu"])
    assert "espeak-ng engine on CPU" in cpu
    assert "Ingress:" not in cpu
    assert "API keys" not in cpu
    defaults = notes(helm, notes_chart, ())
    assert "vibevoice-tts:0.1.0-cuda" in defaults
    assert "WARNING" not in defaults  # the model and its tokenizer are pinned to commits
    # the LLM: what the defaults name, and the Secret nobody has made yet
    assert "LLM: gpt-4o-mini at https://api.openai.com/v1 (OpenAI-compatible)" in defaults
    assert "UNSET: agent.llm.openai.apiKeySecret.name" in defaults
    assert f"create secret generic {RELEASE}-vibevoice-llm --from-file=api-key=" in defaults
    assert "Chart defaults in use (agent.llm.openai.baseUrl, .model)" in defaults
    assert "LLM backend: scripted" in cpu
    airgap = notes(helm, notes_chart, VALUE_SETS["airgap"])
    assert "Rate limits are per pod" in airgap
    assert "N TTS pods" not in airgap  # its TTS limit is off
    assert "mode local, nothing is fetched" in airgap
    assert "a session's HTTP turns must reach one pod" not in airgap  # one agent pod, no affinity
    assert "Chart defaults in use" not in airgap  # its own vLLM
    assert 'Authorization: Bearer $VIBEVOICE_API_KEY" \\\n    -d' in airgap
    assert "Authorization" not in defaults
    assert "pods on other nodes cannot" not in defaults  # one TTS pod


def test_notes_say_what_a_shared_existing_claim_needs(helm: str, notes_chart: Path) -> None:
    args = [
        "template",
        RELEASE,
        str(notes_chart),
        "--namespace",
        NAMESPACE,
        "--show-only",
        "templates/notes.yaml",
    ]
    cache = {"type": "existingClaim", "existingClaim": "weights"}
    rendered = run_helm(helm, args, {"tts": {"replicaCount": 2, "modelCache": cache}})
    text = Rendered.parse(rendered).manifests[0]["data"]["notes"]
    assert "Several TTS pods share the claim weights: it must be ReadWriteMany" in text
    one = run_helm(helm, args, {"tts": {"modelCache": cache}})
    assert "Several TTS pods" not in Rendered.parse(one).manifests[0]["data"]["notes"]


def test_notes_say_where_histories_live(helm: str, notes_chart: Path) -> None:
    per_pod = "histories are\n  per pod: unless your edge hashes on X-Session-ID"
    assert per_pod in notes(helm, notes_chart, ())  # two agent pods, no store, no Gateway
    gpu = notes(helm, notes_chart, VALUE_SETS["gpu"])  # the Gateway's cookie persistence
    assert per_pod not in gpu
    assert "Rate limits are per pod" in gpu
    store = {
        "agent": {"sessionStore": {"urlSecret": {"name": "agent-redis"}}},
        "networkPolicy": {"sessionStoreEgress": {"ipBlocks": [{"cidr": "10.20.0.5/32"}]}},
    }
    shared = notes(helm, notes_chart, VALUE_SETS["gpu"], store)
    assert "shared by the agent pods in Redis, at the URL in Secret agent-redis (key url)" in shared
    assert "a session's HTTP turns must reach one pod" not in shared
    assert "Rate limits are per pod" not in shared
    assert "The agents' rate limit is shared through the session store" in shared
    assert "with N TTS pods a key may make N times" in shared
    assert "the LLM endpoint and the session store." in shared
    assert per_pod not in notes(helm, notes_chart, (), store)
