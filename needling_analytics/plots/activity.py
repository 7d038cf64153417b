"""Plot of the clinic's activity month by month: sessions attended and patients seen.

A month's figure is hidden exactly where the clinic report's activity table
hides it (:func:`~needling_analytics.privacy.policies.monthly_hidden`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from ..privacy.policies import monthly_hidden
from ..privacy.suppression import COMPLEMENT, check_min_cell_size, is_small
from .theme import GREY, MAIN, SECOND, add_legend, check_frame, get_axes, label_axes, month_labels, privacy_caption
from .theme import show_no_data as _no_data

#: Style of a hatched mark standing for a hidden count.
HIDDEN_STYLE = {"facecolor": "none", "edgecolor": GREY, "hatch": "///", "linewidth": 0.8}


def plot_monthly_activity(monthly: pd.DataFrame, *, min_cell_size: int | None = None, ax: Axes | None = None) -> Axes:
    """Sessions attended per month (bars) and patients seen per month (line), on one count axis.

    Parameters
    ----------
    monthly : DataFrame
        The output of :func:`~needling_analytics.metrics.monthly_activity`
        (``month``, ``sessions_attended``, ``active_patients``; every count
        column with ``min_cell_size``).
    min_cell_size : int, optional
        Smallest count that may be shown. A month's figure is then hidden
        exactly when the clinic report's activity table hides it
        (:func:`~needling_analytics.privacy.policies.monthly_hidden`):
        a bar hidden as small is drawn hatched up to ``min_cell_size`` and
        labelled ``"<11"``; one hidden to protect another (so at least
        ``min_cell_size``) leaves an empty slot marked ``"*"``; a hidden
        patient count leaves a gap in the line, marked by a hollow point
        on the ``min_cell_size`` line labelled ``"<11"``.
    ax : Axes, optional
        Where to draw; a new A4-wide figure when None.

    Returns
    -------
    Axes

    Examples
    --------
    >>> from needling_analytics.demo import generate_clinic
    >>> from needling_analytics.load import Clinic
    >>> from needling_analytics.metrics import monthly_activity
    >>> clinic = Clinic.from_frames(**generate_clinic(n_patients=20, seed=1))
    >>> ax = plot_monthly_activity(monthly_activity(clinic, "2026-10"), min_cell_size=11)
    """
    labels = {"title": "Sessions and patients per month", "xlabel": "Month", "ylabel": "Number per month"}
    ax = get_axes(ax)
    has_rows = check_frame(monthly, "monthly", ["month", "sessions_attended", "active_patients"])
    data = monthly.dropna(subset=["month"]).sort_values("month") if has_rows else None
    if not has_rows or data.empty:
        return _no_data(ax, **labels)

    x = np.arange(len(data))
    sessions = data["sessions_attended"].to_numpy(dtype=float)
    patients = data["active_patients"].to_numpy(dtype=float)
    if min_cell_size is None:
        hide_sessions = hide_patients = np.zeros(len(data), dtype=bool)
    else:
        min_cell_size = check_min_cell_size(min_cell_size)
        hidden = monthly_hidden(data, min_cell_size=min_cell_size)
        hide_sessions = hidden["sessions_attended"].to_numpy()
        hide_patients = hidden["active_patients"].to_numpy()
    shown = np.where(hide_sessions, np.nan, sessions)
    bars = ax.bar(x, shown, width=0.7, color=MAIN, alpha=0.85, label="sessions attended", zorder=2)
    ax.bar_label(bars, labels=["" if np.isnan(v) else f"{v:.0f}" for v in shown], fontsize=8, padding=2, color=GREY)
    ax.plot(x, np.where(hide_patients, np.nan, patients), color=SECOND, marker="o", lw=2.2,
            label="patients seen (at least one session)", zorder=3)  # fmt: skip
    top = np.nanmax(np.r_[1.0, shown, np.where(hide_patients, np.nan, patients)])
    if hide_sessions.any() or hide_patients.any():
        marks = [_hidden_marks(v, h, min_cell_size) for v, h in ((sessions, hide_sessions), (patients, hide_patients))]
        _draw_hidden_months(ax, x, *marks, min_cell_size)
        top = max(top, min_cell_size) * 1.15  # room for the legend's second row
    ax.set_xticks(
        x, month_labels(data["month"]), rotation=45 if len(x) > 7 else 0, ha="right" if len(x) > 7 else "center"
    )
    ax.set_xlim(-0.6, len(x) - 0.4)
    ax.set_ylim(0, top * 1.3)
    ax.grid(False, axis="x")
    add_legend(ax, loc="upper left", ncols=2, order=["sessions"])
    label_axes(ax, **labels)
    if hide_sessions.any() or hide_patients.any():
        privacy_caption(
            ax, f'To protect patients\' privacy, a figure from 1 to {min_cell_size - 1} is hidden ("<{min_cell_size}"), and '
            f'so is one from which it could be worked out ("{COMPLEMENT}").',
        )  # fmt: skip
    return ax


def _hidden_marks(values: np.ndarray, hidden: np.ndarray, min_cell_size: int) -> np.ndarray:
    """Per value: ``"<11"`` when hidden as small, ``"*"`` when hidden to protect another, ``""`` when shown."""
    small = is_small(values, min_cell_size)
    return np.where(~hidden, "", np.where(small, f"<{min_cell_size}", COMPLEMENT))


def _draw_hidden_months(
    ax: Axes, x: np.ndarray, sessions: np.ndarray, patients: np.ndarray, min_cell_size: int
) -> None:
    """Where a month's figure is hidden: its mark, over a hatched bar (sessions, small) or a hollow point (patients).

    ``sessions`` and ``patients`` hold each month's mark (:func:`_hidden_marks`):
    empty where the figure is shown.
    """
    small = sessions == f"<{min_cell_size}"
    if small.any():  # below the line at `min_cell_size`: a hatched bar up to it
        bars = ax.bar(x[small], min_cell_size, width=0.7, zorder=2, label="sessions: hidden", **HIDDEN_STYLE)
        ax.bar_label(bars, labels=list(sessions[small]), fontsize=8, padding=2, color=GREY)
    for position in x[sessions == COMPLEMENT]:  # at least `min_cell_size`, but how many is hidden: no bar at all
        ax.annotate(COMPLEMENT, (position, 0), xytext=(0, 3), textcoords="offset points", ha="center", va="bottom",
                    fontsize=11, color=GREY)  # fmt: skip
    hidden = patients != ""
    if hidden.any():
        ax.scatter(x[hidden], np.full(int(hidden.sum()), float(min_cell_size)), s=36, facecolor="white", edgecolor=SECOND,
                   lw=1.5, zorder=4, label="patients: hidden")  # fmt: skip
        for position, mark in zip(x[hidden], patients[hidden], strict=True):
            ax.annotate(mark, (position, min_cell_size), xytext=(6, 0), textcoords="offset points", va="center",
                        fontsize=8, color=SECOND)  # fmt: skip
