"""Plot of session frequency against pain reduction: an association, with single results pooled when shared."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from ..privacy.suppression import check_min_cell_size, is_small, pool_bands
from .theme import GREY, MAIN, SECOND, check_frame, get_axes, label_axes, legend_below, privacy_caption, too_few
from .theme import show_no_data as _no_data


def plot_frequency_association(
    exposures: pd.DataFrame,
    *,
    min_cell_size: int | None = None,
    ylabel: str = "Pain reduction (points)",
    ax: Axes | None = None,
) -> Axes:
    """Pain reduction against early session frequency: points and a smoothed trend (an association).

    Each point is an episode (nudged sideways a little so that equal
    values do not hide each other); the line is a lowess smooth
    (statsmodels, two thirds of the points per local fit). Routine clinic
    data is confounded (slow responders are seen more often: Hughes 2018),
    so the plot shows an association, not a dose-response effect.

    Parameters
    ----------
    exposures : DataFrame
        ``FrequencyAnalysis.landmark`` from
        :func:`~needling_analytics.metrics.analyze_frequency` (the courses
        in care at day 28 with a pain score near week 8;
        ``early_frequency``: sessions per week in the first 28 days;
        ``reduction``: pain points). Rows missing either are left out.
    min_cell_size : int, optional
        Smallest count that may be shown. Single episodes are then not
        drawn (one point is one patient's result): each frequency band
        (under 1, 1 to 2, 2 or more a week) is drawn as its average, with
        its number of episodes beside it, and a band of 1 to
        ``min_cell_size - 1`` is pooled with its neighbour
        (:func:`~needling_analytics.privacy.suppression.pool_bands`);
        with fewer episodes than that in all, nothing is drawn. The trend
        is drawn only between the band averages, and only with at least
        1.5 times ``min_cell_size`` episodes (so each local fit of two
        thirds of them uses at least ``min_cell_size``).
    ylabel : str
        Words for the y axis (what ``reduction`` is, e.g. "Fall in pain by week 8 (points)").
    ax : Axes, optional
        Where to draw; a new A4-wide figure when None.

    Returns
    -------
    Axes

    Examples
    --------
    >>> from needling_analytics.demo import generate_clinic
    >>> from needling_analytics.load import Clinic
    >>> from needling_analytics.metrics import analyze_frequency
    >>> analysis = analyze_frequency(Clinic.from_frames(**generate_clinic(n_patients=60, seed=1)))
    >>> ax = plot_frequency_association(analysis.landmark)
    """
    labels = {
        "title": "Session frequency and pain reduction: an association, not proof of cause",
        "xlabel": "Sessions per week in the first 4 weeks",
        "ylabel": ylabel,
    }
    ax = get_axes(ax)
    has_rows = check_frame(exposures, "exposures", ["early_frequency", "reduction"])
    data = exposures[["early_frequency", "reduction"]].dropna() if has_rows else None
    if not has_rows or data.empty:
        return _no_data(ax, **labels)

    x = data["early_frequency"].to_numpy(dtype=float)
    y = data["reduction"].to_numpy(dtype=float)
    ax.axhline(0, color=GREY, lw=1, zorder=1, label="no change (above it: less pain than at the start)")
    if min_cell_size is None:
        jitter = np.random.default_rng(0).uniform(-0.06, 0.06, size=len(x))
        ax.scatter(x + jitter, y, s=16, color=MAIN, alpha=0.35, lw=0, label="one episode", zorder=2)
        span, smooth_ok = (x.min(), x.max()), len(x) >= 10
    else:
        min_cell_size = check_min_cell_size(min_cell_size)
        if is_small(len(x), min_cell_size):
            return too_few(ax, min_cell_size, "courses of care", **labels)
        bands = _frequency_bands(data, min_cell_size)
        span = _draw_frequency_bands(ax, bands)
        smooth_ok = len(x) >= 1.5 * min_cell_size and span is not None
    if smooth_ok and len(np.unique(x)) >= 3:
        grid = np.linspace(*span, 60)
        from statsmodels.nonparametric.smoothers_lowess import lowess  # imported here: only this chart needs it

        smooth = lowess(y, x, frac=2 / 3, it=0, xvals=grid)
        ax.plot(grid, smooth, color=SECOND, lw=2.5, label="average trend (smoothed)", zorder=3)
    if min_cell_size is None:
        ax.set_xlim(max(0.0, x.min() - 0.2), x.max() + 0.2)
    else:
        ax.set_xlim(0, max(2.5, float(bands["early_frequency"].max()) + 0.5))
        low, high = ax.get_ylim()  # room for the band labels under the points, and above the trend
        ax.set_ylim(min(low, 0.0) - 0.5, high + 0.25 * (high - min(low, 0.0)))
    label_axes(ax, **labels)
    legend_below(ax, ncols=2, order=["one episode", "average of", "average"])
    if min_cell_size is not None:
        privacy_caption(
            ax, "To protect patients' privacy, single courses of care are not drawn: each point is the average of a "
            f"band of at least {min_cell_size}, neighbouring bands pooled where needed.",
        )  # fmt: skip
    return ax


def _frequency_bands(data: pd.DataFrame, min_cell_size: int) -> pd.DataFrame:
    """Frequency bands with at least ``min_cell_size`` episodes each: neighbouring bands pooled until they are.

    The bands are those of :func:`~needling_analytics.metrics.session_exposures`
    (under 1, 1 to 2, 2 or more a week), pooled by
    :func:`~needling_analytics.privacy.suppression.pool_bands`; empty
    bands are left out.

    Returns
    -------
    DataFrame
        ``band`` (words, e.g. ``"1 or more a week"``), ``episodes``,
        ``early_frequency`` and ``reduction`` (averages over the band's episodes).
    """
    from ..metrics.landmark import BAND_EDGES

    edges = np.asarray(BAND_EDGES, dtype=float)
    band = pd.cut(data["early_frequency"], edges, right=False, labels=False)
    counts = band.value_counts().reindex(range(len(edges) - 1), fill_value=0).sort_index()
    pool = pd.Series(pool_bands(counts, min_cell_size=min_cell_size), index=counts.index)
    grouped = data.groupby(band.map(pool), sort=True)
    out = grouped.agg(episodes=("reduction", "size"), early_frequency=("early_frequency", "mean"),
                      reduction=("reduction", "mean"))  # fmt: skip
    spans = pool.index.to_series().groupby(pool.to_numpy()).agg(["min", "max"]).loc[out.index]
    low, high = edges[:-1][spans["min"]], edges[1:][spans["max"]]
    out.insert(0, "band", [_band_words(a, b) for a, b in zip(low, high, strict=True)])
    return out[out["episodes"] > 0].reset_index(drop=True)


def _band_words(low: float, high: float) -> str:
    """``"under 1 a week"``, ``"1 to 2 a week"``, ``"2 or more a week"`` for a band's edges (sessions a week)."""
    if low == 0:
        return f"under {high:g} a week" if np.isfinite(high) else "any number a week"
    return f"{low:g} or more a week" if not np.isfinite(high) else f"{low:g} to {high:g} a week"


def _draw_frequency_bands(ax: Axes, bands: pd.DataFrame) -> tuple[float, float] | None:
    """Band averages, each with its words and count beside it; the span of the bands (None with one band)."""
    ax.scatter(bands["early_frequency"], bands["reduction"], s=70, marker="D", color=MAIN, zorder=4,
               label="average of a frequency band")  # fmt: skip
    for row in bands.itertuples():
        ax.annotate(f"{row.band}:\n{row.episodes:,} episodes", (row.early_frequency, row.reduction), xytext=(0, -10),
                    textcoords="offset points", ha="center", va="top", fontsize=8, color=MAIN)  # fmt: skip
    if len(bands) < 2:
        return None
    return float(bands["early_frequency"].min()), float(bands["early_frequency"].max())
