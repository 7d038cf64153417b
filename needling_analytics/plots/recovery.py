"""The patient report's "patients like you" chart: the expected course of pain, its band, and the patient's scores.

The expected course comes from the run's expected-recovery model
(:meth:`~needling_analytics.metrics.ExpectedRecovery.predict`, the
``like_you`` prediction: from the course's first score and case mix only);
the patient's own pain scores are drawn on it. The x axis counts weeks
since the course of care started.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from .patient import PAIN_LABEL
from .theme import GREY, LIGHT_BAND, MAIN, SECOND, check_frame, get_axes, label_axes, legend_below
from .theme import show_no_data as _no_data

#: The chart shows the expected course at least this far (weeks), and this many weeks past the latest score.
MIN_HORIZON_WEEKS = 12
WEEKS_AFTER_LATEST = 4

BAND_LABEL = "where 8 in 10 similar patients' scores fall"
LINE_LABEL = "usual course for patients who started like you"


def _one_course(data: pd.DataFrame, name: str) -> None:
    if "episode_id" in data.columns and data["episode_id"].dropna().nunique() > 1:
        raise ValueError(f"`{name}` must hold one course of care (episode_id); filter it first")


def horizon_weeks(latest_day: float, last_expected_day: float) -> float:
    """How far the chart reaches (weeks): 4 weeks past the latest score, at least 12, at most the expected course.

    Examples
    --------
    >>> horizon_weeks(10, 182), horizon_weeks(70, 182), horizon_weeks(200, 182)
    (12, 14, 26)
    """
    weeks = max(MIN_HORIZON_WEEKS, math.ceil((latest_day if np.isfinite(latest_day) else 0) / 7) + WEEKS_AFTER_LATEST)
    return min(weeks, math.ceil(last_expected_day / 7)) if np.isfinite(last_expected_day) else weeks


def plot_expected_course(
    expected: pd.DataFrame,
    scores: pd.DataFrame,
    *,
    latest: pd.DataFrame | None = None,
    level: float = 0.8,
    ax: Axes | None = None,
) -> Axes:
    """The expected course of pain for patients who started like this one, with the patient's own scores on it.

    The shaded band is the prediction interval of the run's expected-recovery
    model (``level``, default 80%: 8 in 10 scores of patients who started
    with similar pain in the same body area fall inside it), the line its
    middle; dots are the patient's pain scores (filled: before a session;
    diamonds: follow-up assessments). With ``latest``, a bracket at the
    latest score shows the range expected there given the course's earlier
    scores (what the report's sentence compares with). The chart reaches
    four weeks past the latest score, at least 12 weeks
    (:func:`horizon_weeks`).

    Parameters
    ----------
    expected : DataFrame
        Rows of :meth:`~needling_analytics.metrics.ExpectedRecovery.predict`
        for one course (``day``, ``expected``, ``lower``, ``upper``); with a
        ``kind`` column (the cache's ``expected`` table) only ``like_you``
        rows are drawn.
    scores : DataFrame
        The course's pain readings (``days_since_start``, ``pain``, optional
        ``source``: ``session`` or ``assessment``), e.g. rows of
        :func:`~needling_analytics.metrics.pain_readings`.
    latest : DataFrame, optional
        One row of :meth:`~needling_analytics.metrics.ExpectedRecovery.one_step`
        (``day``, ``lower``, ``upper``): the band at the latest score.
    level : float
        The band's level, for the legend (default 0.8).
    ax : Axes, optional
        Where to draw; a new A4-wide figure when None.

    Returns
    -------
    Axes

    Examples
    --------
    >>> from needling_analytics.demo import generate_clinic
    >>> from needling_analytics.load import Clinic
    >>> from needling_analytics.metrics import fit_expected_recovery, pain_readings
    >>> clinic = Clinic.from_frames(**generate_clinic(n_patients=80, seed=1))
    >>> model = fit_expected_recovery(clinic, validate=False)
    >>> course = clinic.episodes["episode_id"].iloc[0]
    >>> expected = model.predict(clinic, range(0, 183, 7), conditional=False)
    >>> readings = pain_readings(clinic)
    >>> ax = plot_expected_course(expected[expected["episode_id"] == course], readings[readings["episode_id"] == course])
    """
    ax = get_axes(ax)
    labels = {
        "title": "Your pain compared with patients like you",
        "xlabel": "Weeks since the course of care started",
        "ylabel": PAIN_LABEL,
    }
    has_rows = check_frame(expected, "expected", ["day", "expected", "lower", "upper"])
    if has_rows:
        _one_course(expected, "expected")
        band = expected[expected["kind"] == "like_you"] if "kind" in expected.columns else expected
        band = band.dropna(subset=["day", "expected", "lower", "upper"]).sort_values("day", kind="stable")
    if not has_rows or band.empty:
        return _no_data(ax, **labels)
    own = pd.DataFrame(columns=["days_since_start", "pain"])
    if check_frame(scores, "scores", ["days_since_start", "pain"]):
        _one_course(scores, "scores")
        own = scores.dropna(subset=["days_since_start", "pain"]).sort_values("days_since_start", kind="stable")

    days = own["days_since_start"].to_numpy(dtype=float)
    weeks = horizon_weeks(days.max() if len(days) else float("nan"), float(band["day"].max()))
    shown = band[band["day"] <= 7 * weeks]
    x = shown["day"].to_numpy(dtype=float) / 7
    low, high = (
        np.clip(shown["lower"].to_numpy(dtype=float), 0, 10),
        np.clip(shown["upper"].to_numpy(dtype=float), 0, 10),
    )
    ax.fill_between(x, low, high, color=LIGHT_BAND, lw=0, label=f"{BAND_LABEL} ({round(100 * level):g}% range)")
    ax.plot(x, shown["expected"].to_numpy(dtype=float), color=GREY, lw=2, ls="--", label=LINE_LABEL)
    if latest is not None and check_frame(latest, "latest", ["day", "lower", "upper"]) and len(latest):
        row = latest.iloc[-1]
        ax.errorbar(
            [float(row["day"]) / 7], [(row["lower"] + row["upper"]) / 2], yerr=[[(row["upper"] - row["lower"]) / 2]],
            fmt="none", ecolor=SECOND, elinewidth=2.5, capsize=6, capthick=2.5, zorder=3,
            label="range expected at your latest score, given your earlier scores",
        )  # fmt: skip
    source = own["source"].astype(str) if "source" in own.columns else pd.Series("session", index=own.index)
    kinds = (
        ("session", "o", "your pain before a session"),
        ("assessment", "D", "your pain at a follow-up check"),
    )
    for kind, marker, name in kinds:
        rows = own[(source == kind).to_numpy()]
        if len(rows):
            ax.plot(
                rows["days_since_start"].to_numpy(dtype=float) / 7, rows["pain"], color=MAIN, marker=marker, ms=7,
                ls="none", label=name, zorder=4, clip_on=False,
            )  # fmt: skip
    if len(own):
        ax.plot(days / 7, own["pain"], color=MAIN, lw=1.2, alpha=0.6, zorder=3)
    ax.set_ylim(0, 10)
    ax.set_yticks(range(0, 11, 2))
    right = max(weeks, math.ceil(days.max() / 7) + 1) if len(days) else weeks  # scores beyond the band stay in view
    ax.set_xlim(0, right)
    ax.set_xticks(range(0, int(right) + 1, 2 if right <= 16 else 4))
    label_axes(ax, **labels)
    legend_below(ax, ncols=2)
    return ax
