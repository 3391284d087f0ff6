"""The trend: p50 and p95 of each gated metric per run, from the history, with the gate's band.

A regression that creeps in by less than the run-to-run spread each run is accepted run by run
(history.py says why); drawn as a line over the runs, it shows before it fails. Each panel is one
gated metric: its p50 and p95 per past run of the series, this run last, and, for each gated statistic,
the band this run was judged against: from the past runs' median to their median + k x MAD (in the
worse direction), the limit beyond which a change counts (dashed). A run that failed the gate (the
history keeps it, marked) is drawn apart: hollow red dots and a red label in the SVG, a red column
and a marked label in the Mermaid chart. The axis labels are the runs' own start times (UTC).

Two renderings of the same `Trend`: `trend_svg`, hand-written SVG like chart.svg, for the artifact;
`trend_mermaid`, a Mermaid `xychart-beta` for summary.md, which GitHub draws in a job summary, an
issue or a comment (an SVG file cannot be shown there: a summary can only link to images on the web).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

from vibevoice_platform.bench.chart import nice_ticks
from vibevoice_platform.bench.history import HistoryEntry, Spread, past_values, spread
from vibevoice_platform.bench.policy import Policy
from vibevoice_platform.bench.wording import counted

STATISTICS = ("p50", "p95")
COLOURS = {"p50": "#2874a6", "p95": "#b9770e"}
COLOUR_NAMES = {"p50": "blue", "p95": "amber"}  # for the Mermaid chart's caption: xychart has no legend
FAILED_COLOUR = "#c0392b"
FAILED_MARK = "✗"  # after a failed run's label
WIDTH = 760
LEFT = 70
RIGHT = 30
PANEL = 220  # height of one metric's panel
PLOT = 150  # height of its plot area
LABEL = 90  # width of a run's label
Scale = Callable[[float], float]


@dataclass(frozen=True)
class Line:
    """One statistic over the runs, oldest first, this run last; its band when it is gated."""

    statistic: str
    values: list[float | None]  # None: that run did not record it
    band: Spread | None  # the past runs' median and the limit noise may reach


@dataclass(frozen=True)
class Trend:
    """One metric's panel: the runs' labels, which of them failed the gate, and a line per statistic."""

    metric: str
    unit: str
    runs: list[str]
    failed: list[bool]
    lines: list[Line]


def run_labels(entries: Sequence[HistoryEntry]) -> list[str]:
    """A unique label per run (a chart's axis merges equal ones): its date, with the time where two
    runs share a day, and its position where they share a minute."""
    days = [f"{e.started_at:%m-%d}" for e in entries]
    labels = [
        f"{e.started_at:%m-%d %H:%M}" if days.count(day) > 1 else day
        for e, day in zip(entries, days, strict=True)
    ]
    return [f"{label} #{i + 1}" if labels.count(label) > 1 else label for i, label in enumerate(labels)]


def trends(
    past: Sequence[HistoryEntry], current: HistoryEntry, units: dict[str, str], policy: Policy
) -> list[Trend]:
    """A panel per gated metric over `past` (the series' past runs, oldest first) and `current`."""
    runs = [
        *(e for e in past if (e.git_sha, e.started_at) != (current.git_sha, current.started_at)),
        current,
    ]
    passing = [entry for entry in runs[:-1] if entry.passed]  # the gate's spread is theirs (compare.py)
    panels: list[Trend] = []
    for metric in dict.fromkeys(check.metric for check in policy.checks):
        lines: list[Line] = []
        for name in STATISTICS:
            values = [entry.stats.get(metric, {}).get(name) for entry in runs]
            check = next((c for c in policy.checks if (c.metric, c.statistic) == (metric, name)), None)
            history = past_values(passing, metric, name)
            band = None
            if check is not None and len(history) >= policy.history.min_runs:
                band = spread(history, policy.history.k, check.worse)
            lines.append(Line(name, values, band))
        if any(v is not None for line in lines for v in line.values):
            failed = [not entry.passed for entry in runs]
            panels.append(Trend(metric, units.get(metric, ""), run_labels(runs), failed, lines))
    return panels


def _range(trend: Trend) -> list[float]:
    values = [v for line in trend.lines for v in line.values if v is not None]
    values += [edge for line in trend.lines if line.band for edge in (line.band.median, line.band.limit)]
    return nice_ticks(min(0.0, *values), max(values))


def trend_svg(panels: Sequence[Trend], min_runs: int) -> str:
    """The trend as SVG: a panel per metric, a line and a dot per run for each statistic, the band
    shaded with its limit dashed, a failed run's dots hollow and red."""
    height = 40 + PANEL * max(1, len(panels))
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{height}" fill="white" />',
        '<text x="10" y="22" font-size="14" font-weight="bold">vibevoice-bench: p50 and p95 per run, '
        "with the gate's band</text>",
    ]
    if not panels:
        out.append('<text x="10" y="60">no history to draw</text>')
    for n, trend in enumerate(panels):
        out += _panel(trend, top=40 + n * PANEL, min_runs=min_runs)
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _panel(trend: Trend, *, top: float, min_runs: int) -> list[str]:
    ticks = _range(trend)
    low, high = ticks[0], ticks[-1]
    plot_bottom = top + 30 + PLOT
    count = len(trend.runs)
    step = (WIDTH - LEFT - RIGHT) / max(1, count - 1) if count > 1 else 0.0

    def x(i: int) -> float:
        return LEFT + i * step if count > 1 else (LEFT + WIDTH - RIGHT) / 2

    def y(v: float) -> float:
        return plot_bottom - (v - low) / (high - low) * PLOT

    title = f"{escape(trend.metric)} ({escape(trend.unit)})" if trend.unit else escape(trend.metric)
    out = [
        f'<g class="panel" data-metric="{escape(trend.metric)}">',
        f'<text x="10" y="{top + 14}" font-weight="bold">{title}</text>',
    ]
    legend_x = LEFT + 180
    for line in trend.lines:
        colour = COLOURS[line.statistic]
        out.append(
            f'<text x="{legend_x}" y="{top + 14}" fill="{colour}" font-weight="bold">{line.statistic}</text>'
        )
        legend_x += 40
    out.append(f'<text x="{legend_x}" y="{top + 14}" fill="#555">{_band_legend(trend, min_runs)}</text>')
    if any(trend.failed):
        out.append(
            f'<text class="failed" x="{WIDTH - RIGHT}" y="{top + 27}" text-anchor="end" '
            f'fill="{FAILED_COLOUR}">hollow red dots, {FAILED_MARK}: a run that failed the gate</text>'
        )
    for tick in ticks:
        ty = y(tick)
        out.append(f'<line x1="{LEFT}" y1="{ty:.1f}" x2="{WIDTH - RIGHT}" y2="{ty:.1f}" stroke="#e5e5e5" />')
        out.append(f'<text x="{LEFT - 6}" y="{ty + 4:.1f}" text-anchor="end">{tick:g}</text>')
    for line in trend.lines:
        if line.band is not None:
            out += _band_shapes(line.band, line.statistic, x(0), x(count - 1), y)
    for line in trend.lines:
        out += _series(line, trend, x, y)
    every = max(1, math.ceil(count * LABEL / (WIDTH - LEFT - RIGHT)))
    for i, run in enumerate(trend.runs):
        if i % every == 0 or i == count - 1 or trend.failed[i]:
            anchor = "end" if i == count - 1 and count > 1 else "middle"
            label_y = plot_bottom + 16
            mark = f' class="failed" fill="{FAILED_COLOUR}"' if trend.failed[i] else ""
            text = f"{run} {FAILED_MARK}" if trend.failed[i] else run
            out.append(
                f'<text x="{x(i):.1f}" y="{label_y:.1f}" text-anchor="{anchor}"{mark}>{escape(text)}</text>'
            )
    out.append("</g>")
    return out


def _band_legend(trend: Trend, min_runs: int) -> str:
    if any(line.band for line in trend.lines):
        runs = next(line.band.runs for line in trend.lines if line.band)
        return f"band: median to median + k x MAD of {counted(runs, 'past passing run')} (the limit, dashed)"
    return f"no band yet: it needs {counted(min_runs, 'past passing run')}"


def _band_shapes(band: Spread, statistic: str, left: float, right: float, y: Scale) -> list[str]:
    colour = COLOURS[statistic]
    limit, median = y(band.limit), y(band.median)
    top, bottom = min(limit, median), max(limit, median)
    return [
        f'<rect class="band" data-statistic="{statistic}" x="{left:.1f}" y="{top:.1f}" '
        f'width="{max(1.0, right - left):.1f}" height="{max(1.0, bottom - top):.1f}" fill="{colour}" '
        f'fill-opacity="0.12"><title>{statistic} band: median {band.median:.4g}, '
        f"limit {band.limit:.4g}</title></rect>",
        f'<line x1="{left:.1f}" y1="{median:.1f}" x2="{right:.1f}" y2="{median:.1f}" stroke="{colour}" '
        'stroke-opacity="0.5" />',
        f'<line class="limit" data-statistic="{statistic}" x1="{left:.1f}" y1="{limit:.1f}" '
        f'x2="{right:.1f}" y2="{limit:.1f}" stroke="{colour}" stroke-dasharray="5 4" />',
    ]


def _series(line: Line, trend: Trend, x: Callable[[int], float], y: Scale) -> list[str]:
    colour = COLOURS[line.statistic]
    points = [(i, v) for i, v in enumerate(line.values) if v is not None]
    path = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in points)
    out = [f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="1.8" />'] if points else []
    last = len(trend.runs) - 1
    for i, v in points:
        radius = 4.5 if i == last else 2.8
        paint, note = f'fill="{colour}"', ""
        if trend.failed[i]:  # hollow, in red, a size up: apart from the passing runs whatever the colour
            paint, note = f'fill="white" stroke="{FAILED_COLOUR}" stroke-width="2"', " (failed the gate)"
            radius += 1
        failed = ' data-failed="true"' if trend.failed[i] else ""
        out.append(
            f'<circle class="point" data-statistic="{line.statistic}" data-run="{i}"{failed} '
            f'cx="{x(i):.1f}" cy="{y(v):.1f}" r="{radius}" {paint}><title>{escape(trend.runs[i])}: '
            f"{line.statistic} {v:.4g}{note}</title></circle>"
        )
    return out


def trend_mermaid(trend: Trend) -> str:
    """A fenced Mermaid `xychart-beta` of one panel: a line per statistic, the band's limit of each
    gated statistic as a flat line, and a failed run as a red column the height of the chart, its label
    marked (xychart has neither areas, nor legends, nor a colour per point: the caption names them)."""
    # xychart cannot leave a gap: runs missing a statistic (a run with no samples of it) are left out
    kept = [i for i in range(len(trend.runs)) if all(line.values[i] is not None for line in trend.lines)]
    ticks = _range(trend)
    colours: list[str] = []
    plots: list[str] = []
    if any(trend.failed[i] for i in kept):  # first, so the lines are drawn over it
        colours.append(FAILED_COLOUR + "40")
        plots.append(_plot("bar", [ticks[-1] if trend.failed[i] else ticks[0] for i in kept]))
    for line in trend.lines:
        colours.append(COLOURS[line.statistic])
        plots.append(_plot("line", [line.values[i] or 0.0 for i in kept]))
    for line in trend.lines:
        if line.band is not None:
            colours.append(COLOURS[line.statistic] + "80")  # the same colour, half transparent
            plots.append(_plot("line", [line.band.limit] * len(kept)))
    init = '{"themeVariables": {"xyChart": {"plotColorPalette": "' + ", ".join(colours) + '"}}}'
    labels = ", ".join(f'"{trend.runs[i]}{" " + FAILED_MARK if trend.failed[i] else ""}"' for i in kept)
    unit = f" ({trend.unit})" if trend.unit else ""
    lines = [
        "```mermaid",
        f"%%{{init: {init}}}%%",
        "xychart-beta",
        f'    title "{trend.metric}{unit} per run"',
        f"    x-axis [{labels}]",
        f'    y-axis "{trend.unit or trend.metric}" {ticks[0]:g} --> {ticks[-1]:g}',
        *plots,
        "```",
    ]
    return "\n".join(lines)


def _plot(kind: str, values: Sequence[float]) -> str:
    return f"    {kind} [{', '.join(f'{v:.4g}' for v in values)}]"


def trend_caption(trend: Trend) -> str:
    """What the Mermaid chart's lines are, since xychart draws no legend."""
    names = [f"{line.statistic} ({COLOUR_NAMES[line.statistic]})" for line in trend.lines]
    limits = [f"{line.statistic}'s limit {line.band.limit:.4g}" for line in trend.lines if line.band]
    caption = f"Lines: {', '.join(names)}"
    if limits:
        caption += (
            f"; flat, lighter: the gate's limit ({', '.join(limits)}: median + k x MAD of past passing runs)"
        )
    if any(trend.failed):
        caption += f"; a red column and {FAILED_MARK} after the label: a run that failed the gate"
    return caption + "; this run is the last point."
