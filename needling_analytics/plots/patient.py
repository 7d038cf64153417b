"""Plots for one patient's report: pain per session, range of motion, questionnaires, journal.

Each function takes the tidy frame of a metric, filtered to one episode or
one patient, and returns the matplotlib ``Axes`` it drew on. Nothing is
shown or saved here: the notebook decides.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from ..metrics.norms import instrument_table
from ..metrics.pain import DEFAULT_RULE, ResponderRule
from .theme import (
    GOOD,
    GREY,
    LIGHT_BAND,
    MAIN,
    PALETTE,
    SECOND,
    check_frame,
    date_axis,
    get_axes,
    label_axes,
    legend_below,
)
from .theme import show_no_data as _no_data

PAIN_LABEL = "Pain (0-10)"
TARGET_LABEL = "clinically important improvement"


def _only_one(data: pd.DataFrame, name: str, column: str, what: str) -> None:
    """Raise when ``data[column]`` holds more than one value (several episodes or patients)."""
    if column in data.columns:
        values = data[column].dropna().unique()
        if len(values) > 1:
            raise ValueError(
                f"`{name}` must hold one {what}, got {len(values)} ({list(values[:3])!r}...); "
                f"filter it first, e.g. {name}[{name}[{column!r}] == {str(values[0])!r}]"
            )


def _dates_with_margin(ax: Axes, dates: pd.Series) -> None:
    """Readable date ticks; a week either side when every point falls on one day."""
    if dates.nunique() == 1:
        day = dates.iloc[0]
        ax.set_xlim(day - pd.Timedelta(days=7), day + pd.Timedelta(days=7))
    date_axis(ax)


def target_pain(baseline: float, rule: ResponderRule = DEFAULT_RULE) -> float:
    """The pain score a patient starting at ``baseline`` must reach to meet ``rule``.

    baseline - max(abs_threshold, pct_threshold% of baseline) when the rule
    requires both thresholds, baseline - the smaller of the two when either
    will do; NaN when the rule cannot be met from that baseline
    (:meth:`ResponderRule.reachable`).

    Examples
    --------
    >>> round(target_pain(8.0), 2)  # 8 - max(2, 30% of 8 = 2.4)
    5.6
    """
    if not np.isfinite(baseline) or not bool(rule.reachable(baseline)):
        return float("nan")
    by_abs, by_pct = rule.abs_threshold, rule.pct_threshold / 100.0 * baseline
    drop = max(by_abs, by_pct) if rule.require == "both" else min(by_abs, by_pct)
    return float(baseline - drop)


def plot_pain_over_sessions(
    pain: pd.DataFrame,
    *,
    rule: ResponderRule | None = None,
    ax: Axes | None = None,
    assessments: pd.DataFrame | None = None,
) -> Axes:
    """Pain before and after each session of one episode, with the level to reach.

    Pain before a session is drawn with filled markers, pain after with
    hollow ones; the dashed green line is the score the patient must reach
    for a clinically important improvement under ``rule`` (default 2 points
    and 30% below the first score: Farrar 2001, Pain 94:149; Childs 2005,
    Spine 30:1331), counted from the first recorded pain before a session.
    No line is drawn when the rule cannot be met from that first score.

    Parameters
    ----------
    pain : DataFrame
        Rows of :func:`~needling_analytics.metrics.session_pain` for one
        episode (``session_date``, ``pain_pre``, ``pain_post``).
    rule : ResponderRule, optional
        The responder definition; default ``metrics.DEFAULT_RULE``.
    ax : Axes, optional
        Where to draw; a new A4-wide figure when None.
    assessments : DataFrame, optional
        Follow-up assessments of the same episode (``date``, ``pain``: the
        assessment rows of :func:`~needling_analytics.metrics.pain_readings`),
        drawn as diamonds: they count as readings of the course's pain.

    Returns
    -------
    Axes

    Examples
    --------
    >>> from needling_analytics.demo import generate_clinic
    >>> from needling_analytics.load import Clinic
    >>> from needling_analytics.metrics import session_pain
    >>> pain = session_pain(Clinic.from_frames(**generate_clinic(n_patients=20, seed=1)))
    >>> ax = plot_pain_over_sessions(pain[pain["episode_id"] == pain["episode_id"].iloc[0]])
    """
    rule = DEFAULT_RULE if rule is None else rule
    if not isinstance(rule, ResponderRule):
        raise ValueError(f"`rule` must be a ResponderRule or None, got {rule!r}")
    ax = get_axes(ax)
    labels = {"title": "Pain before and after each session", "xlabel": "Session date", "ylabel": PAIN_LABEL}
    has_rows = check_frame(pain, "pain", ["session_date", "pain_pre", "pain_post"])
    if has_rows:
        _only_one(pain, "pain", "episode_id", "episode")
        order = ["session_date", "session_number"] if "session_number" in pain.columns else ["session_date"]
        data = pain.dropna(subset=["session_date"]).sort_values(order, kind="stable")
        data = data[data["pain_pre"].notna() | data["pain_post"].notna()]
    if not has_rows or data.empty:
        return _no_data(ax, **labels)

    dates = data["session_date"]
    ax.plot(dates, data["pain_pre"], color=MAIN, marker="o", ms=7, lw=2, label="before the session", clip_on=False)
    ax.plot(
        dates, data["pain_post"], color=SECOND, marker="o", ms=7, mfc="white", mew=2, lw=1.2, ls="--",
        label="after the session", clip_on=False,
    )  # fmt: skip
    follow_up = pd.DataFrame(columns=["date", "pain"])
    if assessments is not None and check_frame(assessments, "assessments", ["date", "pain"]):
        follow_up = assessments.dropna(subset=["date", "pain"]).sort_values("date", kind="stable")
    if len(follow_up):
        ax.plot(
            follow_up["date"], follow_up["pain"], color=MAIN, marker="D", ms=7, ls="none",
            label="follow-up assessment", clip_on=False,
        )  # fmt: skip
    recorded = data["pain_pre"].dropna()
    baseline = float(recorded.iloc[0]) if len(recorded) else float("nan")
    target = target_pain(baseline, rule)
    if np.isfinite(target):
        ax.axhline(
            target, color=GOOD, ls="--", lw=1.8, label=f"{TARGET_LABEL} ({round(target, 1):g} or lower)", zorder=1
        )
    elif np.isfinite(baseline):
        ax.text(
            0.99, 0.97, f"No target: a first score of {baseline:g} is too low for the improvement rule",
            transform=ax.transAxes, ha="right", va="top", fontsize=8, color=GREY,
        )  # fmt: skip
    ax.set_ylim(0, 10)
    ax.set_yticks(range(0, 11, 2))
    _dates_with_margin(ax, pd.concat([data["session_date"], pd.to_datetime(follow_up["date"])], ignore_index=True))
    label_axes(ax, **labels)
    legend_below(ax, ncols=4 if len(follow_up) else 3)
    return ax


def _movement_labels(data: pd.DataFrame) -> np.ndarray:
    """'Cervical spine rotation left' per row, with a second line of details where needed.

    Where a label repeats, the mode is added if it differs ("passive"),
    then the month the course of care was first measured ("care from Nov
    2025"), then the episode ID; a series without a later measurement says
    "no follow-up yet".
    """
    data = data.reset_index(drop=True)
    side = data["side"].astype("string").fillna("").replace("none", "")
    text = data["joint"].astype("string").fillna("") + " " + data["movement"].astype("string").fillna("") + " " + side
    text = text.str.replace("_", " ").str.replace(r"\s+", " ", regex=True).str.strip().str.capitalize()
    details = pd.Series("", index=text.index, dtype="string")
    candidates = {}
    if "mode" in data.columns:
        candidates["mode"] = data["mode"].astype("string").fillna("mode not recorded")
    if "episode_id" in data.columns and "baseline_date" in data.columns:
        start = data.groupby("episode_id", dropna=False)["baseline_date"].transform("min")
        candidates["episode_id"] = "care from " + start.dt.strftime("%b %Y").astype("string").fillna("unknown date")
    if "episode_id" in data.columns:
        candidates["_episode"] = "episode " + data["episode_id"].astype("string").fillna("not recorded")
    for column, words in candidates.items():
        key = data[column] if column in data.columns else words
        label = text + details
        differs = key.groupby(label).transform("nunique") > 1
        details = details.where(~(label.duplicated(keep=False) & differs), details + ", " + words)
    if "latest_pct_normal" in data.columns:
        details = details.where(data["latest_pct_normal"].notna(), details + ", no follow-up yet")
    details = details.str.removeprefix(", ")
    return (text + ("\n" + details).where(details != "", "")).to_numpy(dtype=str)


def plot_rom_progress(rom: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """Range of motion per movement: first and latest measurement as % of normal.

    An arrow runs from the first measurement (hollow) to the latest
    (filled). The grey band around the first measurement is the minimal
    detectable change (MDC95) applied by :func:`~needling_analytics.metrics.rom_change`,
    converted to % of normal: a latest measurement inside the band cannot
    be told apart from measurement error (Fletcher & Bandy 2008; de Winter
    2004). The dashed line at 100% is the normal range (AAOS; Norkin &
    White). Movements without a normal range (e.g. knee extension) are
    listed under the axis instead of drawn.

    Parameters
    ----------
    rom : DataFrame
        Rows of :func:`~needling_analytics.metrics.rom_change` for one patient.
    ax : Axes, optional
        Where to draw; a new A4-wide figure (taller with many movements) when None.

    Returns
    -------
    Axes

    Examples
    --------
    >>> from needling_analytics.demo import generate_clinic
    >>> from needling_analytics.load import Clinic
    >>> from needling_analytics.metrics import rom_change
    >>> rom = rom_change(Clinic.from_frames(**generate_clinic(n_patients=20, seed=1)))
    >>> ax = plot_rom_progress(rom[rom["patient_id"] == rom["patient_id"].iloc[0]])
    """
    columns = ["joint", "movement", "side", "baseline_pct_normal", "latest_pct_normal", "normal_degrees", "mdc_degrees"]
    has_rows = check_frame(rom, "rom", columns)
    if has_rows:
        _only_one(rom, "rom", "patient_id", "patient")
        names = _movement_labels(rom)
        drawable = rom["baseline_pct_normal"].notna().to_numpy()
        data, names, left_out = rom[drawable], names[drawable], names[~drawable]
    ax = get_axes(ax, height=max(3.2, 0.5 * int(drawable.sum()) + 1.5) if has_rows else None)
    xlabel = "Range of motion (% of normal)"
    if has_rows and len(left_out):
        left_out = [name.replace("\n", " (") + ")" if "\n" in name else name for name in left_out]
        xlabel += "\nNot shown (no normal range to compare with): " + ", ".join(dict.fromkeys(left_out))
    labels = {"title": "Range of motion: first and latest measurement", "xlabel": xlabel, "ylabel": "Movement"}
    if not has_rows or data.empty:
        return _no_data(ax, **labels)

    y = np.arange(len(data), dtype=float)
    base = data["baseline_pct_normal"].to_numpy(dtype=float)
    latest = data["latest_pct_normal"].to_numpy(dtype=float)
    error = 100.0 * data["mdc_degrees"].to_numpy(dtype=float) / data["normal_degrees"].to_numpy(dtype=float)
    banded = np.isfinite(error)
    if banded.any():
        ax.barh(
            y[banded], 2 * error[banded], left=base[banded] - error[banded], height=0.55, color=LIGHT_BAND,
            label="measurement error (change inside it may not be real)", zorder=1,
        )  # fmt: skip
    moved = np.isfinite(latest) & (latest != base)
    if moved.any():
        # A line from first to latest, with the arrowhead at its middle showing the direction of change.
        ax.hlines(y[moved], base[moved], latest[moved], color=MAIN, lw=1.8, zorder=2)
        ax.quiver(
            base[moved], y[moved], 0.55 * (latest[moved] - base[moved]), np.zeros(int(moved.sum())), angles="xy",
            scale_units="xy", scale=1, units="dots", width=2, headwidth=6, headlength=6, headaxislength=5.5,
            minlength=0, color=MAIN, zorder=2,
        )  # fmt: skip
    ax.scatter(base, y, s=55, facecolor="white", edgecolor=GREY, lw=1.8, label="first measurement", zorder=3)
    ax.scatter(latest, y, s=55, color=MAIN, label="latest measurement", zorder=4)
    ax.axvline(100, color=GOOD, ls="--", lw=1.5, label="normal range", zorder=1)
    ax.set_yticks(y, names)
    ax.set_ylim(len(data) - 0.4, -0.6)
    ax.grid(False, axis="y")
    high = np.nanmax(np.r_[base + np.nan_to_num(error), latest, 100.0])
    low = np.nanmin(np.r_[base - np.nan_to_num(error), latest, 0.0])
    ax.set_xlim(min(low, 0.0) - 2, max(high, 100.0) + 8)
    label_axes(ax, **labels)
    legend_below(ax, ncols=2)
    return ax


def plot_prom_scores(proms: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """Questionnaire scores over time, one line per questionnaire, saying which way is better.

    The y axis spans the questionnaires' score ranges, and its label (and
    each legend entry) says whether a lower or a higher score is better,
    from :func:`~needling_analytics.metrics.instrument_table`.

    Parameters
    ----------
    proms : DataFrame
        Rows of ``clinic.proms`` for one patient (``completed_on``,
        ``instrument``, ``score``).
    ax : Axes, optional
        Where to draw; a new A4-wide figure when None.

    Returns
    -------
    Axes

    Examples
    --------
    >>> from needling_analytics.demo import generate_clinic
    >>> from needling_analytics.load import Clinic
    >>> proms = Clinic.from_frames(**generate_clinic(n_patients=20, seed=1)).proms
    >>> ax = plot_prom_scores(proms[proms["patient_id"] == proms["patient_id"].iloc[0]])
    """
    labels = {"title": "Questionnaire scores over time", "xlabel": "Date completed", "ylabel": "Score (points)"}
    ax = get_axes(ax)
    has_rows = check_frame(proms, "proms", ["completed_on", "instrument", "score"])
    if has_rows:
        _only_one(proms, "proms", "patient_id", "patient")
        data = proms.dropna(subset=["completed_on", "instrument", "score"]).sort_values("completed_on", kind="stable")
    if not has_rows or data.empty:
        return _no_data(ax, **labels)

    table = instrument_table().set_index("instrument")
    instruments = list(dict.fromkeys(data["instrument"].astype(str)))
    better = {i: table["better"].get(i, pd.NA) for i in instruments}
    words = {i: "direction unknown" if pd.isna(b) else f"{b} is better" for i, b in better.items()}
    for k, name in enumerate(instruments):
        rows = data[data["instrument"].astype(str) == name]
        ax.plot(
            rows["completed_on"], rows["score"], marker="o", ms=6, lw=2, color=PALETTE[k % len(PALETTE)],
            label=f"{name} ({words[name]})", clip_on=False,
        )  # fmt: skip
    if len(instruments) == 1:
        name = instruments[0]
        low, high = table["scale_min"].get(name, np.nan), table["scale_max"].get(name, np.nan)
        scale = f"{low:g}-{high:g}, " if np.isfinite(low) and np.isfinite(high) else ""
        labels["ylabel"] = f"{name} score\n({scale}{words[name]})"
    elif len(set(words.values())) == 1:
        labels["ylabel"] = f"Score (points,\n{next(iter(words.values()))})"
    else:
        groups = {w: [i for i in instruments if words[i] == w] for w in dict.fromkeys(words.values())}
        labels["ylabel"] = "Score (points)\n" + "\n".join(f"{w}: {', '.join(i)}" for w, i in groups.items())
    scales = table.loc[table.index.isin(instruments), ["scale_min", "scale_max"]].dropna()
    if len(scales):
        ax.set_ylim(scales["scale_min"].min(), scales["scale_max"].max())
    _dates_with_margin(ax, data["completed_on"])
    label_axes(ax, **labels)
    legend_below(ax, ncols=3)
    return ax


def plot_journal(trend: pd.DataFrame, *, session_dates=(), ax: Axes | None = None) -> Axes:
    """Daily pain from the home journal with its rolling average and the needling sessions.

    Parameters
    ----------
    trend : DataFrame
        Rows of :func:`~needling_analytics.metrics.journal_trend` for one
        patient (``entry_date``, ``pain``, ``pain_rolling_mean``). The
        window length is read from ``attrs["window_days"]`` (default 7).
    session_dates : sequence of dates
        Dates of the patient's needling sessions, drawn as vertical lines
        (e.g. ``session_pain(...)["session_date"]``); none by default.
    ax : Axes, optional
        Where to draw; a new A4-wide figure when None.

    Returns
    -------
    Axes

    Examples
    --------
    >>> from needling_analytics.demo import generate_clinic
    >>> from needling_analytics.load import Clinic
    >>> from needling_analytics.metrics import journal_trend
    >>> trend = journal_trend(Clinic.from_frames(**generate_clinic(n_patients=20, seed=1)))
    >>> ax = plot_journal(trend[trend["patient_id"] == trend["patient_id"].iloc[0]])
    """
    labels = {"title": "Daily pain from the home journal", "xlabel": "Date", "ylabel": PAIN_LABEL}
    ax = get_axes(ax)
    has_rows = check_frame(trend, "trend", ["entry_date", "pain", "pain_rolling_mean"])
    if has_rows:
        _only_one(trend, "trend", "patient_id", "patient")
        data = trend.dropna(subset=["entry_date"]).sort_values("entry_date", kind="stable")
        data = data[data["pain"].notna() | data["pain_rolling_mean"].notna()]
    if not has_rows or data.empty:
        return _no_data(ax, **labels)

    window = trend.attrs.get("window_days", 7)
    ax.scatter(data["entry_date"], data["pain"], s=14, color=MAIN, alpha=0.35, lw=0, label="daily score", zorder=2)
    mean = data[["entry_date", "pain_rolling_mean"]]
    # Break the average line across diary gaps longer than its window instead of bridging them.
    gap = mean["entry_date"].diff() > pd.Timedelta(days=window)
    breaks = pd.DataFrame({"entry_date": mean["entry_date"][gap] - pd.Timedelta(days=1), "pain_rolling_mean": np.nan})
    mean = pd.concat([mean, breaks]).sort_values("entry_date", kind="stable")
    ax.plot(mean["entry_date"], mean["pain_rolling_mean"], color=MAIN, lw=2.2, label=f"{window}-day average", zorder=3)
    dates = pd.to_datetime(pd.Series(list(session_dates), dtype="object")).dropna()
    if len(dates):
        ax.vlines(dates, 0, 10, color=SECOND, lw=1, alpha=0.6, label="needling session", zorder=1)
    ax.set_ylim(0, 10)
    ax.set_yticks(range(0, 11, 2))
    date_axis(ax)
    label_axes(ax, **labels)
    legend_below(ax, ncols=3)
    return ax
