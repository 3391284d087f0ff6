"""summary.md: the comparison as GitHub-flavoured Markdown, for a job summary or a PR comment.

The first line is an HTML comment that marks the text as ours, so a bot can find and update its own
comment or issue instead of adding another one.
"""

from __future__ import annotations

from collections.abc import Sequence

from vibevoice_platform.bench.compare import CheckResult, Comparison, RunRef, Verdict
from vibevoice_platform.bench.results import Results
from vibevoice_platform.bench.trend import Trend, trend_caption, trend_mermaid
from vibevoice_platform.bench.wording import counted

MARKER = "<!-- vibevoice-bench -->"
ICONS = {
    Verdict.PASS: "✅",
    Verdict.IMPROVED: "🚀",
    Verdict.WARN: "⚠️",
    Verdict.FAIL: "❌",
    Verdict.SKIPPED: "⏭️",
}
HEADLINES = {
    Verdict.PASS: "no regression",
    Verdict.WARN: "warnings",
    Verdict.FAIL: "regression",
}


def _cell(text: str) -> str:
    """Text safe inside a table cell."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("\r", " ")


def _value(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    suffix = {"ms": " ms", "s": " s", "ratio": "", "bytes": " B", "": ""}.get(unit, f" {unit}")
    return f"{value:,.4g}{suffix}" if abs(value) >= 1000 else f"{value:.4g}{suffix}"


def _change(result: CheckResult) -> str:
    if result.change is None:
        return "-"
    absolute = f"{result.change:+.4g}{' ' + result.unit if result.unit and result.unit != 'ratio' else ''}"
    if result.relative is None:
        return absolute
    return f"{result.relative:+.1%} ({absolute})"


def _ref(ref: RunRef) -> str:
    sha = f"`{ref.git_sha[:12]}`" if ref.git_sha else "unknown commit"
    engine = f", engine {ref.engine}" if ref.engine else ""
    when = f"{ref.started_at:%Y-%m-%d %H:%M} UTC"
    return f"{sha} ({when}), {counted(ref.requests, 'request')} at concurrency {ref.concurrency}{engine}"


def summary_markdown(
    comparison: Comparison,
    current: Results,
    chart: str | None,
    trends: Sequence[Trend] = (),
    trend_file: str | None = None,
) -> str:
    """The Markdown summary of a comparison; `chart` is the chart's file name, if one was written, and
    `trends` the history's panels, drawn as Mermaid charts (`trend_file`: the same as SVG)."""
    run = current.run
    verdict = comparison.verdict
    lines = [
        MARKER,
        f"### {ICONS[verdict]} vibevoice-bench: {HEADLINES[verdict]} ({run.target} over {run.protocol})",
        "",
    ]
    if comparison.baseline_created:
        lines += ["No baseline was found: this run is now the baseline, and the gate passes.", ""]
    lines += ["| Metric | Baseline | Current | Change | Verdict |", "|:--|--:|--:|--:|:--|"]
    for check in comparison.checks:
        lines.append(
            f"| {check.metric} {check.statistic} | {_value(check.baseline, check.unit)} "
            f"| {_value(check.current, check.unit)} | {_change(check)} "
            f"| {ICONS[check.verdict]} {check.verdict}: {_cell(check.reason)} |"
        )
    rate = comparison.error_rate
    base_rate = "-" if rate.baseline is None else f"{rate.baseline:.2%}"
    lines.append(
        f"| error rate | {base_rate} | {rate.current:.2%} | "
        f"{'-' if rate.baseline is None else f'{(rate.current - rate.baseline) * 100:+.2f} pp'} "
        f"| {ICONS[rate.verdict]} {rate.verdict}: {_cell(rate.reason)} |"
    )
    base_rps, current_rps = comparison.throughput_rps
    lines.append(
        f"| throughput | {'-' if base_rps is None else f'{base_rps:.3g} req/s'} | {current_rps:.3g} req/s "
        f"| {'-' if not base_rps else f'{(current_rps - base_rps) / base_rps:+.1%}'} | not gated |"
    )
    lines.append("")
    if comparison.pairs is not None:
        lines.append(
            f"Measured interleaved in one run: {counted(comparison.pairs, 'pair')}, the same text to both "
            "targets in a random order; judged on the differences within the pairs.  "
        )
    if comparison.baseline is not None:
        lines.append(f"Baseline: {_ref(comparison.baseline)}.  ")
    lines.append(f"This run: {_ref(comparison.current)}, on {current.testbed.cpu_model or 'an unknown CPU'}"
                 f"{' with ' + current.testbed.gpu if current.testbed.gpu else ''}.")  # fmt: skip
    if comparison.notes:
        lines += ["", *(f"- {_cell(note)}" for note in comparison.notes)]
    if current.error_summary:
        lines += ["", "<details><summary>Errors of this run</summary>", ""]
        lines += ["| Type | Code | Count | First message |", "|:--|:--|--:|:--|"]
        lines += [
            f"| {e.type} | {e.code or '-'} | {e.count} | {_cell(e.message[:200])} |"
            for e in current.error_summary
        ]
        lines += ["", "</details>"]
    policy = comparison.policy
    spread = ""
    if comparison.history_runs is not None and comparison.history_runs >= policy.history.min_runs:
        spread = (
            f", and beyond the run-to-run spread of {counted(comparison.history_runs, 'past run')} "
            f"(median + {policy.history.k:g} x MAD)"
        )
    lines += [
        "",
        "A change counts only when it is past its threshold and significant "
        f"({policy.method}, alpha {policy.alpha:g}){spread}.",
    ]
    if chart:
        lines.append(f"Distributions: `{chart}`.")
    if trends:
        lines += ["", f"#### Trend over the last {counted(len(trends[0].runs), 'run')}", ""]
        for trend in trends:
            lines += [trend_mermaid(trend), "", trend_caption(trend), ""]
    if trend_file:
        lines.append(f"Trend: `{trend_file}`.")
    return "\n".join(lines) + "\n"
