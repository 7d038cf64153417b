"""Plots of the clinic report's outcomes: how many patients improved, and by how much.

The responder curve and the distribution of pain change over each course of
care, with the IMMPACT benchmarks (30% moderate, 50% substantial).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from ..privacy.suppression import check_min_cell_size, is_small, keep_steps, pool_bands
from .theme import (
    GOOD,
    GREY,
    LIGHT_BAND,
    MAIN,
    check_frame,
    get_axes,
    label_axes,
    legend_below,
    percent_axis,
    privacy_caption,
    too_few,
)
from .theme import show_no_data as _no_data

#: IMMPACT (Dworkin 2008, J Pain 9:105): >= 30% moderate, >= 50% substantial pain improvement.
IMMPACT_GUIDES = ((30.0, "moderate"), (50.0, "substantial"))


def plot_responder_curve(curve: pd.DataFrame, *, min_cell_size: int | None = None, ax: Axes | None = None) -> Axes:
    """The cumulative responder curve: share of patients whose pain improved by at least x%.

    Light vertical guides mark 30% ("moderate") and 50% ("substantial")
    improvement, the IMMPACT benchmarks (Dworkin 2008, J Pain 9:105), with
    the share reached at each.

    Parameters
    ----------
    curve : DataFrame
        The output of :func:`~needling_analytics.metrics.responder_curve`
        (``threshold_pct``, ``share``; ``episodes`` for the count shown;
        ``improved`` too with ``min_cell_size``).
    min_cell_size : int, optional
        Smallest count that may be shown. The curve is then drawn only
        through points whose number improved, number not improved, and
        difference from the previous point drawn are each 0 or at least
        ``min_cell_size`` (:func:`~needling_analytics.privacy.suppression.keep_steps`),
        so that no stretch of it stands for 1 to ``min_cell_size - 1``
        patients; with fewer episodes than that, nothing is drawn. Points
        at 30% and 50% are kept when the rule allows, and their share is
        labelled only then.
    ax : Axes, optional
        Where to draw; a new A4-wide figure when None.

    Returns
    -------
    Axes

    Examples
    --------
    >>> from needling_analytics.demo import generate_clinic
    >>> from needling_analytics.load import Clinic
    >>> from needling_analytics.metrics import episode_pain, responder_curve
    >>> clinic = Clinic.from_frames(**generate_clinic(n_patients=20, seed=1))
    >>> ax = plot_responder_curve(responder_curve(episode_pain(clinic)))
    """
    labels = {
        "title": "How many patients improved, and by how much",
        "xlabel": "Improvement in pain of at least (%)",
        "ylabel": "Share of patients (%)",
    }
    ax = get_axes(ax)
    has_rows = check_frame(curve, "curve", ["threshold_pct", "share"])
    data = curve.dropna(subset=["threshold_pct", "share"]).sort_values("threshold_pct") if has_rows else None
    if not has_rows or data.empty:
        return _no_data(ax, **labels)
    thinned = False
    if min_cell_size is not None:
        min_cell_size = check_min_cell_size(min_cell_size)
        check_frame(curve, "curve", ["episodes", "improved"])
        total = float(data["episodes"].iloc[0])
        guides = np.flatnonzero(data["threshold_pct"].isin([t for t, _ in IMMPACT_GUIDES]).to_numpy())
        keep = keep_steps(data["improved"], min_cell_size=min_cell_size, start=total, anchors=guides)
        if is_small(total, min_cell_size) or keep.sum() < 2:
            return too_few(ax, min_cell_size, "courses of care", **labels)
        thinned = not keep.all()
        data = data[keep]

    x = data["threshold_pct"].to_numpy(dtype=float)
    y = 100.0 * data["share"].to_numpy(dtype=float)
    ax.plot(x, y, color=MAIN, lw=2.2, clip_on=False, zorder=3)
    for k, (guide, name) in enumerate(IMMPACT_GUIDES):
        ax.axvline(guide, color=GREY, lw=1, alpha=0.6, zorder=1, gid=name)
        left = k % 2 == 0  # labels face away from each other so that neighbours never collide
        ax.text(guide + (-1 if left else 1), 99, name, color=GREY, fontsize=9, va="top",
                ha="right" if left else "left")  # fmt: skip
        drawn = np.isclose(x, guide).any() if min_cell_size is not None else x.min() <= guide <= x.max()
        if drawn:
            share = float(np.interp(guide, x, y))
            ax.plot([guide], [share], "o", color=MAIN, ms=6, zorder=4)
            ax.annotate(
                f"{share:.0f}%", (guide, share), xytext=(6, 4), textcoords="offset points", fontsize=9,
                color=MAIN, fontweight="bold",
            )  # fmt: skip
    if "episodes" in data.columns:
        n = int(data["episodes"].iloc[0])
        ax.text(0.99, 0.75, f"{n:,} courses of care with\na follow-up pain score", transform=ax.transAxes, ha="right",
                va="top", fontsize=8, color=GREY)  # fmt: skip
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 100)
    percent_axis(ax, "x")
    percent_axis(ax, "y")
    label_axes(ax, **labels)
    if thinned:
        privacy_caption(
            ax,
            f"To protect patients' privacy, the curve is drawn in steps of at least {min_cell_size} courses of care.",
        )
    return ax


def plot_pain_change_distribution(
    episodes: pd.DataFrame, *, min_cell_size: int | None = None, ax: Axes | None = None
) -> Axes:
    """Histogram of the percent change in pain over each assessable episode, with the 30% line.

    Bars of 10 percentage points; episodes improved by 30% or more (a
    moderate improvement, IMMPACT: Dworkin 2008) are coloured, the others
    grey. A worsening beyond -100% is counted in the leftmost bar.

    Parameters
    ----------
    episodes : DataFrame
        The output of :func:`~needling_analytics.metrics.episode_pain`
        (``pct_reduction``, ``assessable``).
    min_cell_size : int, optional
        Smallest count that may be shown. Each bar is one patient's result
        when it holds one episode, so neighbouring bars are then pooled
        (never across the 30% line) until none holds 1 to
        ``min_cell_size - 1`` episodes
        (:func:`~needling_analytics.privacy.suppression.pool_bands`). A
        pooled bar is as wide as the bands it covers; its height is the
        average per 10 points (so that areas stay comparable) and the
        number on it is its total. The x axis then starts at -100% whatever
        the worst result, and the leftmost bar reaches it. When either side
        of the 30% line holds 1 to ``min_cell_size - 1`` episodes, no bar is
        drawn (the total assessed, printed elsewhere in the report, minus
        the other side would give that side away): the chart says why. With
        fewer episodes than that in all, nothing is drawn either.
    ax : Axes, optional
        Where to draw; a new A4-wide figure when None.

    Returns
    -------
    Axes

    Examples
    --------
    >>> from needling_analytics.demo import generate_clinic
    >>> from needling_analytics.load import Clinic
    >>> from needling_analytics.metrics import episode_pain
    >>> ax = plot_pain_change_distribution(episode_pain(Clinic.from_frames(**generate_clinic(n_patients=20, seed=1))))
    """
    labels = {
        "title": "How much pain changed over each course of care",
        "xlabel": "Reduction in pain, first to latest score (%; below 0 = worse)",
        "ylabel": "Number of episodes",
    }
    ax = get_axes(ax)
    has_rows = check_frame(episodes, "episodes", ["pct_reduction", "assessable"])
    if has_rows:
        assessable = episodes["assessable"].fillna(False).to_numpy(dtype=bool)
        values = episodes.loc[assessable, "pct_reduction"].dropna().to_numpy(dtype=float)
    if not has_rows or len(values) == 0:
        return _no_data(ax, **labels)
    if min_cell_size is not None and is_small(len(values), check_min_cell_size(min_cell_size)):
        return too_few(ax, min_cell_size, "assessed courses of care", **labels)

    # with min_cell_size a fixed start, so that the axis does not show how bad the worst result was
    low = -100.0 if min_cell_size is not None else max(-100.0, 10 * np.floor(min(values.min(), 0.0) / 10))
    edges = np.arange(low, 110.0, 10.0)
    counts, _ = np.histogram(np.clip(values, low, 100.0), bins=edges)
    if min_cell_size is not None:
        improved = int(counts[edges[:-1] >= 30].sum())
        for side, words in (
            (improved, "improved by 30% or more"),
            (len(values) - improved, "improved less, or got worse"),
        ):
            if is_small(side, min_cell_size):  # the total assessed, shown elsewhere, minus the other side gives it
                message = (f"Not drawn, to protect patients' privacy: fewer than {min_cell_size} courses of care\n"
                           f"{words}, and the chart would show how many.")  # fmt: skip
                return too_few(ax, min_cell_size, "", message=message, **labels)
    bars = _histogram_bars(edges, counts, min_cell_size)
    for moderate, color, label in (
        (True, MAIN, "improved 30% or more"),
        (False, LIGHT_BAND, "improved less, or worse"),
    ):
        part = bars[bars["moderate"] == moderate]
        drawn = ax.bar(part["left"], part["height"], width=part["right"] - part["left"], align="edge", color=color,
                       edgecolor="white", label=label, zorder=2)  # fmt: skip
        if min_cell_size is not None:
            ax.bar_label(
                drawn, labels=[f"{c:,}" if c else "" for c in part["episodes"]], fontsize=8, padding=2, color=GREY
            )
    ax.axvline(30, color=GOOD, ls="--", lw=1.6, label="moderate improvement (30%)", zorder=3)
    share = float(np.mean(values >= 30 - 1e-9))
    words = f"{100 * share:.0f}% of {len(values):,} episodes improved by 30% or more"
    ax.text(0.01, 0.97, words, transform=ax.transAxes, va="top", fontsize=9, color=MAIN, zorder=4,
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 1.5})  # fmt: skip
    ax.set_xlim(low, 100)
    ax.set_ylim(0, bars["height"].max() * 1.15 + 1)
    percent_axis(ax, "x")
    pooled = bool((bars["right"] - bars["left"] > 10).any())
    label_axes(ax, **{**labels, "ylabel": "Episodes per 10-point band" if pooled else labels["ylabel"]})
    legend_below(ax, ncols=3)
    if pooled:
        privacy_caption(
            ax, f"To protect patients' privacy, bars of 1 to {min_cell_size - 1} episodes are pooled with their "
            "neighbours, and the worst results with the leftmost bar: a wide bar's height is its average per "
            "10 points, the number on it its total.",
        )  # fmt: skip
    return ax


def _histogram_bars(edges: np.ndarray, counts: np.ndarray, min_cell_size: int | None) -> pd.DataFrame:
    """The bars to draw: ``left``, ``right``, ``episodes``, ``moderate`` (30% or more), ``height``.

    Without ``min_cell_size`` one bar per band, as tall as its count. With
    it, bands are pooled on each side of 30%
    (:func:`~needling_analytics.privacy.suppression.pool_bands`), empty bands at the
    left end join the first bar (so that its left edge does not show the
    worst result), and a bar's height is its count per 10 points. The
    caller has checked that neither side holds 1 to ``min_cell_size - 1``,
    so no bar does.
    """
    bands = pd.DataFrame({"left": edges[:-1], "right": edges[1:], "episodes": counts, "moderate": edges[:-1] >= 30})
    if min_cell_size is None:
        return bands.assign(height=bands["episodes"].astype(float))
    pools = np.zeros(len(bands), dtype=int)
    for offset, side in enumerate((~bands["moderate"], bands["moderate"])):
        side_pools = pool_bands(bands.loc[side, "episodes"], min_cell_size=min_cell_size)
        filled = np.flatnonzero(bands.loc[side, "episodes"].to_numpy() > 0)
        if offset == 0 and len(filled):
            side_pools[: filled[0]] = side_pools[filled[0]]  # the empty bands below the worst result
        pools[side.to_numpy()] = side_pools + 1000 * offset
    bars = bands.groupby(pools).agg(left=("left", "min"), right=("right", "max"), episodes=("episodes", "sum"),
                                    moderate=("moderate", "first"))  # fmt: skip
    bars["height"] = bars["episodes"] / ((bars["right"] - bars["left"]) / 10)
    return bars.reset_index(drop=True)
