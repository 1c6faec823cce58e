"""Inline SVG charts drawn in Python: no JavaScript, no fonts or files to fetch.

A report attached to a bug must render the same in ten years and in any browser, so
the charts are plain SVG elements with a <title> and <desc> for screen readers; the
HTML page puts a table with the same numbers under each chart.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from html import escape

from certkeeper.report.model import ShardBar
from certkeeper.report.series import Point

# Colours are part of the contract: the rendering test counts pixels of these.
REMAINING_FILL = "#2b6cb0"
PLANNED_STROKE = "#dd6b20"
DEADLINE_STROKE = "#c53030"
BAR_NOW = "#2f855a"
BAR_PROJECTED = "#9ae6b4"
BUDGET_STROKE = "#c53030"
AXIS = "#4a5568"

WIDTH, HEIGHT = 960, 340
LEFT, RIGHT, TOP, BOTTOM = 90, 30, 40, 70


def _attr(value: object) -> str:
    return escape(str(value), quote=True)


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    exponent = 1.0
    while exponent * 10 <= value:
        exponent *= 10
    for step in (1, 2, 2.5, 5, 10):
        if step * exponent >= value:
            return step * exponent
    return 10 * exponent


def _fmt(n: float) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:g}M"
    if n >= 10_000:
        return f"{n / 1000:g}k"
    return f"{n:g}"


def _open(chart_id: str, title: str, desc: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" id="{_attr(chart_id)}" role="img" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        f'aria-labelledby="{_attr(chart_id)}-title {_attr(chart_id)}-desc" '
        'font-family="sans-serif" font-size="12">',
        f'<title id="{_attr(chart_id)}-title">{escape(title)}</title>',
        f'<desc id="{_attr(chart_id)}-desc">{escape(desc)}</desc>',
        f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
    ]


def _y_axis(ymax: float, label: str) -> list[str]:
    plot_h = HEIGHT - TOP - BOTTOM
    out = [
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{HEIGHT - BOTTOM}" stroke="{AXIS}"/>',
        f'<text x="18" y="{TOP + plot_h / 2:.1f}" text-anchor="middle" '
        f'transform="rotate(-90 18 {TOP + plot_h / 2:.1f})">{escape(label)}</text>',
    ]
    for i in range(5):
        value = ymax * i / 4
        y = HEIGHT - BOTTOM - plot_h * i / 4
        out.append(
            f'<line x1="{LEFT - 5}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" '
            f'stroke="#e2e8f0"/>'
        )
        out.append(
            f'<text x="{LEFT - 8}" y="{y + 4:.1f}" text-anchor="end">{escape(_fmt(value))}</text>'
        )
    return out


def remaining_chart(
    actual: Sequence[Point],
    planned: Sequence[Point],
    deadline: datetime,
    total: int,
    chart_id: str = "remaining-chart",
) -> str:
    """Remaining certificates over time (area, up to the report time), the plan (dashed)
    and the deadline (vertical line)."""
    points = [*actual, *planned]
    start = min([p[0] for p in points] + [deadline])
    end = max([p[0] for p in points] + [deadline])
    if end <= start:
        end = start + timedelta(days=1)
    end = end + (end - start) / 40  # room to see the deadline at the right edge
    ymax = _nice_max(max([total, *[v for _, v in points]]))
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    span = (end - start).total_seconds()

    def x(t: datetime) -> float:
        return LEFT + plot_w * (t - start).total_seconds() / span

    def y(v: float) -> float:
        return HEIGHT - BOTTOM - plot_h * v / ymax

    now_value = actual[-1][1] if actual else total
    desc = (
        f"{total} affected certificates; {now_value} remaining at "
        f"{actual[-1][0]:%Y-%m-%d %H:%M} UTC; deadline {deadline:%Y-%m-%d %H:%M} UTC."
        if actual
        else f"{total} affected certificates; deadline {deadline:%Y-%m-%d %H:%M} UTC."
    )
    out = _open(chart_id, "Remaining certificates against the revocation deadline", desc)
    out += _y_axis(ymax, "Remaining certificates")
    out.append(
        f'<line x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH - RIGHT}" y2="{HEIGHT - BOTTOM}" '
        f'stroke="{AXIS}"/>'
    )
    for i in range(6):
        moment = start + (end - start) * i / 5
        out.append(
            f'<text x="{x(moment):.1f}" y="{HEIGHT - BOTTOM + 18}" text-anchor="middle">'
            f"{moment:%Y-%m-%d}</text>"
        )
        out.append(
            f'<text x="{x(moment):.1f}" y="{HEIGHT - BOTTOM + 32}" text-anchor="middle" '
            f'fill="{AXIS}">{moment:%H:%M}</text>'
        )
    out.append(
        f'<text x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 12}" text-anchor="middle">'
        "Time (UTC)</text>"
    )
    if actual:
        path = [f"M{x(actual[0][0]):.1f},{y(0):.1f}"]
        previous = None
        for t, v in actual:
            if previous is not None:
                path.append(f"L{x(t):.1f},{y(previous):.1f}")
            path.append(f"L{x(t):.1f},{y(v):.1f}")
            previous = v
        path.append(f"L{x(actual[-1][0]):.1f},{y(0):.1f}Z")
        out.append(
            f'<path d="{" ".join(path)}" fill="{REMAINING_FILL}" stroke="none">'
            "<title>Remaining certificates (actual)</title></path>"
        )
    if planned:
        steps = []
        previous = None
        for t, v in planned:
            if previous is not None:
                steps.append(f"{x(t):.1f},{y(previous):.1f}")
            steps.append(f"{x(t):.1f},{y(v):.1f}")
            previous = v
        out.append(
            f'<polyline points="{" ".join(steps)}" fill="none" stroke="{PLANNED_STROKE}" '
            'stroke-width="2" stroke-dasharray="6 4"><title>Remaining certificates '
            "(plan)</title></polyline>"
        )
    dx = x(deadline)
    out.append(
        f'<line x1="{dx:.1f}" y1="{TOP}" x2="{dx:.1f}" y2="{HEIGHT - BOTTOM}" '
        f'stroke="{DEADLINE_STROKE}" stroke-width="3"><title>Deadline</title></line>'
    )
    out.append(
        f'<text x="{dx - 6:.1f}" y="{TOP + 14}" text-anchor="end" fill="{DEADLINE_STROKE}">'
        f"deadline {deadline:%Y-%m-%d %H:%M}</text>"
    )
    out += _legend(
        [
            (REMAINING_FILL, "remaining (actual)"),
            (PLANNED_STROKE, "remaining (plan)"),
            (DEADLINE_STROKE, "deadline"),
        ]
    )
    out.append("</svg>")
    return "\n".join(out)


def _legend(entries: Sequence[tuple[str, str]]) -> list[str]:
    out = []
    x = LEFT + 10
    for colour, label in entries:
        out.append(f'<rect x="{x}" y="{TOP - 30}" width="12" height="12" fill="{colour}"/>')
        out.append(f'<text x="{x + 16}" y="{TOP - 20}">{escape(label)}</text>')
        x += 30 + 7 * len(label)
    return out


def shard_chart(shards: Sequence[ShardBar], budget: int, chart_id: str = "shard-chart") -> str:
    """CRL shard sizes now (solid) and with every remaining affected certificate revoked
    now (light, stacked), against the byte budget (horizontal line)."""
    ymax = _nice_max(max([budget, *[s.projected_bytes for s in shards]]) * 1.05)
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM

    def y(v: float) -> float:
        return HEIGHT - BOTTOM - plot_h * v / ymax

    over = [s for s in shards if s.projected_bytes > budget]
    desc = (
        f"{len(shards)} CRL shard(s) hold affected certificates; budget {budget} bytes; "
        f"{len(over)} would exceed it if every remaining affected certificate were revoked now."
    )
    out = _open(chart_id, "CRL shard sizes against the byte budget", desc)
    out += _y_axis(ymax, "CRL size (bytes)")
    out.append(
        f'<line x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH - RIGHT}" y2="{HEIGHT - BOTTOM}" '
        f'stroke="{AXIS}"/>'
    )
    slot = plot_w / max(1, len(shards))
    bar_w = round(max(2.0, min(60.0, slot * 0.6)))
    base = round(y(0))
    for i, s in enumerate(shards):
        cx = LEFT + slot * (i + 0.5)
        left = round(cx - bar_w / 2)
        label = f"{s.issuer} / {s.shard}"
        # Whole pixels and crisp edges; a non-empty part is at least 2 pixels tall, so
        # a few entries on a large budget still show.
        top = min(base - 2, round(y(s.bytes))) if s.bytes > 0 else base
        if s.projected_bytes > s.bytes:
            peak = min(top - 2, round(y(s.projected_bytes)))
            out.append(
                f'<rect x="{left}" y="{peak}" width="{bar_w}" height="{top - peak}" '
                f'fill="{BAR_PROJECTED}" shape-rendering="crispEdges"><title>{escape(label)}: '
                f"{s.projected_bytes} bytes if the remaining affected certificates were "
                "revoked now</title></rect>"
            )
        out.append(
            f'<rect x="{left}" y="{top}" width="{bar_w}" height="{base - top}" '
            f'fill="{BAR_NOW}" shape-rendering="crispEdges"><title>{escape(label)}: '
            f"{s.bytes} bytes now</title></rect>"
        )
        if len(shards) <= 24:
            out.append(
                f'<text x="{cx:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" '
                f'font-size="10">{escape(label)}</text>'
            )
    by = y(budget)
    out.append(
        f'<line x1="{LEFT}" y1="{by:.1f}" x2="{WIDTH - RIGHT}" y2="{by:.1f}" '
        f'stroke="{BUDGET_STROKE}" stroke-width="3"><title>Budget</title></line>'
    )
    out.append(
        f'<text x="{WIDTH - RIGHT}" y="{by - 6:.1f}" text-anchor="end" fill="{BUDGET_STROKE}">'
        f"budget {budget:,} bytes</text>"
    )
    out.append(
        f'<text x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 12}" text-anchor="middle">'
        "Issuing CA / CRL shard</text>"
    )
    out += _legend(
        [(BAR_NOW, "now"), (BAR_PROJECTED, "if remaining revoked now"), (BUDGET_STROKE, "budget")]
    )
    out.append("</svg>")
    return "\n".join(out)
