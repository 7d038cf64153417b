"""Control charts for the clinic report: a monthly rate against its 3-sigma limits (p-chart, u-chart).

The chart takes the tidy frame of
:func:`~needling_analytics.metrics.monthly_control_chart` (or
:func:`~needling_analytics.metrics.control_chart`) and returns the ``Axes``
it drew on. Privacy: months the report hides (``hidden`` column, from
:func:`~needling_analytics.reporting.monthly.protect_control_chart`) are not
drawn; a grey mark on the axis and a line under the chart say so.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from .theme import (
    GREY,
    LIGHT_BAND,
    MAIN,
    PALETTE,
    check_frame,
    get_axes,
    label_axes,
    legend_below,
    month_labels,
    privacy_caption,
)
from .theme import show_no_data as _no_data

_COLUMNS = ["month", "rate", "centre", "lower", "upper", "outside"]
OUTSIDE = PALETTE[3]  # vermilion: a month outside the limits
#: Per kind of chart: (title, y label, scale of the rate on the axis).
_LABELS = {
    "p": ("Share of completed courses that improved, month by month", "Share improved (%)", 100.0),
    "u": ("Adverse events per 100 sessions, month by month", "Events per 100 sessions", 100.0),
}


def plot_control_chart(chart: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """A monthly rate with its centre line and 3-sigma limits; months outside the limits stand out.

    Parameters
    ----------
    chart : DataFrame
        ``month``, ``rate``, ``centre``, ``lower``, ``upper``, ``outside``
        (and optionally ``hidden``), as from
        :func:`~needling_analytics.metrics.monthly_control_chart`;
        ``attrs["kind"]`` is ``"p"`` (a share, drawn in percent: the p-chart
        of the share improved) or ``"u"`` (events per session, drawn per
        100 sessions: the u-chart of adverse events).
    ax : Axes, optional
        Where to draw; a new A4-wide figure when None.

    Returns
    -------
    Axes

    Examples
    --------
    >>> from needling_analytics.demo import generate_clinic
    >>> from needling_analytics.load import Clinic
    >>> from needling_analytics.metrics import monthly_activity, monthly_control_chart
    >>> clinic = Clinic.from_frames(**generate_clinic(n_patients=40, seed=1))
    >>> ax = plot_control_chart(monthly_control_chart(monthly_activity(clinic, "2026-10"), "adverse_events"))
    """
    kind = "p"
    if isinstance(chart, pd.DataFrame):
        kind = chart.attrs.get("kind", "p")
    title, ylabel, scale = _LABELS.get(kind, _LABELS["p"])
    labels = {"title": title, "xlabel": "Month", "ylabel": ylabel}
    ax = get_axes(ax)
    has_rows = check_frame(chart, "chart", _COLUMNS)
    data = chart.dropna(subset=["month"]).sort_values("month") if has_rows else None
    if not has_rows or data.empty or not np.isfinite(data["centre"].to_numpy(dtype=float)).any():
        return _no_data(ax, **labels)

    x = np.arange(len(data))
    rate = data["rate"].to_numpy(dtype=float) * scale
    lower = data["lower"].to_numpy(dtype=float) * scale
    upper = data["upper"].to_numpy(dtype=float) * scale
    centre = float(data["centre"].iloc[0]) * scale
    outside = data["outside"].to_numpy(dtype=bool) & np.isfinite(rate)
    hidden = data["hidden"].to_numpy(dtype=bool) if "hidden" in data else np.zeros(len(data), dtype=bool)

    width = 0.7
    ax.bar(x, upper - lower, bottom=lower, width=width, color=LIGHT_BAND, alpha=0.7, lw=0, zorder=1,
           label="3-sigma limits (normal variation)")  # fmt: skip
    ax.hlines(np.r_[upper, lower], np.r_[x, x] - width / 2, np.r_[x, x] + width / 2, color=GREY, lw=1, zorder=2)
    average = f"{centre:.0f}%" if kind == "p" else f"{centre:.1f}"
    ax.axhline(centre, color=GREY, ls="--", lw=1.2, label=f"average over these months ({average})", zorder=2)
    ax.plot(x, rate, color=MAIN, marker="o", lw=1.8, label="each month", zorder=3)
    if outside.any():
        ax.scatter(x[outside], rate[outside], s=80, color=OUTSIDE, zorder=4, label="outside the limits")
    for position in x[hidden]:
        ax.annotate("hidden", (position, 0), xytext=(0, 4), textcoords="offset points", ha="center", va="bottom",
                    fontsize=8, color=GREY, rotation=90)  # fmt: skip
    ax.set_xticks(
        x, month_labels(data["month"]), rotation=45 if len(x) > 7 else 0, ha="right" if len(x) > 7 else "center"
    )
    ax.set_xlim(-0.6, len(x) - 0.4)
    top = np.nanmax(np.r_[centre, rate, upper])
    ax.set_ylim(0, min(105.0, top * 1.3) if kind == "p" else top * 1.3)
    ax.grid(False, axis="x")
    label_axes(ax, **labels)
    legend_below(ax, ncols=4, order=["each month", "outside", "average", "3-sigma"])
    if hidden.any():
        min_cell_size = int(data.attrs.get("threshold", chart.attrs.get("threshold", 11)))
        privacy_caption(ax, f"To protect patients' privacy, a month whose point would reveal fewer than {min_cell_size} "
                         "patients or events (or let one be worked out) is not drawn.")  # fmt: skip
    return ax
