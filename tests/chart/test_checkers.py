"""Checkers nobody here wrote, over the chart's renders: kube-score and checkov score every ci values set
and a set of realistic overrides, and report nothing but the findings tests/chart/accepted-findings.yaml
lists with the reason the chart accepts each. An entry that no render produces any more is stale and
fails too, so the list only ever names what the checkers still say."""

from __future__ import annotations

import fnmatch
import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.chart.chart import VALUE_SETS, template_text
from tests.support.tools import ROOT, require_tool

ACCEPTED: dict[str, list[dict[str, Any]]] = yaml.safe_load(
    (Path(__file__).parent / "accepted-findings.yaml").read_text()
)
HINT = "scripts/install-chart-checkers.sh installs it into .tools/bin"

# Overrides an operator would make, on top of the ci values sets (which cover each optional part once).
OVERRIDES: dict[str, tuple[str, dict[str, Any]]] = {
    "gpu-shared-cache-hpa": (
        "defaults",
        {
            "tts": {
                "modelCache": {"accessModes": ["ReadWriteMany"], "storageClassName": "nfs"},
                "autoscaling": {"enabled": True, "maxReplicas": 3, "targetQueueDepth": 2},
            }
        },
    ),
    "gpu-cache-per-pod-keda": (
        "gpu",
        {
            "tts": {
                "modelCache": {"type": "perReplica", "accessModes": ["ReadWriteOnce"]},
                "strategy": {"type": "RollingUpdate"},
                "autoscaling": {"engine": "keda", "minReplicas": 1},
            }
        },
    ),
    "gpu-empty-dir-cache": (
        "defaults",
        {"tts": {"modelCache": {"type": "emptyDir"}, "resources": {"limits": {"ephemeral-storage": "24Gi"}}}},
    ),
    "gateway-edge": (
        "defaults",
        {"gateway": {"enabled": True, "parentRefs": [{"name": "public", "namespace": "gateway-system"}]}},
    ),
    "cpu-vllm-in-cluster": (
        "cpu",
        {
            "agent": {
                "replicaCount": 2,
                "llm": {"backend": "openai", "openai": {"baseUrl": "http://vllm.llm:8000/v1", "model": "m"}},
            },
            "networkPolicy": {
                "llmEgress": {"ipBlocks": [], "peers": [{"namespaceSelector": {}}], "ports": [8000]}
            },
        },
    ),
    "agent-session-store": (
        "gpu",
        {
            "agent": {
                "sessionAffinity": {"enabled": False},
                "sessionStore": {"urlSecret": {"name": "agent-redis"}},
            },
            "networkPolicy": {
                "sessionStoreEgress": {
                    "peers": [
                        {
                            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "redis"}},
                            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "redis"}},
                        }
                    ]
                }
            },
        },
    ),
    "service-affinity-for-callers": (
        "cpu",
        {"agent": {"replicaCount": 3, "sessionAffinity": {"clientIP": True}}},
    ),
}
RENDERS = (*VALUE_SETS, *OVERRIDES)


@dataclass(frozen=True)
class Finding:
    """One checker's complaint about one object of one render."""

    tool: str
    render: str
    check: str
    obj: str  # Kind/name

    def accepted_by(self, entry: dict[str, Any]) -> bool:
        """Whether an accepted-findings entry covers this finding."""
        return (
            entry["check"] == self.check
            and any(fnmatch.fnmatchcase(self.obj, pattern) for pattern in entry["objects"])
            and self.render in entry.get("renders", RENDERS)
        )


@pytest.fixture(scope="module")
def rendered_dir(helm: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every render as one YAML file, by name."""
    directory = tmp_path_factory.mktemp("renders")
    for name in VALUE_SETS:
        (directory / f"{name}.yaml").write_text(template_text(helm, VALUE_SETS[name]))
    for name, (base, values) in OVERRIDES.items():
        (directory / f"{name}.yaml").write_text(template_text(helm, VALUE_SETS[base], values))
    return directory


def kube_score(rendered_dir: Path) -> Iterator[Finding]:
    """kube-score's findings (grade below ok, not skipped) over every render."""
    tool = require_tool("kube-score", HINT)
    for render in RENDERS:
        argv = [tool, "score", "--output-format", "json", str(rendered_dir / f"{render}.yaml")]
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        assert result.stdout, result.stderr  # exit 1 means findings, which the JSON lists
        for scored in json.loads(result.stdout):
            obj = f"{scored['type_meta']['kind']}/{scored['object_meta']['name']}"
            for check in scored["checks"]:
                if not check["skipped"] and check["grade"] < 10:
                    yield Finding("kube-score", render, check["check"]["id"], obj)


def checkov(rendered_dir: Path) -> Iterator[Finding]:
    """checkov's failed Kubernetes checks over every render."""
    tool = require_tool("checkov", HINT)
    argv = [
        tool,
        "--directory",
        str(rendered_dir),
        "--framework",
        "kubernetes",
        "--output",
        "json",
        "--quiet",
        "--compact",
    ]
    result = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=ROOT)
    assert result.returncode in (0, 1), result.stderr
    reports = json.loads(result.stdout)
    for report in reports if isinstance(reports, list) else [reports]:
        for failed in report["results"]["failed_checks"]:
            kind, _namespace, name = failed["resource"].split(".", 2)
            yield Finding("checkov", Path(failed["file_path"]).stem, failed["check_id"], f"{kind}/{name}")


CHECKERS = {"kube-score": kube_score, "checkov": checkov}
pytestmark = pytest.mark.checkers


@pytest.mark.parametrize("tool", CHECKERS)
def test_only_accepted_findings(rendered_dir: Path, tool: str) -> None:
    findings = set(CHECKERS[tool](rendered_dir))
    assert {finding.render for finding in findings} | set(RENDERS) == set(RENDERS)
    entries = ACCEPTED[tool]
    unlisted = sorted(
        f"{f.render}: {f.check} {f.obj}" for f in findings if not any(f.accepted_by(e) for e in entries)
    )
    assert unlisted == [], "findings not in accepted-findings.yaml"
    stale = [entry["check"] for entry in entries if not any(f.accepted_by(entry) for f in findings)]
    assert stale == [], "accepted findings no render produces any more"
    assert all(entry["reason"].strip() for entry in entries)
