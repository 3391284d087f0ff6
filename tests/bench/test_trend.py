"""The trend: p50 and p95 per run with the gate's band and the failed runs marked, as trend.svg and as
Mermaid in summary.md."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.bench.factories import make_results, noisy, parse_svg
from vibevoice_platform.bench.cli import EXIT_OK, EXIT_REGRESSION, main
from vibevoice_platform.bench.history import History, HistoryEntry, entry_for, spread
from vibevoice_platform.bench.policy import Policy
from vibevoice_platform.bench.trend import (
    FAILED_COLOUR,
    run_labels,
    trend_caption,
    trend_mermaid,
    trend_svg,
    trends,
)

SVG = "{http://www.w3.org/2000/svg}"
UNITS = {"ttfa_ms": "ms", "e2e_latency_ms": "ms"}
FIRST_NIGHT = datetime(2026, 3, 1, 3, 23, tzinfo=UTC)


def nights(centres: Sequence[float]) -> list[HistoryEntry]:
    """One history line per centre (TTFA around it), a night apart, oldest first."""
    return [
        entry_for(make_results(noisy(centre, 100, 500 + n), git_sha=f"{n:040x}")).model_copy(
            update={"started_at": FIRST_NIGHT + timedelta(days=n)}
        )
        for n, centre in enumerate(centres)
    ]


def points(panel: ET.Element, statistic: str) -> list[tuple[int, float]]:
    """(run, cy) of each dot of one statistic in an SVG panel."""
    found = [
        (int(c.get("data-run", "-1")), float(c.get("cy", "nan")))
        for c in panel.iter(f"{SVG}circle")
        if c.get("data-statistic") == statistic
    ]
    return sorted(found)


def test_the_svg_has_a_point_per_night_and_the_band_of_the_gated_statistics() -> None:
    *past, current = nights([30, 31, 29, 30, 32, 30, 31, 45])  # a drift shows at the last night
    policy = Policy()
    root = parse_svg(trend_svg(trends(past, current, UNITS, policy), policy.history.min_runs))
    panels = {g.get("data-metric"): g for g in root.iter(f"{SVG}g") if g.get("class") == "panel"}
    assert set(panels) == {"ttfa_ms", "e2e_latency_ms"}  # one per gated metric
    ttfa = panels["ttfa_ms"]
    for statistic in ("p50", "p95"):
        dots = points(ttfa, statistic)
        assert [night for night, _ in dots] == list(range(8))  # 7 past nights and this run
    p50 = points(ttfa, "p50")
    assert p50[-1][1] < min(cy for _, cy in p50[:-1])  # SVG's y grows downwards: the drift is highest
    bands = {r.get("data-statistic"): r for r in ttfa.iter(f"{SVG}rect") if r.get("class") == "band"}
    assert set(bands) == {"p50", "p95"}  # both are gated by the default policy
    limits = {ln.get("data-statistic"): ln for ln in ttfa.iter(f"{SVG}line") if ln.get("class") == "limit"}
    expected = spread([e.stats["ttfa_ms"]["p50"] for e in past], policy.history.k, "higher").limit
    title = bands["p50"].find(f"{SVG}title")
    assert title is not None
    assert f"limit {expected:.4g}" in (title.text or "")
    # the current p50 (45) is past the limit (the band's top edge), which is where the dashed line is
    limit_y = float(limits["p50"].get("y1", "nan"))
    assert float(bands["p50"].get("y", "nan")) == limit_y
    assert p50[-1][1] < limit_y


def failing(entries: list[HistoryEntry], *indices: int) -> list[HistoryEntry]:
    """`entries` with those runs marked as having failed the gate, as history.json keeps them."""
    return [e.model_copy(update={"passed": False}) if i in indices else e for i, e in enumerate(entries)]


def test_a_failed_run_is_drawn_apart_in_the_svg() -> None:
    *past, current = failing(nights([30, 31, 29, 30, 32, 30, 31, 45]), 3, 7)  # one past, and this run
    policy = Policy()
    root = parse_svg(trend_svg(trends(past, current, UNITS, policy), policy.history.min_runs))
    band = trends(past, current, UNITS, policy)[0].lines[0].band
    assert band is not None
    assert band.runs == 6  # the gate's spread: the past runs that passed, as compare.py judges
    passed = [e.stats["ttfa_ms"]["p50"] for i, e in enumerate(past) if i != 3]
    assert band.limit == spread(passed, policy.history.k, "higher").limit
    heading = next(root.iter(f"{SVG}text")).text or ""
    assert "per run" in heading
    assert "night" not in heading
    for panel in (g for g in root.iter(f"{SVG}g") if g.get("class") == "panel"):
        dots = list(panel.iter(f"{SVG}circle"))
        assert len(dots) == 2 * 8
        marked = sorted({int(c.get("data-run", "-1")) for c in dots if c.get("data-failed") == "true"})
        assert marked == [3, 7]
        for dot in dots:
            failed = dot.get("data-failed") == "true"
            assert (dot.get("fill") == "white") is failed  # hollow
            assert (dot.get("stroke") == FAILED_COLOUR) is failed
            title = dot.find(f"{SVG}title")
            assert title is not None
            assert ("failed the gate" in (title.text or "")) is failed
        texts = [t for t in panel.iter(f"{SVG}text") if t.get("class") == "failed"]
        labels = [t.text or "" for t in texts if "gate" not in (t.text or "")]
        assert labels == ["03-04 ✗", "03-08 ✗"]  # both labelled, whatever labels are thinned out
        assert any("failed the gate" in (t.text or "") for t in texts)  # the legend says what the mark is


def test_no_run_is_marked_when_all_passed() -> None:
    *past, current = nights([30, 31, 29, 30, 32, 30, 31, 45])
    policy = Policy()
    svg = trend_svg(trends(past, current, UNITS, policy), policy.history.min_runs)
    root = parse_svg(svg)
    assert not [c for c in root.iter(f"{SVG}circle") if c.get("data-failed")]
    assert not [t for t in root.iter(f"{SVG}text") if t.get("class") == "failed"]
    assert "✗" not in svg
    chart = trend_mermaid(trends(past, current, UNITS, policy)[0])
    assert "bar [" not in chart
    assert "✗" not in chart


def test_no_band_before_the_history_is_long_enough() -> None:
    *past, current = nights([30, 31, 30])
    policy = Policy()
    root = parse_svg(trend_svg(trends(past, current, UNITS, policy), policy.history.min_runs))
    assert not [r for r in root.iter(f"{SVG}rect") if r.get("class") == "band"]
    assert any("no band yet" in (t.text or "") for t in root.iter(f"{SVG}text"))
    assert len([c for c in root.iter(f"{SVG}circle") if c.get("data-statistic") == "p50"]) == 2 * 3


def test_the_current_run_is_drawn_once_even_when_already_in_the_history() -> None:
    *past, current = nights([30, 31, 29, 30, 32, 30])
    panel = trends([*past, current], current, UNITS, Policy())[0]
    assert len(panel.runs) == 6
    assert panel.lines[0].band is not None
    assert panel.lines[0].band.runs == 5  # the band is of the past runs, never of this one


def test_labels_are_unique_even_for_runs_of_one_day_or_one_minute() -> None:
    entries = nights([30, 30, 30])
    same_day = [entries[0], entries[1].model_copy(update={"started_at": FIRST_NIGHT + timedelta(hours=2)})]
    same_minute = [entries[0], entries[1].model_copy(update={"started_at": FIRST_NIGHT})]
    assert run_labels(entries) == ["03-01", "03-02", "03-03"]
    assert run_labels(same_day) == ["03-01 03:23", "03-01 05:23"]
    assert run_labels(same_minute) == ["03-01 03:23 #1", "03-01 03:23 #2"]


def test_the_mermaid_chart_has_a_line_per_statistic_and_each_limit() -> None:
    *past, current = nights([30, 31, 29, 30, 32, 30, 31, 45])
    panel = trends(past, current, UNITS, Policy())[0]
    chart = trend_mermaid(panel)
    assert chart.startswith("```mermaid\n")
    assert chart.endswith("\n```")
    assert "xychart-beta" in chart
    axis = re.search(r"x-axis \[(.*)\]", chart)
    assert axis is not None
    assert len(axis.group(1).split(", ")) == 8
    lines = re.findall(r"^    line \[(.*)\]$", chart, flags=re.MULTILINE)
    assert len(lines) == 4  # p50, p95, and the flat limit of each
    p50 = [float(v) for v in lines[0].split(", ")]
    assert p50 == [float(f"{e.stats['ttfa_ms']['p50']:.4g}") for e in [*past, current]]
    assert len(set(lines[2].split(", "))) == 1  # the limit is one value across the nights
    caption = trend_caption(panel)  # xychart draws no legend: the caption is it
    assert caption.startswith("Lines: p50 (blue), p95 (amber); flat, lighter: the gate's limit")
    assert f"p50's limit {float(lines[2].split(', ')[0]):.4g}" in caption


def test_the_mermaid_chart_marks_a_failed_run_with_a_column_and_its_label() -> None:
    *past, current = failing(nights([30, 31, 29, 30, 32, 30, 31, 45]), 5)
    panel = trends(past, current, UNITS, Policy())[0]
    chart = trend_mermaid(panel)
    title = re.search(r'title "(.*)"', chart)
    assert title is not None
    assert title.group(1) == "ttfa_ms (ms) per run"
    axis = re.search(r"x-axis \[(.*)\]", chart)
    assert axis is not None
    labels = axis.group(1).split(", ")
    assert [i for i, label in enumerate(labels) if label.endswith(' ✗"')] == [5]
    y_axis = re.search(r"y-axis .* (\S+) --> (\S+)$", chart, flags=re.MULTILINE)
    assert y_axis is not None
    (bars,) = re.findall(r"^    bar \[(.*)\]$", chart, flags=re.MULTILINE)
    heights = [float(v) for v in bars.split(", ")]
    bottom, top = float(y_axis.group(1)), float(y_axis.group(2))
    assert heights == [top if i == 5 else bottom for i in range(8)]  # a full-height column at the run
    palette = re.search(r'"plotColorPalette": "([^"]*)"', chart)
    assert palette is not None
    assert palette.group(1).split(", ")[0] == FAILED_COLOUR + "40"  # the bar comes first: its colour
    assert "a red column and ✗ after the label: a run that failed the gate" in trend_caption(panel)


def write_history(path: Path, entries: Sequence[HistoryEntry]) -> None:
    path.write_text(History(runs=list(entries)).model_dump_json(), encoding="utf-8")


def test_compare_writes_the_trend_beside_the_chart_and_into_the_summary(tmp_path: Path) -> None:
    past = nights([30, 31, 29, 30, 32, 30])
    write_history(tmp_path / "history.json", past)
    baseline, current = tmp_path / "baseline.json", tmp_path / "current.json"
    baseline.write_text(make_results(noisy(30, 100, 1)).model_dump_json(), encoding="utf-8")
    current.write_text(make_results(noisy(31, 100, 2)).model_dump_json(), encoding="utf-8")
    out = tmp_path / "out"
    argv = ["compare", "--baseline", str(baseline), "--current", str(current), "--out", str(out)]
    assert main([*argv, "--history", str(tmp_path / "history.json")]) == EXIT_OK
    root = parse_svg((out / "trend.svg").read_text(encoding="utf-8"))
    p50 = [c for c in root.iter(f"{SVG}circle") if c.get("data-statistic") == "p50"]
    assert len(p50) == 2 * 7  # two panels, six past nights and this run
    assert [r.get("data-statistic") for r in root.iter(f"{SVG}rect") if r.get("class") == "band"] == [
        "p50", "p95", "p50", "p95",
    ]  # fmt: skip
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert summary.count("```mermaid") == 2
    assert "Trend: `trend.svg`." in summary
    assert len(json.loads((out / "history.json").read_text(encoding="utf-8"))["runs"]) == 7

    alone = tmp_path / "alone"
    assert main(["compare", "--baseline", str(baseline), "--current", str(current), "--out", str(alone)]) == 0
    assert not (alone / "trend.svg").exists()  # no history, no trend
    assert "mermaid" not in (alone / "summary.md").read_text(encoding="utf-8")


def test_a_run_that_fails_the_gate_is_marked_in_its_own_trend(tmp_path: Path) -> None:
    write_history(tmp_path / "history.json", nights([30, 31, 29, 30, 32, 30]))
    baseline, current = tmp_path / "baseline.json", tmp_path / "current.json"
    baseline.write_text(make_results(noisy(30, 100, 1)).model_dump_json(), encoding="utf-8")
    current.write_text(make_results(noisy(120, 100, 2)).model_dump_json(), encoding="utf-8")  # 4x slower
    out = tmp_path / "out"
    argv = ["compare", "--baseline", str(baseline), "--current", str(current), "--out", str(out)]
    assert main([*argv, "--history", str(tmp_path / "history.json")]) == EXIT_REGRESSION
    root = parse_svg((out / "trend.svg").read_text(encoding="utf-8"))
    marked = {c.get("data-run") for c in root.iter(f"{SVG}circle") if c.get("data-failed") == "true"}
    assert marked == {"6"}  # this run, the last of seven
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert summary.count("    bar [") == 2  # a column in each metric's chart
