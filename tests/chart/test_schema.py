"""values.schema.json: a valid JSON Schema, in step with values.yaml, and it rejects wrong types, unknown
keys and malformed values before anything renders."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from tests.chart.chart import CHART, HelmFailed, render
from tests.support.tools import require_tool

SCHEMA_PATH = CHART / "values.schema.json"
SCHEMA: dict[str, Any] = json.loads(SCHEMA_PATH.read_text())
VALUES: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text())


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    """Follow a local `$ref` ("#/definitions/name")."""
    while "$ref" in node:
        node = SCHEMA["definitions"][node["$ref"].removeprefix("#/definitions/")]
    return node


def schema_keys(node: dict[str, Any], prefix: str = "") -> Iterator[str]:
    """Dotted paths of every property the schema declares (into objects with fixed properties)."""
    for key, child in resolve(node).get("properties", {}).items():
        yield prefix + key
        yield from schema_keys(child, f"{prefix}{key}.")


def value_keys(values: dict[str, Any], node: dict[str, Any], prefix: str = "") -> Iterator[str]:
    """Dotted paths of values.yaml, down to where the schema stops fixing the keys (free-form maps)."""
    properties = resolve(node).get("properties")
    if properties is None:
        return
    for key, child in values.items():
        yield prefix + key
        if isinstance(child, dict) and key in properties:
            yield from value_keys(child, properties[key], f"{prefix}{key}.")


def test_schema_is_a_valid_json_schema() -> None:
    tool = require_tool("check-jsonschema", "the dev extra installs it")
    result = subprocess.run(
        [tool, "--check-metaschema", str(SCHEMA_PATH)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_schema_and_values_declare_the_same_keys() -> None:
    """Every value is documented in values.yaml and typed in the schema; neither has keys the other lacks
    (tts.maxConcurrency is null by default, which the schema allows)."""
    assert set(value_keys(VALUES, SCHEMA)) == set(schema_keys(SCHEMA))


def test_schema_closes_every_object() -> None:
    """Unknown keys are rejected at every level that has fixed keys, not only at the top."""

    def objects(node: dict[str, Any], path: str) -> Iterator[tuple[str, dict[str, Any]]]:
        node = resolve(node)
        if "properties" in node:
            yield path, node
            for key, child in node["properties"].items():
                yield from objects(child, f"{path}.{key}")
        if isinstance(node.get("items"), dict):
            yield from objects(node["items"], f"{path}[]")

    open_objects = [
        path for path, node in objects(SCHEMA, "") if node.get("additionalProperties") is not False
    ]
    assert open_objects == []


@pytest.mark.parametrize(
    ("values", "error"),
    [
        ({"replicas": 2}, "Additional property replicas is not allowed"),
        ({"tts": {"gpu": {"enable": True}}}, "Additional property enable is not allowed"),
        ({"tts": {"replicaCount": "two"}}, "tts.replicaCount: Invalid type. Expected: integer"),
        ({"tts": {"gpu": {"enabled": "yes"}}}, "tts.gpu.enabled: Invalid type. Expected: boolean"),
        ({"tts": {"maxConcurrency": 0}}, "tts.maxConcurrency: Must be greater than or equal to 1"),
        ({"tts": {"image": {"digest": "latest"}}}, "tts.image.digest: Does not match pattern"),
        ({"tts": {"image": {"pullPolicy": "Sometimes"}}}, "tts.image.pullPolicy"),
        ({"tts": {"logLevel": "verbose"}}, "tts.logLevel"),
        ({"tts": {"resources": {"limits": {"memory": "lots"}}}}, "tts.resources.limits.memory"),
        ({"tts": {"probes": {"startup": {"periodSeconds": 0}}}}, "tts.probes.startup.periodSeconds"),
        ({"tts": {"shutdown": {"preStopSeconds": 0}}}, "tts.shutdown.preStopSeconds"),
        ({"agent": {"llm": {"backend": "claude"}}}, "agent.llm.backend"),
        (
            {"agent": {"llm": {"openai": {"apiKey": "sk-inline"}}}},
            "Additional property apiKey is not allowed",
        ),
        ({"agent": {"llm": {"openai": {"baseUrl": "api.openai.com"}}}}, "agent.llm.openai.baseUrl"),
        ({"networkPolicy": {"llmEgress": {"ports": [70000]}}}, "networkPolicy.llmEgress.ports.0"),
        (
            {"agent": {"sessionStore": {"url": "redis://:pw@redis:6379/0"}}},
            "Additional property url is not allowed",
        ),
        ({"agent": {"sessionStore": {"timeoutSeconds": 0}}}, "agent.sessionStore.timeoutSeconds"),
        ({"serviceMonitor": {"interval": 30}}, "serviceMonitor.interval: Invalid type"),
        (
            {"ingress": {"paths": [{"path": "/", "pathType": "Prefix", "component": "db"}]}},
            "ingress.paths.0.component",
        ),
        ({"imagePullSecrets": ["regcred"]}, "imagePullSecrets.0: Invalid type. Expected: object"),
    ],
)
def test_schema_rejects_bad_values(helm: str, values: dict[str, Any], error: str) -> None:
    with pytest.raises(HelmFailed) as failure:
        render(helm, values=values)
    assert "values don't meet the specifications of the schema" in str(failure.value)
    assert error in str(failure.value)
