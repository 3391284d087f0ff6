"""chart.svg: the distributions of the gated metrics, baseline above current, written as plain SVG.

Per metric, each run gets a box from p25 to p75 with the median marked, whiskers from p5 to p95, and
its samples as dots, all on one axis, so a shift, a wider spread or a new tail shows at a glance.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from xml.sax.saxutils import escape

import numpy as np

from vibevoice_platform.bench.compare import Verdict

WIDTH = 760
LEFT = 150  # room for the row labels
RIGHT = 30
PANEL = 120  # height of one metric's panel
MAX_DOTS = 400  # per row; more samples are thinned evenly
COLOURS = {
    "baseline": "#7f8c8d",
    Verdict.FAIL: "#c0392b",
    Verdict.WARN: "#d68910",
    Verdict.IMPROVED: "#229954",
}
DEFAULT_COLOUR = "#2874a6"


def nice_ticks(low: float, high: float, count: int = 6) -> list[float]:
    """Round tick values (1, 2 or 5 times a power of ten apart) covering [low, high]."""
    if not math.isfinite(low) or not math.isfinite(high):
        raise ValueError("tick range must be finite")
    if high <= low:
        high = low + (abs(low) or 1.0)
    raw = (high - low) / max(1, count - 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    start = math.floor(low / step) * step
    ticks: list[float] = []
    value = start
    while value <= high + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    if ticks[-1] < high:
        ticks.append(round(value, 12))
    return ticks


def _thinned(samples: Sequence[float]) -> list[float]:
    if len(samples) <= MAX_DOTS:
        return list(samples)
    picks = np.linspace(0, len(samples) - 1, MAX_DOTS).round().astype(int)
    return [samples[i] for i in picks]


def _label(value: float) -> str:
    return f"{value:g}"


def _row(
    y: float, samples: Sequence[float], *, colour: str, scale: float, low: float, name: str
) -> list[str]:
    """One run's box, whiskers and dots, centred on y."""

    def x(v: float) -> float:
        return LEFT + (v - low) * scale

    p5, p25, p50, p75, p95 = (float(v) for v in np.percentile(samples, [5, 25, 50, 75, 95]))
    parts = [
        f'<text x="{LEFT - 8}" y="{y + 4:.1f}" text-anchor="end">{escape(name)} (n={len(samples)})</text>',
        f'<line x1="{x(p5):.1f}" y1="{y:.1f}" x2="{x(p95):.1f}" y2="{y:.1f}" stroke="{colour}" />',
        f'<rect x="{x(p25):.1f}" y="{y - 9:.1f}" width="{max(1.0, x(p75) - x(p25)):.1f}" height="18" '
        f'fill="{colour}" fill-opacity="0.25" stroke="{colour}" />',
        f'<line x1="{x(p50):.1f}" y1="{y - 11:.1f}" x2="{x(p50):.1f}" y2="{y + 11:.1f}" stroke="{colour}" '
        f'stroke-width="2.5"><title>p50 {_label(round(p50, 3))}</title></line>',
    ]
    for i, value in enumerate(_thinned(samples)):
        jitter = ((i * 7919) % 13 - 6) * 1.2  # deterministic spread so equal values stay visible
        parts.append(f'<circle cx="{x(value):.1f}" cy="{y + 18 + jitter / 3:.1f}" r="1.6" fill="{colour}" />')
    return parts


def distribution_svg(
    panels: Sequence[tuple[str, str, Sequence[float], Sequence[float], Verdict]],
) -> str:
    """An SVG of (metric, unit, baseline samples, current samples, verdict) panels."""
    drawable = [p for p in panels if p[2] or p[3]]
    height = 40 + PANEL * max(1, len(drawable))
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{height}" fill="white" />',
        '<text x="10" y="22" font-size="14" font-weight="bold">vibevoice-bench: baseline vs this run</text>',
    ]
    if not drawable:
        out.append('<text x="10" y="60">no samples to draw</text>')
    for n, (metric, unit, baseline, current, verdict) in enumerate(drawable):
        top = 40 + n * PANEL
        values = [*baseline, *current]
        ticks = nice_ticks(min(values), max(values))
        low, high = ticks[0], ticks[-1]
        scale = (WIDTH - LEFT - RIGHT) / (high - low)
        axis_y = top + PANEL - 22
        out.append(f'<text x="10" y="{top + 12}" font-weight="bold">{escape(metric)} ({escape(unit)})</text>')
        out.append(f'<line x1="{LEFT}" y1="{axis_y}" x2="{WIDTH - RIGHT}" y2="{axis_y}" stroke="#444" />')
        for tick in ticks:
            tx = LEFT + (tick - low) * scale
            out.append(f'<line x1="{tx:.1f}" y1="{axis_y}" x2="{tx:.1f}" y2="{axis_y + 4}" stroke="#444" />')
            out.append(f'<text x="{tx:.1f}" y="{axis_y + 16}" text-anchor="middle">{_label(tick)}</text>')
        if baseline:
            out += _row(top + 28, baseline, colour=COLOURS["baseline"], scale=scale, low=low, name="baseline")
        if current:
            out += _row(
                top + 62,
                current,
                colour=COLOURS.get(verdict, DEFAULT_COLOUR),
                scale=scale,
                low=low,
                name="this run",
            )
    out.append("</svg>")
    return "\n".join(out) + "\n"
