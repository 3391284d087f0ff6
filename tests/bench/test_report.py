"""summary.md and chart.svg."""

from __future__ import annotations

import pytest

from tests.bench.factories import make_results, noisy, parse_svg
from vibevoice_platform.bench.chart import distribution_svg, nice_ticks
from vibevoice_platform.bench.compare import Verdict, compare
from vibevoice_platform.bench.policy import Policy
from vibevoice_platform.bench.report import MARKER, summary_markdown

SVG = "{http://www.w3.org/2000/svg}"


def _table(markdown: str) -> list[list[str]]:
    rows = [line for line in markdown.splitlines() if line.startswith("| ") and "---" not in line]
    return [[cell.strip() for cell in row.strip("|").split(" | ")] for row in rows]


def test_a_regression_summary_is_a_table_with_a_marker() -> None:
    current = make_results(noisy(160, 50, 2), failures=1)
    markdown = summary_markdown(
        compare(make_results(noisy(40, 50, 1)), current, Policy()), current, "chart.svg"
    )
    assert markdown.startswith(MARKER + "\n### ❌ vibevoice-bench: regression (tts over http)")
    table = _table(markdown.split("<details>")[0])
    assert table[0] == ["Metric", "Baseline", "Current", "Change", "Verdict"]
    rows = {row[0]: row for row in table[1:]}
    assert set(rows) == {
        "ttfa_ms p50", "ttfa_ms p95", "e2e_latency_ms p50", "e2e_latency_ms p95", "error rate", "throughput",
    }  # fmt: skip
    ttfa = rows["ttfa_ms p50"]
    assert ttfa[1].endswith(" ms")
    assert ttfa[2].endswith(" ms")
    assert ttfa[3].startswith("+3")
    assert "%" in ttfa[3]
    assert ttfa[4].startswith("❌ fail: worse by")
    assert rows["error rate"][2] == "1.96%"
    assert rows["error rate"][4].startswith("❌ fail: 1.96% of requests")
    assert "Baseline: `0123456789ab` (2026-01-02 03:04 UTC), 50 requests at concurrency 4" in markdown
    assert "| http_error | 500 | 1 | server_error: boom |" in markdown
    assert "Distributions: `chart.svg`." in markdown


def test_no_baseline_summary_says_the_run_is_the_baseline() -> None:
    current = make_results(noisy(40, 20, 1))
    markdown = summary_markdown(compare(None, current, Policy()), current, None)
    assert "### ✅ vibevoice-bench: no regression" in markdown
    assert "this run is now the baseline" in markdown
    assert "Baseline:" not in markdown
    assert "Distributions" not in markdown


def test_table_cells_cannot_be_broken_by_messages() -> None:
    current = make_results(noisy(40, 20, 1), failures=1)
    current.error_summary[0].message = "a | b\nc"
    markdown = summary_markdown(compare(None, current, Policy()), current, None)
    assert "| a \\| b c |" in markdown


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (0.0, 10.0, [0, 2, 4, 6, 8, 10]),
        (13.0, 87.0, [0, 20, 40, 60, 80, 100]),
        (5.0, 5.0, [5, 6, 7, 8, 9, 10]),
    ],
)
def test_nice_ticks(low: float, high: float, expected: list[float]) -> None:
    assert nice_ticks(low, high) == expected


def test_ticks_cover_the_range_with_round_steps() -> None:
    for low, high in [(0.37, 0.41), (20.1, 997.0), (1234.0, 98765.0)]:
        ticks = nice_ticks(low, high)
        assert ticks[0] <= low
        assert ticks[-1] >= high
        step = ticks[1] - ticks[0]
        assert f"{step:.1e}"[0] in "125"


def test_the_chart_is_svg_with_a_panel_per_metric() -> None:
    base, cur = noisy(40, 50, 1), noisy(160, 50, 2)
    svg = distribution_svg(
        [("ttfa_ms", "ms", base, cur, Verdict.FAIL), ("e2e_latency_ms", "ms", base, [], Verdict.SKIPPED)]
    )
    root = parse_svg(svg)
    assert root.tag == f"{SVG}svg"
    texts = [t.text or "" for t in root.iter(f"{SVG}text")]
    assert "ttfa_ms (ms)" in texts
    assert "e2e_latency_ms (ms)" in texts
    assert "baseline (n=50)" in texts
    assert texts.count("this run (n=50)") == 1
    assert len(list(root.iter(f"{SVG}circle"))) == 150  # every sample is a dot
    assert any(r.get("stroke") == "#c0392b" for r in root.iter(f"{SVG}rect"))  # the failing run in red


def test_a_chart_without_samples_says_so() -> None:
    root = parse_svg(distribution_svg([("ttfa_ms", "ms", [], [], Verdict.SKIPPED)]))
    assert "no samples to draw" in [t.text for t in root.iter(f"{SVG}text")]
