"""The power response as a PNG: relative MDE and units against weeks, with and without
CUPED. Imports ``matplotlib`` (the Agg backend, through its object API: no pyplot state,
safe in a server thread).
"""

from __future__ import annotations

import io
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def power_png(data: dict[str, Any], title: str = "") -> bytes:
    """``data`` (the power response's ``data``) drawn as a PNG: one point per duration."""
    out = io.BytesIO()
    power_figure(data, title).savefig(out, format="png")
    return out.getvalue()


def power_figure(data: dict[str, Any], title: str = "") -> Figure:
    """The figure ``power_png`` renders: relative MDE (with and without CUPED) above, units
    below, against weeks."""
    durations = data.get("durations") or []
    weeks = [d["weeks"] for d in durations]
    figure = Figure(figsize=(7, 6), dpi=100)
    FigureCanvasAgg(figure)
    mde_axes, units_axes = figure.subplots(2, 1, sharex=True)

    def percent(values: list[Any]) -> list[float]:
        return [100 * v if v is not None else float("nan") for v in values]

    mde_axes.plot(
        weeks, percent([d.get("mdeRelative") for d in durations]), marker="o", label="MDE"
    )
    if any("mdeRelativeCuped" in d for d in durations):
        mde_axes.plot(
            weeks,
            percent([d.get("mdeRelativeCuped") for d in durations]),
            marker="s",
            label="MDE with CUPED",
        )
    mde_axes.set_ylabel("relative MDE (%)")
    mde_axes.legend()
    mde_axes.grid(True, alpha=0.3)
    units_axes.plot(weeks, [d.get("units") or 0 for d in durations], marker="o", color="C2")
    units_axes.set_ylabel("units")
    units_axes.set_xlabel("weeks")
    units_axes.set_xticks(weeks)
    units_axes.grid(True, alpha=0.3)
    heading = "\n".join(part for part in (title, describe(data.get("inputs") or {})) if part)
    if heading:
        figure.suptitle(heading)
    figure.tight_layout()
    return figure


def describe(inputs: dict[str, Any]) -> str:
    """One line saying what was sized: "sum of price_usd in purchases, to 2024-03-28"."""
    metric = inputs.get("metric") or {}
    if not metric:
        return ""
    column = metric.get("valueColumn") or (
        f"{metric.get('numeratorColumn')} / {metric.get('denominatorColumn')}"
        if metric.get("type") == "ratio"
        else ""
    )
    what = f"{metric.get('type')}{f' of {column}' if column else ''}"
    source = f" in {inputs['metricSource']}" if inputs.get("metricSource") else ""
    end = f", windows ending {inputs['end']}" if inputs.get("end") else ""
    return f"{what}{source}{end}"
