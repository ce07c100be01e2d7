"""Small server-rendered SVG charts: no JavaScript, no request anywhere.

A chart is one <svg> that scales to its container (viewBox, width 100%), a line or bars per
series with gaps where a day has no value, and the target drawn as a dashed line. Series names
may be outside text (alert types): they are escaped here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from shared.untrusted import for_html

W, H = 480, 190
LEFT, RIGHT, TOP, BOTTOM = 56, 8, 14, 26
COLOURS = ("#2563eb", "#f97316", "#16a34a", "#9333ea")


@dataclass
class Series:
    name: str
    values: list[float | None]
    bars: bool = False


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    for step in (1, 2, 2.5, 5):
        for power in range(-3, 9):
            top = step * 10**power
            if top >= value:
                return float(top)
    return value


def chart(
    title: str,
    days: list[str],
    series: list[Series],
    *,
    target: float | None = None,
    target_label: str = "",
    fmt: Callable[[float], str] = lambda v: f"{v:g}",
    y_max: float | None = None,
) -> str:
    """An <svg> chart of `series` over `days` (oldest first)."""
    values = [v for s in series for v in s.values if v is not None]
    top = y_max or _nice_max(max([*values, target or 0.0, 0.0]) * 1.05)
    n = max(len(days), 1)
    plot_w, plot_h = W - LEFT - RIGHT, H - TOP - BOTTOM
    step = plot_w / n

    def x(i: int) -> float:
        return LEFT + step * (i + 0.5)

    def y(v: float) -> float:
        return TOP + plot_h * (1 - min(v, top) / top)

    parts = [
        f'<svg class="chart" viewBox="0 0 {W} {H}" width="100%" role="img" '
        f'aria-label="{for_html(title, 200)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{for_html(title, 200)}</title>",
    ]
    for frac in (0.0, 0.5, 1.0):
        gy = TOP + plot_h * (1 - frac)
        parts.append(
            f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{gy:.1f}" y2="{gy:.1f}" class="grid"/>'
            f'<text x="{LEFT - 4}" y="{gy + 4:.1f}" text-anchor="end" class="axis">'
            f"{for_html(fmt(top * frac), 20)}</text>"
        )
    if days:
        parts.append(
            f'<text x="{LEFT}" y="{H - 6}" class="axis">{for_html(days[0], 20)}</text>'
            f'<text x="{W - RIGHT}" y="{H - 6}" text-anchor="end" class="axis">'
            f"{for_html(days[-1], 20)}</text>"
        )
    bar_series = [s for s in series if s.bars]
    for k, s in enumerate(series):
        colour = COLOURS[k % len(COLOURS)]
        if s.bars:
            j = bar_series.index(s)
            bw = step * 0.8 / max(len(bar_series), 1)
            for i, v in enumerate(s.values):
                if v is None or v <= 0:
                    continue
                bx = LEFT + step * i + step * 0.1 + bw * j
                parts.append(
                    f'<rect x="{bx:.1f}" y="{y(v):.1f}" width="{max(bw - 0.5, 0.5):.1f}" '
                    f'height="{TOP + plot_h - y(v):.1f}" fill="{colour}">'
                    f"<title>{for_html(s.name, 80)} {for_html(days[i], 20)}: "
                    f"{for_html(fmt(v), 20)}</title></rect>"
                )
            continue
        run: list[str] = []
        segments: list[list[str]] = []
        for i, v in enumerate(s.values):
            if v is None:
                if run:
                    segments.append(run)
                run = []
                continue
            run.append(f"{x(i):.1f},{y(v):.1f}")
        if run:
            segments.append(run)
        for seg in segments:
            if len(seg) == 1:
                cx, cy = seg[0].split(",")
                parts.append(f'<circle cx="{cx}" cy="{cy}" r="2.5" fill="{colour}"/>')
            else:
                parts.append(
                    f'<polyline points="{" ".join(seg)}" fill="none" stroke="{colour}" '
                    'stroke-width="2"/>'
                )
    if target is not None:
        ty = y(target)
        parts.append(
            f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{ty:.1f}" y2="{ty:.1f}" class="target"/>'
            f'<text x="{W - RIGHT - 2}" y="{ty - 3:.1f}" text-anchor="end" class="target-label">'
            f"{for_html(target_label or 'target ' + fmt(target), 60)}</text>"
        )
    parts.append("</svg>")
    legend = "".join(
        f'<span class="key"><i style="background:{COLOURS[k % len(COLOURS)]}"></i>'
        f"{for_html(s.name, 80)}</span>"
        for k, s in enumerate(series)
    )
    return f"<figure><figcaption>{for_html(title, 200)}</figcaption>{''.join(parts)}" + (
        f'<div class="legend">{legend}</div></figure>'
    )


def seconds(v: float) -> str:
    if v >= 3600:
        return f"{v / 3600:.1f} h"
    if v >= 120:
        return f"{v / 60:.0f} min"
    return f"{v:.0f} s"


def percent(v: float) -> str:
    return f"{v:.0%}"


def count(v: float) -> str:
    return f"{v:.0f}" if v >= 10 or v == int(v) else f"{v:.1f}"
