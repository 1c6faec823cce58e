"""The report's charts, drawn by matplotlib as static SVG: no JavaScript, nothing to
fetch, text kept as text (searchable, read by screen readers).

matplotlib chooses the axis ticks (round values; whole hours, days or weeks on the time
axis), thins and turns labels that would overlap, and we add what an accessible figure
needs: a <title> and <desc> (the HTML page also puts a table with the same numbers under
each chart). Output is deterministic: no dates in the metadata, fixed element ids.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from html import escape
from typing import Any

import matplotlib
from matplotlib import dates as mdates
from matplotlib import ticker
from matplotlib.axes import Axes
from matplotlib.figure import Figure

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

WIDTH, HEIGHT = 9.6, 3.6  # inches at 100 dpi: 960 x 360 pixels
MIN_VISIBLE = 0.01  # a non-empty bar is at least 1% of the axis tall, so it shows
LABELS_UPRIGHT = 8  # more shards than this: labels turned; more than 40: thinned

_RC: Any = {
    "svg.fonttype": "none",  # <text>, not glyph outlines
    "svg.hashsalt": "certkeeper",  # the same ids on every run
    "font.family": "sans-serif",
    "font.size": 10,
    "axes.edgecolor": AXIS,
    "axes.labelcolor": "#1a202c",
    "xtick.color": AXIS,
    "ytick.color": AXIS,
}


def _count(value: float, _pos: int | None = None) -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:g}M"
    if value >= 10_000:
        return f"{value / 1000:g}k"
    return f"{value:g}"


def _figure() -> tuple[Figure, Axes]:
    with matplotlib.rc_context(_RC):
        figure = Figure(figsize=(WIDTH, HEIGHT), dpi=100)
        axes = figure.add_subplot()
    axes.grid(axis="y", color="#e2e8f0", linewidth=0.8)
    axes.set_axisbelow(True)
    axes.spines[["top", "right"]].set_visible(False)
    axes.yaxis.set_major_locator(
        ticker.MaxNLocator(nbins=5, integer=True, steps=[1, 2, 2.5, 5, 10])
    )
    axes.yaxis.set_major_formatter(ticker.FuncFormatter(_count))
    return figure, axes


def _svg(figure: Figure, chart_id: str, title: str, desc: str) -> str:
    """The figure as an inline <svg> element with an accessible name and description."""
    buffer = io.StringIO()
    with matplotlib.rc_context(_RC):
        figure.tight_layout()
        figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    text = buffer.getvalue()
    text = text[text.index("<svg") :]  # inline: no XML declaration or DOCTYPE
    # matplotlib's one style rule (line joins) would be a second <style> in the page
    text = re.sub(r"<style[^>]*>.*?</style>", "", text, flags=re.S)
    opening = re.match(r"<svg\b[^>]*>", text)
    assert opening is not None
    tag = opening.group(0)
    tag = re.sub(r'\s(width|height)="[^"]*"', "", tag)  # scale with the page
    ident = escape(chart_id, quote=True)
    tag = tag[:-1] + (f' id="{ident}" role="img" aria-labelledby="{ident}-title {ident}-desc">')
    head = (
        f'<title id="{ident}-title">{escape(title)}</title>'
        f'<desc id="{ident}-desc">{escape(desc)}</desc>'
    )
    return tag + head + text[opening.end() :]


def _num(moment: datetime) -> float:
    """matplotlib's date number (its stubs leave date2num untyped)."""
    return float(mdates.date2num(moment))  # type: ignore[no-untyped-call]


def _steps(points: Sequence[Point]) -> tuple[list[float], list[float]]:
    return [_num(t) for t, _ in points], [float(v) for _, v in points]


def remaining_chart(
    actual: Sequence[Point],
    planned: Sequence[Point],
    deadline: datetime,
    total: int,
    chart_id: str = "remaining-chart",
) -> str:
    """Remaining certificates over time (area, up to the report time), the plan (dashed)
    and the deadline (vertical line)."""
    figure, axes = _figure()
    times = [p[0] for p in (*actual, *planned)] + [deadline]
    start, end = min(times), max(times)
    if end <= start:
        end = start + timedelta(days=1)
    axes.set_xlim(_num(start), _num(end + (end - start) / 40))  # room to see the deadline
    axes.set_ylim(0, max([total, *[v for _, v in (*actual, *planned)], 1]) * 1.05)
    if actual:
        xs, ys = _steps(actual)
        area = axes.fill_between(
            xs, ys, step="post", color=REMAINING_FILL, linewidth=0, label="remaining (actual)"
        )
        area.set_gid("remaining-actual")
    if planned:
        xs, ys = _steps(planned)
        (line,) = axes.step(
            xs,
            ys,
            where="post",
            color=PLANNED_STROKE,
            linewidth=2,
            linestyle=(0, (6, 4)),
            label="remaining (plan)",
        )
        line.set_gid("plan-line")
    axes.axvline(_num(deadline), color=DEADLINE_STROKE, linewidth=3, label="deadline").set_gid(
        "deadline"
    )
    axes.annotate(
        f"deadline {deadline:%Y-%m-%d %H:%M}",
        xy=(_num(deadline), 1),
        xycoords=("data", "axes fraction"),
        xytext=(-6, -12),
        textcoords="offset points",
        ha="right",
        color=DEADLINE_STROKE,
    )
    locator = mdates.AutoDateLocator(minticks=4, maxticks=8)  # type: ignore[no-untyped-call]
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(
        mdates.ConciseDateFormatter(locator)  # type: ignore[no-untyped-call]
    )
    axes.set_xlabel("Time (UTC)")
    axes.set_ylabel("Remaining certificates")
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, 1.18), ncol=3, frameon=False)
    now_value = actual[-1][1] if actual else total
    desc = (
        f"{total} affected certificates; {now_value} remaining at "
        f"{actual[-1][0]:%Y-%m-%d %H:%M} UTC; deadline {deadline:%Y-%m-%d %H:%M} UTC."
        if actual
        else f"{total} affected certificates; deadline {deadline:%Y-%m-%d %H:%M} UTC."
    )
    return _svg(figure, chart_id, "Remaining certificates against the revocation deadline", desc)


def visible_heights(shards: Sequence[ShardBar], top: float) -> list[tuple[float, float]]:
    """(now, projected extra) bar heights in bytes, each non-empty part at least
    MIN_VISIBLE of the axis, so a few entries under a large budget still show."""
    floor = top * MIN_VISIBLE
    heights = []
    for s in shards:
        now = max(float(s.bytes), floor) if s.bytes > 0 else 0.0
        extra = s.projected_bytes - s.bytes
        heights.append((now, max(float(extra), floor) if extra > 0 else 0.0))
    return heights


def shard_chart(shards: Sequence[ShardBar], budget: int, chart_id: str = "shard-chart") -> str:
    """CRL shard sizes now (solid) and with every remaining affected certificate revoked
    now (light, stacked), against the byte budget (horizontal line)."""
    figure, axes = _figure()
    top = max([budget, *[s.projected_bytes for s in shards]]) * 1.08
    axes.set_ylim(0, top)
    labels = [f"{s.issuer} / {s.shard}" for s in shards]
    positions = list(range(len(shards)))
    projected_labelled = False
    for i, (now, extra) in enumerate(visible_heights(shards, top)):
        bar = axes.bar(i, now, width=0.6, color=BAR_NOW, label="now" if i == 0 else None)
        bar.patches[0].set_gid(f"bar-now-{i}")
        if extra > 0:
            label = None if projected_labelled else "if remaining revoked now"
            projected_labelled = True
            more = axes.bar(i, extra, width=0.6, bottom=now, color=BAR_PROJECTED, label=label)
            more.patches[0].set_gid(f"bar-projected-{i}")
    axes.axhline(budget, color=BUDGET_STROKE, linewidth=3, label="budget").set_gid("budget")
    axes.annotate(
        f"budget {budget:,} bytes",
        xy=(1, budget),
        xycoords=("axes fraction", "data"),
        xytext=(0, 4),
        textcoords="offset points",
        ha="right",
        color=BUDGET_STROKE,
    )
    axes.set_xticks(positions, labels, fontsize=8)
    if len(shards) > LABELS_UPRIGHT:
        axes.tick_params(axis="x", labelrotation=60)
        for tick in axes.get_xticklabels():
            tick.set_horizontalalignment("right")
    if len(shards) > 40:  # past this even turned labels collide: keep every n-th
        keep = -(-len(shards) // 40)
        for i, tick in enumerate(axes.get_xticklabels()):
            tick.set_visible(i % keep == 0)
    axes.set_xlim(-0.75, max(len(shards), 1) - 0.25)
    axes.set_xlabel("Issuing CA / CRL shard")
    axes.set_ylabel("CRL size (bytes)")
    handles, names = axes.get_legend_handles_labels()
    axes.legend(
        handles, names, loc="upper center", bbox_to_anchor=(0.5, 1.18), ncol=3, frameon=False
    )
    over = [s for s in shards if s.projected_bytes > budget]
    desc = (
        f"{len(shards)} CRL shard(s) hold affected certificates; budget {budget} bytes; "
        f"{len(over)} would exceed it if every remaining affected certificate were revoked now."
    )
    return _svg(figure, chart_id, "CRL shard sizes against the byte budget", desc)
