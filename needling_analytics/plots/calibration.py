"""Calibration of the expected-recovery model: predicted against observed scores, by decile of the prediction."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from .theme import GREY, MAIN, SECOND, check_frame, get_axes, label_axes, legend_below
from .theme import show_no_data as _no_data


def plot_calibration(table: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """Mean and median observed score against the mean expected score of each decile, beside the line of equality.

    A calibrated model's points lie on the dashed line: where they sit
    above it, scores were higher than expected. The title gives the band's
    coverage over all the scores (each decile's coverage weighted by its
    number of scores).

    Parameters
    ----------
    table : DataFrame
        From :func:`~needling_analytics.metrics.calibration_table`:
        ``decile``, ``n``, ``mean_expected``, ``mean_observed``,
        ``median_observed``, ``coverage``.
    ax : Axes, optional
        Where to draw; a new A4-wide figure when None.

    Returns
    -------
    Axes

    Examples
    --------
    >>> table = pd.DataFrame({"decile": [1, 2], "n": [20, 20], "mean_expected": [2.0, 5.0],
    ...                       "mean_observed": [2.2, 4.9], "median_observed": [2.0, 5.0], "coverage": [0.8, 0.85]})
    >>> plot_calibration(table).get_title()
    'Expected against observed scores by decile: 82% inside the band'
    """
    labels = {
        "title": "Expected against observed scores by decile",
        "xlabel": "Expected score (mean of the decile)",
        "ylabel": "Observed score",
    }
    ax = get_axes(ax, height=4.0)
    columns = ["decile", "n", "mean_expected", "mean_observed", "median_observed", "coverage"]
    if not check_frame(table, "table", columns):
        return _no_data(ax, **labels)
    data = table.dropna(subset=["mean_expected", "mean_observed"])
    if data.empty:
        return _no_data(ax, **labels)
    values = data[["mean_expected", "mean_observed", "median_observed"]].to_numpy(dtype=float)
    low, high = np.nanmin(values), np.nanmax(values)
    pad = max(0.05 * (high - low), 0.25)
    limits = (low - pad, high + pad)
    ax.plot(limits, limits, color=GREY, ls="--", lw=1, label="expected = observed", zorder=1)
    ax.plot(data["mean_expected"], data["mean_observed"], "o-", color=MAIN, label="mean observed", zorder=3)
    ax.plot(
        data["mean_expected"],
        data["median_observed"],
        "D",
        mfc="white",
        mec=SECOND,
        mew=1.5,
        ls="none",
        label="median observed (expected is a median)",
        zorder=2,
    )
    ax.set_xlim(limits)
    ax.set_ylim(limits)
    n = data["n"].to_numpy(dtype=float)
    coverage = float(np.sum(n * data["coverage"].to_numpy(dtype=float)) / n.sum()) if n.sum() else np.nan
    if np.isfinite(coverage):
        labels["title"] += f": {coverage:.0%} inside the band"
    label_axes(ax, **labels)
    legend_below(ax, ncols=3)
    return ax
