"""Geometry of the server-rendered usage chart: credits per day, stacked by operation (inline SVG)."""

from __future__ import annotations

import math
from datetime import date

from app.billing_ops import OPERATIONS

# Distinguishable on white and for the common colour-vision deficiencies (Okabe–Ito based).
PALETTE = ["#3b4fd8", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#6b6f80", "#8a6d00"]
WIDTH, HEIGHT = 760, 250
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 14, 36
MAX_X_LABELS = 8


def operation_colors() -> dict[str, str]:
    """One fixed colour per operation, the same on every page."""
    return {op: PALETTE[i % len(PALETTE)] for i, op in enumerate(OPERATIONS)}


def _nice_step(raw: float) -> int:
    """The smallest 1, 2, 2.5 or 5 × 10^k at least raw, a whole number (credits are whole)."""
    if raw <= 1:
        return 1
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        step = factor * power
        if step >= raw and step == int(step):
            return int(step)
    return int(10 * power)


def _day_label(day: date) -> str:
    return f"{day.day} {day:%b}"


def usage_chart(days: list[date], per_day: list[tuple[date, str, int]]) -> dict:
    """Bars, axes and legend for the template; `per_day` comes from billing_reports.usage_by_day."""
    colors = operation_colors()
    cells: dict[date, dict[str, int]] = {}
    totals: dict[str, int] = {}
    for day, operation, credits in per_day:
        cells.setdefault(day, {})[operation] = cells.get(day, {}).get(operation, 0) + credits
        totals[operation] = totals.get(operation, 0) + credits
    order = [op for op in OPERATIONS if op in totals] + sorted(op for op in totals if op not in OPERATIONS)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    day_max = max((sum(c.values()) for c in cells.values()), default=0)
    step = _nice_step(day_max / 4)
    y_max = step * 4
    slot = plot_w / max(1, len(days))
    bar_w = max(1.0, slot * 0.72)
    baseline = TOP + plot_h
    bars = []
    for index, day in enumerate(days):
        x = LEFT + index * slot + (slot - bar_w) / 2
        y = baseline
        for operation in order:
            credits = cells.get(day, {}).get(operation, 0)
            if not credits:
                continue
            height = credits / y_max * plot_h
            y -= height
            label = OPERATIONS.get(operation, operation)
            bars.append({"x": round(x, 2), "y": round(y, 2), "w": round(bar_w, 2), "h": round(height, 2),
                         "color": colors.get(operation, PALETTE[-1]), "operation": operation,
                         "title": f"{_day_label(day)}: {label}, {credits:,} credits"})
    every = max(1, math.ceil(len(days) / MAX_X_LABELS))
    x_labels = [{"x": round(LEFT + i * slot + slot / 2, 2), "text": _day_label(day)}
                for i, day in enumerate(days) if i % every == 0]
    y_ticks = [{"y": round(baseline - k * plot_h / 4, 2), "text": f"{k * step:,}"} for k in range(5)]
    legend = [{"operation": op, "label": OPERATIONS.get(op, op), "color": colors.get(op, PALETTE[-1]),
               "total": totals[op]} for op in order]
    total = sum(totals.values())
    span = f"{_day_label(days[0])} {days[0].year} to {_day_label(days[-1])} {days[-1].year}" if days else ""
    summary = ", ".join(f"{item['label']} {item['total']:,}" for item in legend)
    return {
        "width": WIDTH, "height": HEIGHT, "left": LEFT, "right": WIDTH - RIGHT, "top": TOP,
        "baseline": baseline, "bars": bars, "x_labels": x_labels, "y_ticks": y_ticks, "legend": legend,
        "total": total, "title": f"Credits used per day, {span}",
        "description": f"{total:,} credits in total" + (f": {summary}." if summary else "."),
    }
