"""Plots for the clinic report: outcomes, time to response, practitioners, activity, safety.

Each function takes the tidy frame of a metric and returns the matplotlib
``Axes`` it drew on; nothing is shown or saved here. Wording is for a
clinic owner: plain units, "association" where the data cannot show cause,
and no ranking of practitioners.

Privacy: every chart that shows counts, or rates built on counts, takes
``min_cell_size`` (the clinic report passes 11). With it, no value built on
1 to ``min_cell_size - 1`` patients, episodes or events is drawn: such a
value is left out, pooled with its neighbours, or drawn as a hatched mark
labelled ``"<11"``, and a grey line under the chart says so. The decisions
are made by :mod:`needling_analytics.suppression`. Without it
(the default) every value is drawn, for the clinic's own analyses.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter
from matplotlib.transforms import ScaledTranslation

from ..suppression import (
    COMPLEMENT,
    check_threshold,
    is_small,
    keep_steps,
    monthly_hidden,
    pool_bands,
)
from .theme import (
    BENCHMARKS,
    GOOD,
    GREY,
    LIGHT_BAND,
    MAIN,
    PALETTE,
    SECOND,
    add_legend,
    check_frame,
    get_axes,
    label_axes,
    legend_below,
)
from .theme import show_no_data as _no_data

#: IMMPACT (Dworkin 2008, J Pain 9:105): >= 30% moderate, >= 50% substantial pain improvement.
IMMPACT_GUIDES = ((30.0, "moderate"), (50.0, "substantial"))
_KM_COLUMNS = ["time", "at_risk", "events", "survival", "std_error", "share_responded", "ci_lower", "ci_upper"]
#: Plain names of the benchmarked adverse-event rows (event_type, severity).
_EVENT_NAMES = {
    ("any", "mild"): "Any minor event",
    ("any", "major"): "Any major event",
    ("any", "any"): "Any event",
    ("pain_during", "mild"): "Pain during needling",
    ("pain_after", "mild"): "Pain after needling",
}


#: Style of a hatched mark standing for a hidden count.
HIDDEN_STYLE = {"facecolor": "none", "edgecolor": GREY, "hatch": "///", "linewidth": 0.8}


def _privacy_caption(ax: Axes, text: str) -> None:
    """A grey line under the chart and its legend saying what was left out, and that it protects privacy."""
    figure = ax.figure
    try:
        renderer = figure.canvas.get_renderer()
        depth = (ax.get_window_extent(renderer).y0 - ax.get_tightbbox(renderer).y0) * 72 / figure.dpi
    except (AttributeError, TypeError):  # a canvas without a renderer: tick labels and an axis label
        depth = 36.0
    below = ax.transAxes + ScaledTranslation(0, -(depth + 6) / 72, figure.dpi_scale_trans)
    ax.text(0, 0, text, transform=below, ha="left", va="top", fontsize=8, color=GREY, gid="privacy-note", wrap=True)


def _too_few(ax: Axes, threshold: int, what: str, *, message: str | None = None, **labels) -> Axes:
    """Label the axes and say, in the centre, that the chart is not drawn because it rests on too few.

    ``message`` replaces the default sentence ("Fewer than 11 {what}: ...").
    """
    label_axes(ax, **labels)
    ax.set_xticks([])
    ax.set_yticks([])
    text = message or f"Fewer than {threshold} {what}: not drawn, to protect patients' privacy."
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize=11, color=GREY)
    return ax


def _percent_axis(ax: Axes, which: str = "y") -> None:
    axis = ax.yaxis if which == "y" else ax.xaxis
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}%"))


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
        ``min_cell_size`` (:func:`~needling_analytics.suppression.keep_steps`),
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
        threshold = check_threshold(min_cell_size)
        check_frame(curve, "curve", ["episodes", "improved"])
        total = float(data["episodes"].iloc[0])
        guides = np.flatnonzero(data["threshold_pct"].isin([t for t, _ in IMMPACT_GUIDES]).to_numpy())
        keep = keep_steps(data["improved"], threshold=threshold, start=total, anchors=guides)
        if is_small(total, threshold) or keep.sum() < 2:
            return _too_few(ax, threshold, "courses of care", **labels)
        thinned = not keep.all()
        data = data[keep]

    x = data["threshold_pct"].to_numpy(dtype=float)
    y = 100.0 * data["share"].to_numpy(dtype=float)
    ax.plot(x, y, color=MAIN, lw=2.2, clip_on=False, zorder=3)
    for k, (threshold, name) in enumerate(IMMPACT_GUIDES):
        ax.axvline(threshold, color=GREY, lw=1, alpha=0.6, zorder=1, gid=name)
        left = k % 2 == 0  # labels face away from each other so that neighbours never collide
        ax.text(threshold + (-1 if left else 1), 99, name, color=GREY, fontsize=9, va="top",
                ha="right" if left else "left")  # fmt: skip
        drawn = np.isclose(x, threshold).any() if min_cell_size is not None else x.min() <= threshold <= x.max()
        if drawn:
            share = float(np.interp(threshold, x, y))
            ax.plot([threshold], [share], "o", color=MAIN, ms=6, zorder=4)
            ax.annotate(
                f"{share:.0f}%", (threshold, share), xytext=(6, 4), textcoords="offset points", fontsize=9,
                color=MAIN, fontweight="bold",
            )  # fmt: skip
    if "episodes" in data.columns:
        n = int(data["episodes"].iloc[0])
        ax.text(0.99, 0.75, f"{n:,} courses of care with\na follow-up pain score", transform=ax.transAxes, ha="right",
                va="top", fontsize=8, color=GREY)  # fmt: skip
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 100)
    _percent_axis(ax, "x")
    _percent_axis(ax, "y")
    label_axes(ax, **labels)
    if thinned:
        _privacy_caption(
            ax,
            f"To protect patients' privacy, the curve is drawn in steps of at least {min_cell_size} courses of care.",
        )
    return ax


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
    group: str | None = None,
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
    group : str, optional
        The grouping column passed to ``kaplan_meier``: one curve per value.
        Required when ``km`` has one.
    min_at_risk : int
        Least number of episodes under observation for a step to be drawn
        (uses ``at_risk``; default 10; 1 draws the whole curve).
    min_cell_size : int, optional
        Smallest count that may be shown. Each curve then stops once fewer
        than this many episodes remain (at least ``min_at_risk``), and
        rises only in steps of at least this many responses (``events``;
        :func:`~needling_analytics.suppression.keep_steps`), so
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
    has_rows = check_frame(km, "km", needed if group is None else [group, *needed])
    if has_rows and group is None:
        extra = [c for c in km.columns if c not in _KM_COLUMNS]
        if extra:
            raise ValueError(
                f"`km` has rows for several groups (column {extra[0]!r}); pass group={extra[0]!r} to draw one curve each"
            )
    ax = get_axes(ax)
    data = km.dropna(subset=["time", "share_responded"]) if has_rows else None
    if not has_rows or data.empty:
        return _no_data(ax, **labels)
    if min_cell_size is not None:
        check_frame(km, "km", ["at_risk", "events"])
        min_at_risk = max(min_at_risk, check_threshold(min_cell_size))

    if "at_risk" in data.columns:
        data = data[data["at_risk"] >= min_at_risk]
    keys = [None] if group is None else _group_order(km[group])
    if data.empty and group is None:
        return _no_data(ax, **labels)
    names = ["share of episodes" if key is None else str(key) for key in keys]
    banded = False
    for k, (key, name) in enumerate(zip(keys, names, strict=True)):
        part = data if key is None else data[data[group] == key]
        part = part.sort_values("time", kind="stable")
        if min_cell_size is not None:
            part = part[keep_steps(part["events"].cumsum(), threshold=min_cell_size)]
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
    _percent_axis(ax, "y")
    label_axes(ax, **labels)
    title = None if group is None else group.replace("_", " ").capitalize()
    legend_below(ax, ncols=2 if group is not None and len(names) > 2 else 4, order=names, title=title)
    if min_cell_size is not None:
        _privacy_caption(
            ax,
            f"To protect patients' privacy, each step stands for at least {min_cell_size} responses, and a curve "
            f"stops when fewer than {min_at_risk} courses of care remain.",
        )
    return ax


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
        through :func:`~needling_analytics.reporting.tables.protect_funnel`
        (practitioners whose point would show a small count removed: a line
        under the chart says how many, from ``attrs["hidden_practitioners"]``)
        and :func:`~needling_analytics.reporting.tables.label_practitioners`
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
    _percent_axis(ax, "y")
    label_axes(ax, **labels)
    legend_below(ax, ncols=4, order=["practitioner", "clinic rate"])
    hidden = int(funnel.attrs.get("hidden_practitioners", 0))
    if hidden:
        threshold = funnel.attrs.get("threshold", 11)
        who = "1 practitioner is" if hidden == 1 else f"{hidden} practitioners are"
        _privacy_caption(
            ax,
            f"To protect patients' privacy, {who} not drawn, so that no count below {threshold} can be read "
            "or worked out from the chart.",
        )
    return ax


def _month_labels(months: pd.Series) -> list[str]:
    if not isinstance(months.dtype, pd.PeriodDtype):
        months = pd.to_datetime(months.astype(str)).dt.to_period("M")
    return months.dt.strftime("%b %Y").tolist()


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
        (:func:`~needling_analytics.suppression.monthly_hidden`):
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
        threshold = check_threshold(min_cell_size)
        hidden = monthly_hidden(data, threshold=threshold)
        hide_sessions = hidden["sessions_attended"].to_numpy()
        hide_patients = hidden["active_patients"].to_numpy()
    shown = np.where(hide_sessions, np.nan, sessions)
    bars = ax.bar(x, shown, width=0.7, color=MAIN, alpha=0.85, label="sessions attended", zorder=2)
    ax.bar_label(bars, labels=["" if np.isnan(v) else f"{v:.0f}" for v in shown], fontsize=8, padding=2, color=GREY)
    ax.plot(x, np.where(hide_patients, np.nan, patients), color=SECOND, marker="o", lw=2.2,
            label="patients seen (at least one session)", zorder=3)  # fmt: skip
    top = np.nanmax(np.r_[1.0, shown, np.where(hide_patients, np.nan, patients)])
    if hide_sessions.any() or hide_patients.any():
        marks = [_hidden_marks(v, h, threshold) for v, h in ((sessions, hide_sessions), (patients, hide_patients))]
        _draw_hidden_months(ax, x, *marks, threshold)
        top = max(top, threshold) * 1.15  # room for the legend's second row
    ax.set_xticks(
        x, _month_labels(data["month"]), rotation=45 if len(x) > 7 else 0, ha="right" if len(x) > 7 else "center"
    )
    ax.set_xlim(-0.6, len(x) - 0.4)
    ax.set_ylim(0, top * 1.3)
    ax.grid(False, axis="x")
    add_legend(ax, loc="upper left", ncols=2, order=["sessions"])
    label_axes(ax, **labels)
    if hide_sessions.any() or hide_patients.any():
        _privacy_caption(
            ax, f'To protect patients\' privacy, a figure from 1 to {threshold - 1} is hidden ("<{threshold}"), and '
            f'so is one from which it could be worked out ("{COMPLEMENT}").',
        )  # fmt: skip
    return ax


def _hidden_marks(values: np.ndarray, hidden: np.ndarray, threshold: int) -> np.ndarray:
    """Per value: ``"<11"`` when hidden as small, ``"*"`` when hidden to protect another, ``""`` when shown."""
    small = is_small(values, threshold)
    return np.where(~hidden, "", np.where(small, f"<{threshold}", COMPLEMENT))


def _draw_hidden_months(ax: Axes, x: np.ndarray, sessions: np.ndarray, patients: np.ndarray, threshold: int) -> None:
    """Where a month's figure is hidden: its mark, over a hatched bar (sessions, small) or a hollow point (patients).

    ``sessions`` and ``patients`` hold each month's mark (:func:`_hidden_marks`):
    empty where the figure is shown.
    """
    small = sessions == f"<{threshold}"
    if small.any():  # below the line at `threshold`: a hatched bar up to it
        bars = ax.bar(x[small], threshold, width=0.7, zorder=2, label="sessions: hidden", **HIDDEN_STYLE)
        ax.bar_label(bars, labels=list(sessions[small]), fontsize=8, padding=2, color=GREY)
    for position in x[sessions == COMPLEMENT]:  # at least `threshold`, but how many is hidden: no bar at all
        ax.annotate(COMPLEMENT, (position, 0), xytext=(0, 3), textcoords="offset points", ha="center", va="bottom",
                    fontsize=11, color=GREY)  # fmt: skip
    hidden = patients != ""
    if hidden.any():
        ax.scatter(x[hidden], np.full(int(hidden.sum()), float(threshold)), s=36, facecolor="white", edgecolor=SECOND,
                   lw=1.5, zorder=4, label="patients: hidden")  # fmt: skip
        for position, mark in zip(x[hidden], patients[hidden], strict=True):
            ax.annotate(mark, (position, threshold), xytext=(6, 0), textcoords="offset points", va="center",
                        fontsize=8, color=SECOND)  # fmt: skip


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
        (:func:`~needling_analytics.suppression.pool_bands`);
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
        threshold = check_threshold(min_cell_size)
        if is_small(len(x), threshold):
            return _too_few(ax, threshold, "courses of care", **labels)
        bands = _frequency_bands(data, threshold)
        span = _draw_frequency_bands(ax, bands)
        smooth_ok = len(x) >= 1.5 * threshold and span is not None
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
        _privacy_caption(
            ax, "To protect patients' privacy, single courses of care are not drawn: each point is the average of a "
            f"band of at least {threshold}, neighbouring bands pooled where needed.",
        )  # fmt: skip
    return ax


def _frequency_bands(data: pd.DataFrame, threshold: int) -> pd.DataFrame:
    """Frequency bands with at least ``threshold`` episodes each: neighbouring bands pooled until they are.

    The bands are those of :func:`~needling_analytics.metrics.session_exposures`
    (under 1, 1 to 2, 2 or more a week), pooled by
    :func:`~needling_analytics.suppression.pool_bands`; empty
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
    pool = pd.Series(pool_bands(counts, threshold=threshold), index=counts.index)
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


def _event_name(event_type: str, severity: str) -> str:
    name = _EVENT_NAMES.get((event_type, severity))
    if name is None:
        name = str(event_type).replace("_", " ").capitalize()
        if severity not in ("mild", "any"):
            name += f" ({severity})"
    return name


def plot_adverse_event_rates(
    comparison: pd.DataFrame, *, min_cell_size: int | None = None, ax: Axes | None = None
) -> Axes:
    """The clinic's adverse-event rates, with their exact intervals, beside published rates.

    The x axis is logarithmic (1, 10, 100 equally spaced) so that rare
    major events and common bruising are both readable; zero sits at the
    left edge. Benchmarks: Brady 2014 (J Man Manip Ther 22:134) and Boyce
    2020 (Int J Sports Phys Ther 15:103).

    Parameters
    ----------
    comparison : DataFrame
        The output of :func:`~needling_analytics.metrics.compare_to_benchmarks`
        (``events`` too with ``min_cell_size``). An event type whose
        ``comparison`` is ``"not_recorded"`` gets no clinic point (it would
        read as "none here") but the words "not recorded in this clinic's
        data".
    min_cell_size : int, optional
        Smallest count that may be shown: the clinic's rate (and interval)
        of an event type with 1 to ``min_cell_size - 1`` events is then not
        drawn; its row says "fewer than 11 events: rate hidden". Published
        rates are always drawn.
    ax : Axes, optional
        Where to draw; a new A4-wide figure when None.

    Returns
    -------
    Axes

    Examples
    --------
    >>> from needling_analytics.demo import generate_clinic
    >>> from needling_analytics.load import Clinic
    >>> from needling_analytics.metrics import adverse_event_rates, compare_to_benchmarks
    >>> clinic = Clinic.from_frames(**generate_clinic(n_patients=60, seed=1))
    >>> ax = plot_adverse_event_rates(compare_to_benchmarks(adverse_event_rates(clinic)))
    """
    labels = {
        "title": "Adverse events compared with published rates",
        "xlabel": "Events per 100 treatments (each step on this scale is ten times the one before)",
        "ylabel": "Type of event",
    }
    columns = ["event_type", "severity", "study", "benchmark_rate_per_100", "rate_per_100", "ci_lower", "ci_upper"]
    has_rows = check_frame(comparison, "comparison", columns)
    data = comparison.dropna(subset=["rate_per_100"]) if has_rows else None
    ax = get_axes(ax, height=max(3.2, 0.5 * data[["event_type", "severity"]].drop_duplicates().shape[0] + 1.4)
                  if has_rows else None)  # fmt: skip
    if not has_rows or data.empty:
        return _no_data(ax, **labels)

    keys = data[["event_type", "severity"]].astype(str).drop_duplicates().reset_index(drop=True)
    first = data.drop_duplicates(["event_type", "severity"]).astype({"event_type": str, "severity": str})
    clinic = keys.merge(first, on=["event_type", "severity"], how="left")
    position = pd.Series(np.arange(len(keys)), index=pd.MultiIndex.from_frame(keys))
    studies = list(dict.fromkeys(data["study"].dropna().astype(str)))
    step = 0.7 / (len(studies) + 1)  # clinic on top of its row, then one sub-row per study
    y = np.arange(len(keys), dtype=float)
    hidden = np.zeros(len(keys), dtype=bool)
    if min_cell_size is not None:
        check_frame(comparison, "comparison", ["events"])
        hidden = is_small(clinic["events"].to_numpy(dtype=float), check_threshold(min_cell_size))
    # an event type the clinic never records has no rate here: drawing it at 0 would read "none happened"
    unrecorded = np.zeros(len(keys), dtype=bool)
    if "comparison" in clinic:
        unrecorded = clinic["comparison"].eq("not_recorded").to_numpy(dtype=bool)
    hidden = hidden & ~unrecorded
    rate = np.where(hidden | unrecorded, np.nan, clinic["rate_per_100"].to_numpy(dtype=float))
    # a hidden rate's interval is left out too, so that it cannot move the axis limits
    low = np.where(hidden | unrecorded, np.nan, np.fmin(clinic["ci_lower"].to_numpy(dtype=float), rate))
    high = np.where(hidden | unrecorded, np.nan, np.fmax(clinic["ci_upper"].to_numpy(dtype=float), rate))
    y_clinic = y - 0.35 + step / 2
    ax.errorbar(rate, y_clinic, xerr=np.nan_to_num([rate - low, high - rate]), fmt="o", color=MAIN, ms=7,
                capsize=4, lw=2, label="this clinic (95% interval)", zorder=3, clip_on=False)  # fmt: skip
    text_x = np.where(np.isfinite(high), high, rate)
    for y_text in y_clinic[hidden]:
        ax.annotate(f"fewer than {min_cell_size} events: rate hidden", (0, y_text), xytext=(4, 0),
                    textcoords="offset points", va="center", fontsize=8, color=GREY, gid="hidden")  # fmt: skip
    for y_text in y_clinic[unrecorded]:
        ax.annotate("not recorded in this clinic's data", (0, y_text), xytext=(4, 0), textcoords="offset points",
                    va="center", fontsize=8, color=GREY, gid="not_recorded")  # fmt: skip
    drawn = ~hidden & ~unrecorded
    for x_text, y_text, value in zip(text_x[drawn], y_clinic[drawn], rate[drawn], strict=True):  # a handful
        ax.annotate(f"{value:.1f}" if value >= 1 else f"{value:.2g}", (x_text, y_text), xytext=(6, 0), textcoords="offset points", va="center",
                    fontsize=8, color=MAIN)  # fmt: skip
    for k, study in enumerate(studies):
        rows = data[data["study"].astype(str) == study]
        where = pd.MultiIndex.from_arrays([rows["event_type"].astype(str), rows["severity"].astype(str)])
        rows_y = position.reindex(where).to_numpy(dtype=float) - 0.35 + step * (k + 1.5)
        ax.scatter(rows["benchmark_rate_per_100"], rows_y, marker="D^sv"[k % 4], s=34, clip_on=False,
                   color=BENCHMARKS[k % len(BENCHMARKS)], label=f"{study} (published)", zorder=2)  # fmt: skip
    ax.set_xscale("symlog", linthresh=0.1, linscale=0.4)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    top = np.nanmax(np.r_[high, data["benchmark_rate_per_100"].to_numpy(dtype=float), 1.0])
    ax.set_xlim(0, 10 ** np.ceil(np.log10(top)))
    ax.set_yticks(y, [_event_name(t, s) for t, s in zip(keys["event_type"], keys["severity"], strict=True)])
    ax.set_ylim(len(y) - 0.5, -0.5)
    ax.grid(False, axis="y")
    for boundary in y[1:] - 0.5:
        ax.axhline(boundary, color=LIGHT_BAND, lw=0.8, zorder=0)
    label_axes(ax, **labels)
    legend_below(ax, ncols=3, order=["this clinic"])
    if hidden.any():
        _privacy_caption(
            ax, f"To protect patients' privacy, the clinic's rate is not drawn where it rests on 1 to "
            f"{min_cell_size - 1} events.",
        )  # fmt: skip
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
        (:func:`~needling_analytics.suppression.pool_bands`). A
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
    if min_cell_size is not None and is_small(len(values), check_threshold(min_cell_size)):
        return _too_few(ax, min_cell_size, "assessed courses of care", **labels)

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
                return _too_few(ax, min_cell_size, "", message=message, **labels)
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
    _percent_axis(ax, "x")
    pooled = bool((bars["right"] - bars["left"] > 10).any())
    label_axes(ax, **{**labels, "ylabel": "Episodes per 10-point band" if pooled else labels["ylabel"]})
    legend_below(ax, ncols=3)
    if pooled:
        _privacy_caption(
            ax, f"To protect patients' privacy, bars of 1 to {min_cell_size - 1} episodes are pooled with their "
            "neighbours, and the worst results with the leftmost bar: a wide bar's height is its average per "
            "10 points, the number on it its total.",
        )  # fmt: skip
    return ax


def _histogram_bars(edges: np.ndarray, counts: np.ndarray, min_cell_size: int | None) -> pd.DataFrame:
    """The bars to draw: ``left``, ``right``, ``episodes``, ``moderate`` (30% or more), ``height``.

    Without ``min_cell_size`` one bar per band, as tall as its count. With
    it, bands are pooled on each side of 30%
    (:func:`~needling_analytics.suppression.pool_bands`), empty bands at the
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
        side_pools = pool_bands(bands.loc[side, "episodes"], threshold=min_cell_size)
        filled = np.flatnonzero(bands.loc[side, "episodes"].to_numpy() > 0)
        if offset == 0 and len(filled):
            side_pools[: filled[0]] = side_pools[filled[0]]  # the empty bands below the worst result
        pools[side.to_numpy()] = side_pools + 1000 * offset
    bars = bands.groupby(pools).agg(left=("left", "min"), right=("right", "max"), episodes=("episodes", "sum"),
                                    moderate=("moderate", "first"))  # fmt: skip
    bars["height"] = bars["episodes"] / ((bars["right"] - bars["left"]) / 10)
    return bars.reset_index(drop=True)
