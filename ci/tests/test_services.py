"""The service table (vibevoice_ci.services), and its agreement with the Dockerfiles it builds."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from vibevoice_ci.images.catalog import (
    AGENT,
    SERVICES,
    TEST_TARGET,
    TTS,
    ServiceSpec,
    platforms,
    runnable_platform,
    service_spec,
    wrong_platforms,
)

from tests.support.tools import ROOT, unavailable

_STAGE = re.compile(r"^FROM\s+\S+(?:\s+AS\s+(?P<name>\S+))?\s*$", re.IGNORECASE | re.MULTILINE)
_EXPOSE = re.compile(r"^EXPOSE\s+(?P<ports>.+)$", re.IGNORECASE | re.MULTILINE)
_HEALTHCHECK = re.compile(r"^HEALTHCHECK\s+(?!NONE)", re.IGNORECASE | re.MULTILINE)


def test_service_lookup_is_forgiving_about_case_and_clear_about_unknowns() -> None:
    assert service_spec(" TTS ") is TTS
    with pytest.raises(ValueError, match="unknown service 'asr'; choose one of: tts, agent"):
        service_spec("asr")


def test_empty_target_means_the_shipped_stage() -> None:
    assert TTS.target("") == "cpu"
    assert AGENT.target("") == "agent"
    assert TTS.target("cuda") == "cuda"
    assert AGENT.target(TEST_TARGET) == TEST_TARGET


def test_unknown_target_names_the_choices() -> None:
    with pytest.raises(ValueError, match="service 'agent' has no target 'cuda'; choose one of: agent, test"):
        AGENT.target("cuda")


def test_the_agent_is_wired_to_the_tts_as_the_contract_says() -> None:
    assert AGENT.depends_on == ("tts",)
    assert dict(AGENT.bound_env) == {
        "VIBEVOICE_AGENT_TTS_URL": "http://tts:8000",
        "VIBEVOICE_AGENT_LLM": "scripted",
    }
    assert (TTS.url, AGENT.url) == ("http://tts:8000", "http://agent:8080")


def test_the_table_lists_dependencies_before_their_dependents() -> None:
    seen: set[str] = set()
    for name, spec in SERVICES.items():
        assert set(spec.depends_on) <= seen, f"{name} depends on a service listed after it"
        seen.add(name)


def test_platforms_are_validated_normalized_and_deduplicated() -> None:
    assert platforms(["linux/amd64", " Linux/ARM64 ", "linux/amd64", "linux/arm/v7"]) == [
        "linux/amd64",
        "linux/arm64",
        "linux/arm/v7",
    ]


@pytest.mark.parametrize(("given", "message"), [([], "at least one platform"), (["amd64"], "not a platform")])
def test_bad_platforms_are_rejected(given: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        platforms(given)


def test_the_smoke_runs_on_the_engines_own_platform_when_it_is_built() -> None:
    assert runnable_platform("linux/arm64", ["linux/amd64", "linux/arm64"]) == "linux/arm64"
    assert runnable_platform("linux/s390x", ["linux/amd64", "linux/arm64"]) == "linux/amd64"


def _dockerfile(spec: ServiceSpec) -> str:
    path: Path = ROOT / spec.dockerfile
    if not path.is_file():
        unavailable(f"{spec.dockerfile} is not in the repository yet")
    return path.read_text(encoding="utf-8")


@pytest.mark.parametrize("spec", list(SERVICES.values()), ids=list(SERVICES))
def test_the_dockerfile_has_the_targets_port_and_healthcheck_the_pipeline_uses(spec: ServiceSpec) -> None:
    text = _dockerfile(spec)
    stages = [match["name"] for match in _STAGE.finditer(text)]
    assert set(spec.targets) <= set(stages), f"{spec.dockerfile} stages {stages} lack some of {spec.targets}"
    # A plain `docker build` (and docker_build with no target) must give the shipped image.
    assert stages[-1] == spec.shipped_target
    exposed = {port.split("/")[0] for match in _EXPOSE.finditer(text) for port in match["ports"].split()}
    assert str(spec.port) in exposed
    # Dagger takes a service's readiness from the image's HEALTHCHECK.
    assert _HEALTHCHECK.search(text), f"{spec.dockerfile} has no HEALTHCHECK"


def test_a_variant_built_for_another_platform_is_named_before_anything_is_pushed() -> None:
    built = {
        ("tts", "linux/amd64"): "linux/amd64",
        ("tts", "linux/arm64"): "linux/amd64",  # a mirror that held only the amd64 base
        ("agent", "linux/arm64"): "linux/arm64/v8",  # a variant is not a different platform
    }
    [wrong] = wrong_platforms(built)
    assert wrong.startswith("tts linux/arm64: the image is linux/amd64")
    assert "skopeo copy --all" in wrong
    assert wrong_platforms({("agent", "linux/amd64"): "linux/amd64"}) == []
