"""Funnel plot of practitioners' responder rates against the range expected by chance; no ranking."""

from __future__ import annotations

import pandas as pd
from matplotlib.axes import Axes

from .theme import GOOD, GREY, MAIN, check_frame, get_axes, label_axes, legend_below, percent_axis, privacy_caption
from .theme import show_no_data as _no_data


def _limit_levels(funnel: pd.DataFrame, limits: pd.DataFrame) -> list[tuple[str, str]]:
    """(column suffix, label) of each pair of limits, narrowest first."""
    names = {f"{100 * float(x):g}".replace(".", ""): f"{100 * float(x):g}%" for x in funnel.attrs.get("limits", ())}
    names = {"95": "95%", "998": "99.8%", **names}
    suffixes = [c[len("upper_") :] for c in limits.columns if c.startswith("upper_") and f"lower_{c[6:]}" in limits]
    return sorted(((s, names.get(s, s)) for s in suffixes), key=lambda pair: float(pair[1].rstrip("%") or 0))


def plot_funnel(funnel: pd.DataFrame, limits: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """Funnel plot: each practitioner's responder rate against their number of assessed episodes.

    The horizontal line is the clinic's rate; the curves are the 95%
    ("alert") and 99.8% ("alarm") control limits within which a rate is
    expected to fall by chance alone (Spiegelhalter 2005, Stat Med
    24:1185). A point outside them is a prompt to look at case mix and
    data, not a verdict. Practitioners are not ranked.

    Parameters
    ----------
    funnel : DataFrame
        The output of :func:`~needling_analytics.metrics.practitioner_funnel`
        (``practitioner_id``, ``n``, ``indicator``, ``target``), usually
        through :func:`~needling_analytics.reporting.funnel.protect_funnel`
        (practitioners whose point would show a small count removed: a line
        under the chart says how many, from ``attrs["hidden_practitioners"]``)
        and :func:`~needling_analytics.reporting.pseudonyms.label_practitioners`
        (pseudonyms instead of IDs). Each point is labelled with its
        ``practitioner_id``.
    limits : DataFrame
        The output of :func:`~needling_analytics.metrics.funnel_limits`
        (``n``, ``lower_<level>``, ``upper_<level>``, proportions).
    ax : Axes, optional
        Where to draw; a new A4-wide figure when None.

    Returns
    -------
    Axes

    Examples
    --------
    >>> from needling_analytics.demo import generate_clinic
    >>> from needling_analytics.load import Clinic
    >>> from needling_analytics.metrics import funnel_limits, practitioner_funnel
    >>> funnel = practitioner_funnel(Clinic.from_frames(**generate_clinic(n_patients=100, seed=1)), min_episodes=5)
    >>> ax = plot_funnel(funnel, funnel_limits(funnel.attrs["target"], int(funnel["n"].max()) + 10))
    """
    labels = {
        "title": "Responder rate by practitioner, against the range expected by chance",
        "xlabel": "Assessed episodes",
        "ylabel": "Responder rate allowing for case mix (%)"
        if getattr(funnel, "attrs", {}).get("adjusted")
        else "Responder rate (%)",
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
        shown = limits[limits["n"] <= 1.15 * n_max + 1].sort_values("n")
        for (suffix, label), style in zip(_limit_levels(funnel, limits), ["--", ":", "-."], strict=False):
            word = {"95%": " (alert)", "99.8%": " (alarm)"}.get(label, "")
            ax.plot(shown["n"], 100 * shown[f"upper_{suffix}"], color=GREY, ls=style, lw=1.4,
                    label=f"{label} limits{word}")  # fmt: skip
            ax.plot(shown["n"], 100 * shown[f"lower_{suffix}"], color=GREY, ls=style, lw=1.4)
    line = "clinic rate, average practitioner" if funnel.attrs.get("adjusted") else "clinic rate"
    ax.axhline(100 * target, color=GOOD, lw=1.6, label=f"{line} ({100 * target:.0f}%)", zorder=2)
    ax.scatter(data["n"], 100 * data["indicator"], s=45, color=MAIN, zorder=4, label="practitioner")
    order = data["n"].rank(method="first").to_numpy()  # neighbours along x: labels above-right, below-left in turn
    for pid, n, rate, k in zip(data["practitioner_id"], data["n"], data["indicator"], order, strict=True):
        left = k % 2 == 0 or n > 0.75 * n_max  # and near the right edge, always to the left
        ax.annotate(str(pid), (n, 100 * rate), xytext=(-5 if left else 5, -11 if k % 2 == 0 else 4),
                    textcoords="offset points", ha="right" if left else "left", fontsize=8, color=MAIN)  # fmt: skip
    ax.set_xlim(0, 1.15 * n_max + 1)
    ax.set_ylim(0, 100)
    percent_axis(ax, "y")
    label_axes(ax, **labels)
    legend_below(ax, ncols=4, order=["practitioner", "clinic rate"])
    hidden_practitioners_caption(ax, funnel)
    return ax


def hidden_practitioners_caption(ax: Axes, funnel: pd.DataFrame) -> None:
    """Under a funnel chart: how many practitioners are not drawn for privacy (``attrs["hidden_practitioners"]``)."""
    hidden = int(funnel.attrs.get("hidden_practitioners", 0))
    if hidden:
        min_cell_size = funnel.attrs.get("threshold", 11)
        who = "1 practitioner is" if hidden == 1 else f"{hidden} practitioners are"
        privacy_caption(
            ax,
            f"To protect patients' privacy, {who} not drawn, so that no count below {min_cell_size} can be read "
            "or worked out from the chart.",
        )
