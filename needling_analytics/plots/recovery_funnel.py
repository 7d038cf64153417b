"""Funnel plot of practitioners' results against the expected course: observed minus expected, no ranking."""

from __future__ import annotations

import pandas as pd
from matplotlib.axes import Axes

from .practitioners import hidden_practitioners_caption
from .theme import GOOD, GREY, MAIN, check_frame, get_axes, label_axes, legend_below
from .theme import show_no_data as _no_data


def _levels(funnel: pd.DataFrame, limits: pd.DataFrame) -> list[tuple[str, str]]:
    """(column suffix, label) of each pair of limits, narrowest first."""
    names = {f"{100 * float(x):g}".replace(".", ""): f"{100 * float(x):g}%" for x in funnel.attrs.get("limits", ())}
    names = {"95": "95%", "998": "99.8%", **names}
    suffixes = [c[len("upper_") :] for c in limits.columns if c.startswith("upper_") and f"lower_{c[6:]}" in limits]
    return sorted(((s, names.get(s, s)) for s in suffixes), key=lambda pair: float(pair[1].rstrip("%") or 0))


def plot_difference_funnel(funnel: pd.DataFrame, limits: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """Each practitioner's mean of observed minus expected at week 8 against their number of courses.

    Positive is better than expected for the same patients. The solid
    line is the clinic's average, the curves its 95% ("alert") and 99.8%
    ("alarm") control limits (Spiegelhalter 2005, Stat Med 24:1185, a
    normal outcome), the dotted line 0: exactly as expected. Practitioners
    are not ranked.

    Parameters
    ----------
    funnel : DataFrame
        :func:`~needling_analytics.metrics.difference_funnel` (``practitioner_id``,
        ``n``, ``indicator``, ``target``), usually protected
        (:func:`~needling_analytics.reporting.protect_difference_funnel`: a
        line under the chart says how many are not drawn) and labelled.
    limits : DataFrame
        :func:`~needling_analytics.metrics.difference_funnel_limits`.
    ax : Axes, optional
        Where to draw; a new A4-wide figure when None.

    Returns
    -------
    Axes

    Examples
    --------
    >>> import pandas as pd
    >>> from needling_analytics.metrics import difference_funnel, difference_funnel_limits
    >>> fixed = pd.DataFrame({"practitioner_id": ["A"] * 12 + ["B"] * 15, "patient_id": [str(i) for i in range(27)],
    ...                       "difference": [0.5, -1.0, 1.5] * 9})
    >>> funnel = difference_funnel(fixed)
    >>> ax = plot_difference_funnel(funnel, difference_funnel_limits(funnel.attrs["target"], funnel.attrs["sd"], 20))
    """
    labels = {
        "title": "Change in pain by week 8 against the expected change, by practitioner",
        "xlabel": "Courses of care scored at about week 8",
        "ylabel": "Points better than expected",
    }
    has_rows = check_frame(funnel, "funnel", ["practitioner_id", "n", "indicator", "target"])
    has_limits = check_frame(limits, "limits", ["n"])
    ax = get_axes(ax)
    data = funnel.dropna(subset=["n", "indicator"]) if has_rows else None
    if not has_rows or data.empty:
        return _no_data(ax, **labels)
    n_max = float(data["n"].max())
    target = float(data["target"].iloc[0])
    if has_limits:
        start = max(3.0, 0.5 * float(data["n"].min()))  # the funnel's mouth is drawn near the smallest practitioner
        shown = limits[(limits["n"] <= 1.15 * n_max + 1) & (limits["n"] >= start)].sort_values("n")
        for (suffix, label), style in zip(_levels(funnel, limits), ["--", ":", "-."], strict=False):
            word = {"95%": " (alert)", "99.8%": " (alarm)"}.get(label, "")
            ax.plot(shown["n"], shown[f"upper_{suffix}"], color=GREY, ls=style, lw=1.4, label=f"{label} limits{word}")
            ax.plot(shown["n"], shown[f"lower_{suffix}"], color=GREY, ls=style, lw=1.4)
    ax.axhline(0, color="black", lw=0.8, alpha=0.6, label="as expected (0)", zorder=1)
    ax.axhline(target, color=GOOD, lw=1.6, label=f"clinic average ({target:+.1f})".replace("-", "−"), zorder=2)
    ax.scatter(data["n"], data["indicator"], s=45, color=MAIN, zorder=4, label="practitioner")
    order = data["n"].rank(method="first").to_numpy()
    for pid, n, value, k in zip(data["practitioner_id"], data["n"], data["indicator"], order, strict=True):
        left = k % 2 == 0 or n > 0.75 * n_max
        ax.annotate(str(pid), (n, value), xytext=(-5 if left else 5, -11 if k % 2 == 0 else 4),
                    textcoords="offset points", ha="right" if left else "left", fontsize=8, color=MAIN)  # fmt: skip
    ax.set_xlim(0, 1.15 * n_max + 1)
    if has_limits and len(shown):
        low = min(float(shown.filter(like="lower_").min().min()), float(data["indicator"].min()), 0.0)
        high = max(float(shown.filter(like="upper_").max().max()), float(data["indicator"].max()), 0.0)
        pad = 0.1 * (high - low or 1.0)
        ax.set_ylim(low - pad, high + pad)
    label_axes(ax, **labels)
    legend_below(ax, ncols=3, order=["practitioner", "clinic average", "as expected (0)"])
    hidden_practitioners_caption(ax, funnel)
    return ax
