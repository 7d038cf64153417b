"""Plot of the time to a clinically important improvement (Kaplan-Meier), overall or by group."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from ..privacy.suppression import check_min_cell_size, keep_steps
from .theme import PALETTE, check_frame, get_axes, label_axes, legend_below, percent_axis, privacy_caption
from .theme import show_no_data as _no_data

_KM_COLUMNS = ["time", "at_risk", "events", "survival", "std_error", "share_responded", "ci_lower", "ci_upper"]


def _group_order(values: pd.Series) -> list:
    if isinstance(values.dtype, pd.CategoricalDtype):
        return [c for c in values.cat.categories if (values == c).any()]
    from ..metrics.landmark import BAND_LABELS

    present = list(dict.fromkeys(values.dropna()))
    if set(present) <= set(BAND_LABELS):
        return [b for b in BAND_LABELS if b in present]
    return sorted(present, key=str)


def plot_time_to_response(
    km: pd.DataFrame,
    *,
    by: str | None = None,
    min_at_risk: int = 10,
    min_cell_size: int | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Kaplan-Meier share of episodes that reached a clinically important improvement, over time.

    A step line per group with its shaded pointwise confidence band.
    Episodes that stopped coming are counted until their last visit
    (censored), so the curve describes the clinic's records, not what
    continued care would have achieved. Each curve stops once fewer than
    ``min_at_risk`` episodes are still under observation: beyond that the
    estimate rests on a handful of patients and one late responder makes
    the curve leap (often to 100%). A group that never has that many is
    named in the legend as too small to show.

    Parameters
    ----------
    km : DataFrame
        The output of :func:`~needling_analytics.metrics.kaplan_meier`
        (``time`` in days, ``share_responded``, ``ci_lower``, ``ci_upper``).
    by : str, optional
        The grouping column passed to ``kaplan_meier``: one curve per value.
        Required when ``km`` has one.
    min_at_risk : int
        Least number of episodes under observation for a step to be drawn
        (uses ``at_risk``; default 10; 1 draws the whole curve).
    min_cell_size : int, optional
        Smallest count that may be shown. Each curve then stops once fewer
        than this many episodes remain (at least ``min_at_risk``), and
        rises only in steps of at least this many responses (``events``;
        :func:`~needling_analytics.privacy.suppression.keep_steps`), so
        that no step shows 1 to ``min_cell_size - 1`` patients.
    ax : Axes, optional
        Where to draw; a new A4-wide figure when None.

    Returns
    -------
    Axes

    Examples
    --------
    >>> from needling_analytics.demo import generate_clinic
    >>> from needling_analytics.load import Clinic
    >>> from needling_analytics.metrics import kaplan_meier, time_to_response
    >>> clinic = Clinic.from_frames(**generate_clinic(n_patients=20, seed=1))
    >>> ax = plot_time_to_response(kaplan_meier(time_to_response(clinic)))
    """
    labels = {
        "title": "Time to a clinically important improvement",
        "xlabel": "Days since first visit",
        "ylabel": "Reached clinically important\nimprovement (%)",
    }
    if isinstance(min_at_risk, bool) or not isinstance(min_at_risk, int | np.integer) or min_at_risk < 1:
        raise ValueError(f"`min_at_risk` must be a whole number of episodes, 1 or more, got {min_at_risk!r}")
    needed = ["time", "share_responded", "ci_lower", "ci_upper"]
    has_rows = check_frame(km, "km", needed if by is None else [by, *needed])
    if has_rows and by is None:
        extra = [c for c in km.columns if c not in _KM_COLUMNS]
        if extra:
            raise ValueError(
                f"`km` has rows for several groups (column {extra[0]!r}); pass by={extra[0]!r} to draw one curve each"
            )
    ax = get_axes(ax)
    data = km.dropna(subset=["time", "share_responded"]) if has_rows else None
    if not has_rows or data.empty:
        return _no_data(ax, **labels)
    if min_cell_size is not None:
        check_frame(km, "km", ["at_risk", "events"])
        min_at_risk = max(min_at_risk, check_min_cell_size(min_cell_size))

    if "at_risk" in data.columns:
        data = data[data["at_risk"] >= min_at_risk]
    keys = [None] if by is None else _group_order(km[by])
    if data.empty and by is None:
        return _no_data(ax, **labels)
    names = ["share of episodes" if key is None else str(key) for key in keys]
    banded = False
    for k, (key, name) in enumerate(zip(keys, names, strict=True)):
        part = data if key is None else data[data[by] == key]
        part = part.sort_values("time", kind="stable")
        if min_cell_size is not None:
            part = part[keep_steps(part["events"].cumsum(), min_cell_size=min_cell_size)]
            part = part if len(part) > 1 else part.iloc[:0]
        color = PALETTE[k % len(PALETTE)]
        if part.empty:
            ax.plot([], [], color=color, lw=2, label=f"{name}: too few episodes to show")
            continue
        t = part["time"].to_numpy(dtype=float)
        ax.step(t, 100 * part["share_responded"], where="post", color=color, lw=2, label=name)
        ax.fill_between(t, 100 * part["ci_lower"], 100 * part["ci_upper"], step="post", color=color, alpha=0.18,
                        lw=0, label=None if banded else "shaded: 95% confidence band")  # fmt: skip
        banded = True
    ax.set_xlim(0, None)
    ax.set_ylim(0, 100)
    percent_axis(ax, "y")
    label_axes(ax, **labels)
    title = None if by is None else by.replace("_", " ").capitalize()
    legend_below(ax, ncols=2 if by is not None and len(names) > 2 else 4, order=names, title=title)
    if min_cell_size is not None:
        privacy_caption(
            ax,
            f"To protect patients' privacy, each step stands for at least {min_cell_size} responses, and a curve "
            f"stops when fewer than {min_at_risk} courses of care remain.",
        )
    return ax
