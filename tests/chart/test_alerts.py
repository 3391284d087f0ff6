"""The chart's PromQL run by promtool: the PrometheusRule passes `promtool check rules`, its availability
and absent-metric alerts fire (and stay quiet) on synthetic series in `promtool test rules`, and the
queries KEDA and prometheus-adapter run parse. (test_production.py checks that every series they read is
one the services export.)"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.chart.chart import CHART, NAMESPACE, RELEASE, Manifest, Rendered
from tests.support.tools import require_tool

TTS = f'namespace="{NAMESPACE}",service="{RELEASE}-vibevoice-tts"'
AGENT = f'namespace="{NAMESPACE}",service="{RELEASE}-vibevoice-agent"'
# The labels absent() gives its alert: the selector's equality matchers.
TTS_LABELS = {"namespace": NAMESPACE, "service": f"{RELEASE}-vibevoice-tts"}
AGENT_LABELS = {"namespace": NAMESPACE, "service": f"{RELEASE}-vibevoice-agent"}
ADAPTER = yaml.safe_load((CHART / "files" / "prometheus-adapter-values.yaml").read_text())


@pytest.fixture(scope="module")
def promtool() -> str:
    return require_tool("promtool", "scripts/install-chart-checkers.sh builds it from the Go module proxy")


def run_promtool(promtool: str, *args: str | Path) -> str:
    """promtool ARGS, which must succeed; its output."""
    result = subprocess.run([promtool, *map(str, args)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def alerts(rendered: Rendered) -> dict[str, Manifest]:
    """The chart's alerting rules by name."""
    (rule,) = rendered.all("PrometheusRule")
    return {alert["alert"]: alert for group in rule["spec"]["groups"] for alert in group["rules"]}


def rules_file(rendered: Rendered, path: Path) -> Path:
    """The PrometheusRule's groups as a Prometheus rules file."""
    (rule,) = rendered.all("PrometheusRule")
    path.write_text(yaml.safe_dump(rule["spec"]))
    return path


def fires(found: dict[str, Manifest], at: str, name: str, **labels: str) -> dict[str, Any]:
    """promtool's check that alert `name` fires at `at`, with its labels and annotations plus `labels`."""
    alert = found[name]
    expected = {"exp_labels": {**alert["labels"], **labels}, "exp_annotations": alert["annotations"]}
    return {"eval_time": at, "alertname": name, "exp_alerts": [expected]}


def quiet(at: str, name: str) -> dict[str, Any]:
    """promtool's check that alert `name` is not firing at `at`."""
    return {"eval_time": at, "alertname": name, "exp_alerts": []}


@pytest.mark.checkers
def test_rules_pass_promtool_check(promtool: str, rendered_sets: dict[str, Rendered], tmp_path: Path) -> None:
    for name in ("gpu", "openshift"):
        output = run_promtool(
            promtool, "check", "rules", rules_file(rendered_sets[name], tmp_path / f"{name}.yaml")
        )
        assert "SUCCESS" in output, output


@pytest.mark.checkers
def test_availability_and_absent_metric_alerts(
    promtool: str, rendered_sets: dict[str, Rendered], tmp_path: Path
) -> None:
    rendered = rendered_sets["gpu"]
    found = alerts(rendered)
    rules = rules_file(rendered, tmp_path / "rules.yaml")
    down_at_10m = {
        "interval": "1m",
        "input_series": [
            {"series": f'up{{{TTS},pod="tts-0"}}', "values": "1x9 0x30"},
            {"series": f'vibevoice_tts_queue_depth{{{TTS},pod="tts-0"}}', "values": "0x9 _x30"},
            {"series": f'up{{{AGENT},pod="agent-0"}}', "values": "1x40"},
            {"series": f'vibevoice_agent_active_turns{{{AGENT},pod="agent-0"}}', "values": "0x40"},
        ],
        "alert_rule_test": [
            quiet("9m", "VibeVoiceTTSUnavailable"),
            quiet("12m", "VibeVoiceTTSUnavailable"),  # pending for 5m
            fires(found, "16m", "VibeVoiceTTSUnavailable"),
            # the last sample stays visible for Prometheus's 5 minutes of lookback, then 5 more pending
            quiet("12m", "VibeVoiceTTSMetricsAbsent"),
            fires(found, "30m", "VibeVoiceTTSMetricsAbsent", **TTS_LABELS),
            quiet("30m", "VibeVoiceAgentUnavailable"),
            quiet("30m", "VibeVoiceAgentMetricsAbsent"),
        ],
    }
    never_scraped = {  # no agent target at all (a ServiceMonitor that finds nothing): no series to be 0
        "interval": "1m",
        "input_series": [
            {"series": f'up{{{TTS},pod="tts-0"}}', "values": "1x20"},
            {"series": f'vibevoice_tts_queue_depth{{{TTS},pod="tts-0"}}', "values": "0x20"},
        ],
        "alert_rule_test": [
            fires(found, "10m", "VibeVoiceAgentUnavailable"),
            fires(found, "10m", "VibeVoiceAgentMetricsAbsent", **AGENT_LABELS),
            quiet("10m", "VibeVoiceTTSUnavailable"),
            quiet("10m", "VibeVoiceTTSMetricsAbsent"),
        ],
    }
    tests = {"rule_files": [rules.name], "evaluation_interval": "1m", "tests": [down_at_10m, never_scraped]}
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(tests))
    assert "SUCCESS" in run_promtool(promtool, "test", "rules", tmp_path / "tests.yaml")


def test_no_tts_availability_alert_when_it_may_scale_to_zero(rendered_sets: dict[str, Rendered]) -> None:
    assert "VibeVoiceTTSUnavailable" not in alerts(rendered_sets["openshift"])  # KEDA, minReplicas 0
    assert "VibeVoiceAgentUnavailable" in alerts(rendered_sets["openshift"])


@pytest.mark.checkers
def test_autoscaling_queries_parse(promtool: str, rendered_sets: dict[str, Rendered], tmp_path: Path) -> None:
    """KEDA's triggers, and prometheus-adapter's rule as the adapter expands it, are valid PromQL."""
    (scaled,) = rendered_sets["openshift"].all("ScaledObject")
    queries = [trigger["metadata"]["query"] for trigger in scaled["spec"]["triggers"]]
    (rule,) = ADAPTER["rules"]["custom"]
    series = rule["seriesQuery"].split("{")[0]
    expanded = (
        rule["metricsQuery"]
        .replace("<<.Series>>", series)
        .replace("<<.LabelMatchers>>", f'namespace="{NAMESPACE}",pod=~"tts-0|tts-1"')
        .replace("<<.GroupBy>>", "pod")
    )
    records = [
        {"record": f"vibevoice:query{i}", "expr": query} for i, query in enumerate([*queries, expanded])
    ]
    path = tmp_path / "queries.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "queries", "rules": records}]}))
    assert "SUCCESS" in run_promtool(promtool, "check", "rules", path)


def test_adapter_serves_the_metric_the_hpa_asks_for(rendered_sets: dict[str, Rendered]) -> None:
    hpa = rendered_sets["gpu"].one("HorizontalPodAutoscaler", "tts")
    (pods,) = [metric["pods"] for metric in hpa["spec"]["metrics"] if metric["type"] == "Pods"]
    (rule,) = ADAPTER["rules"]["custom"]
    assert rule["name"]["as"] == pods["metric"]["name"]
    assert rule["seriesQuery"].startswith(pods["metric"]["name"] + "{")
    # the HPA asks per pod of its namespace: the rule maps both labels the ServiceMonitor gives the series
    assert set(rule["resources"]["overrides"]) == {"namespace", "pod"}
