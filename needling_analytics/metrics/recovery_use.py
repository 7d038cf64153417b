"""Uses of the expected-recovery model: courses not on track, the outcome at a fixed time, effectiveness.

- :func:`courses_not_on_track`: ongoing courses whose last two follow-up
  scores were both worse than the one-step-ahead band.
- :func:`expected_at_fixed_time`: each course's score nearest a fixed day
  (week 8 by default, as the landmark outcome) beside the *marginal*
  expectation for its case mix (never conditioned on its own follow-ups,
  which would be circular), as its median and its mean on the outcome's
  scale (the mean is what a mean difference is measured against).
- :func:`recovery_effectiveness`: the mean of actual minus expected change,
  signed so that positive is better than expected, with its interval: the
  effectiveness FOTO publishes (NQF 0428).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..clinic import Clinic
from ._common import check_confidence, positions
from .attendance import attendance
from .landmark import OUTCOME_DAY, OUTCOME_HALF_WIDTH
from .practitioners import attribute_episodes
from .recovery import ExpectedRecovery, outcome_data

FIXED_WINDOW = (OUTCOME_DAY - OUTCOME_HALF_WIDTH, OUTCOME_DAY + OUTCOME_HALF_WIDTH)


def _practitioners(clinic: Clinic, episode_ids) -> np.ndarray:
    attributed = attribute_episodes(clinic)
    row = positions(pd.Series(episode_ids, dtype="string"), attributed["episode_id"])
    values = attributed["practitioner_id"].to_numpy(dtype=object)
    return np.where(row >= 0, values[np.maximum(row, 0)] if len(values) else None, None)


def courses_not_on_track(model: ExpectedRecovery, clinic: Clinic) -> pd.DataFrame:
    """Ongoing courses whose last two follow-up scores were both worse than expected.

    A course is *ongoing* when it has no end date and is not counted as
    self-discharged by :func:`~needling_analytics.metrics.attendance` (the
    report's one definition). Its last two follow-up scores are compared
    with the band of :meth:`ExpectedRecovery.one_step` (each predicted from
    the earlier scores only); both ``worse`` (above the band when lower is
    better, below it when higher is better) flags the course for a plan
    review.

    Parameters
    ----------
    model : ExpectedRecovery
        From :func:`fit_expected_recovery`.
    clinic : Clinic
        The courses to check.

    Returns
    -------
    DataFrame
        One row per flagged course, by episode: ``episode_id``,
        ``patient_id``, ``practitioner_id`` (attributed, see
        :func:`attribute_episodes`; missing when none), ``n_sessions``
        (attended), ``last_visit`` (last attended session), ``latest``
        (last follow-up score), ``expected``, ``lower``, ``upper`` (its
        one-step prediction and band).
    """
    steps = model.one_step(clinic)
    ids = steps["episode_id"].to_numpy(dtype=object)
    worse = (steps["position"] == "worse").to_numpy()
    is_last = np.r_[ids[1:] != ids[:-1], True] if len(ids) else np.zeros(0, dtype=bool)
    previous_same = np.r_[False, ids[1:] == ids[:-1]] if len(ids) else np.zeros(0, dtype=bool)
    previous_worse = np.r_[False, worse[:-1]] if len(ids) else np.zeros(0, dtype=bool)
    flagged = steps[is_last & worse & previous_same & previous_worse]
    stays = attendance(clinic)
    episodes = clinic.episodes
    ongoing = episodes["end_date"].isna().to_numpy() & ~stays["self_discharged"].to_numpy(dtype=bool)
    row = positions(flagged["episode_id"].astype("string"), episodes["episode_id"])
    flagged = flagged[ongoing[row]]
    row = row[ongoing[row]]
    out = pd.DataFrame(
        {
            "episode_id": flagged["episode_id"].to_numpy(),
            "patient_id": episodes["patient_id"].to_numpy()[row],
            "practitioner_id": _practitioners(clinic, flagged["episode_id"].to_numpy()),
            "n_sessions": stays["attended"].to_numpy()[row].astype("int64"),
            "last_visit": stays["last_attended"].to_numpy()[row],
            "latest": flagged["observed"].to_numpy(),
            "expected": flagged["expected"].to_numpy(),
            "lower": flagged["lower"].to_numpy(),
            "upper": flagged["upper"].to_numpy(),
        }
    )
    return out.sort_values("episode_id", ignore_index=True)


#: Group label of a course whose ``by`` value is missing (e.g. no practitioner attributed).
NOT_RECORDED = "not recorded"


def expected_at_fixed_time(
    model: ExpectedRecovery, clinic: Clinic, *, day: int = OUTCOME_DAY, window: tuple[int, int] = FIXED_WINDOW
) -> pd.DataFrame:
    """Each course's score at a fixed time beside the score expected for its case mix.

    The observed score is the follow-up score nearest ``day`` within
    ``window`` (days since the course started, inclusive; ties: the
    earlier day, then reading order). The expected score is the model's
    *marginal* prediction at that day (baseline and case mix only, not
    the course's own follow-ups: conditioning on them would make the
    comparison circular). Two summaries of it: ``expected``, the median on
    the outcome's scale (what the report's band shows), and
    ``expected_mean``, the mean (the transform is not linear, so they
    differ). Changes and the ``difference`` use the mean, as FOTO's
    predicted change does: on scores simulated from the model itself the
    median would read about 0.13 points worse than expected.

    Parameters
    ----------
    model : ExpectedRecovery
        From :func:`fit_expected_recovery`.
    clinic : Clinic
        The courses to compare.
    day, window
        Target day and the window of days searched (default 56, 42-70: week 8 +- 2 weeks).

    Returns
    -------
    DataFrame
        One row per course with a score in the window: ``episode_id``,
        ``patient_id``, ``practitioner_id``, ``baseline``, ``observed``,
        ``observed_day``, ``expected`` (median), ``expected_mean``,
        ``expected_change`` (expected_mean - baseline), ``observed_change``
        (observed - baseline), ``difference`` (observed change - expected
        change, signed so that positive is better than expected). ``attrs``: ``outcome``, ``better``, ``day``, ``window``.
    """
    courses, follow = outcome_data(clinic, model.outcome)
    low, high = window
    inside = follow[follow["day"].between(low, high).to_numpy()]
    inside = inside.assign(_distance=(inside["day"] - day).abs(), _order=np.arange(len(inside)))
    nearest = inside.sort_values(["course", "_distance", "day", "_order"]).drop_duplicates("course")
    course = nearest["course"].to_numpy()
    mean, var = model.marginal_moments(courses, course, nearest["day"].to_numpy())
    expected, _, _ = model.interval(mean, var)
    expected_mean = model.mean_score(mean, var)
    baseline = courses["baseline"].to_numpy()[course]
    observed = nearest["y"].to_numpy(dtype=float)
    sign = -1.0 if model.better == "lower" else 1.0
    ids = courses["episode_id"].to_numpy()[course]
    out = pd.DataFrame(
        {
            "episode_id": ids,
            "patient_id": courses["patient_id"].to_numpy()[course],
            "practitioner_id": _practitioners(clinic, ids),
            "baseline": baseline,
            "observed": observed,
            "observed_day": nearest["day"].to_numpy(),
            "expected": expected,
            "expected_mean": expected_mean,
            "expected_change": expected_mean - baseline,
            "observed_change": observed - baseline,
            "difference": sign * (observed - expected_mean),
        }
    )
    out.attrs = {"outcome": model.outcome, "better": model.better, "day": day, "window": (low, high)}
    return out


def recovery_effectiveness(fixed: pd.DataFrame, *, by: str | None = None, confidence: float = 0.95) -> pd.DataFrame:
    """Mean of actual minus expected change at the fixed time, with its interval (FOTO, NQF 0428).

    The interval is a t interval clustered by patient (the variance of the
    mean from patient totals, with G - 1 degrees of freedom for G patients),
    which is the plain t interval when every patient has one course.

    Parameters
    ----------
    fixed : DataFrame
        From :func:`expected_at_fixed_time` (``difference``, ``patient_id`` and the ``by`` column are used).
    by : str, optional
        A column to group by, e.g. ``practitioner_id``; a course without a
        value is counted in a group ``not recorded``.
    confidence : float
        Level of the interval (default 0.95).

    Returns
    -------
    DataFrame
        One row per group (one row without ``by``): the ``by`` column,
        ``n`` (courses), ``n_patients``, ``mean_difference`` (outcome
        points, positive is better than expected), ``ci_lower``,
        ``ci_upper`` (NaN with fewer than 2 patients).
    """
    from scipy.stats import t as student

    check_confidence(confidence)
    missing = [c for c in ["difference", "patient_id", *([by] if by else [])] if c not in fixed.columns]
    if missing:
        raise ValueError(f"`fixed` lacks column(s) {missing}; pass the output of expected_at_fixed_time()")
    frame = fixed[["difference", "patient_id", *([by] if by else [])]].dropna(subset=["difference"])
    if by:
        frame = frame.assign(**{by: frame[by].astype(object).where(frame[by].notna(), NOT_RECORDED)})
    keys = [by] if by else []
    frame = frame.assign(_group=frame.groupby(keys, sort=True, observed=True).ngroup() if by else 0)
    group = frame["_group"].to_numpy()
    value = frame["difference"].to_numpy(dtype=float)
    n_groups = int(group.max()) + 1 if len(group) else 0
    n = np.bincount(group, minlength=n_groups).astype(float)
    mean = np.bincount(group, value, minlength=n_groups) / np.maximum(n, 1)
    # patient totals of the deviations from the group mean
    cluster = frame.groupby(["_group", "patient_id"], sort=False, observed=True).ngroup().to_numpy()
    totals = np.bincount(cluster, value - mean[group])
    cluster_group = np.zeros(len(totals), dtype=int)
    cluster_group[cluster] = group
    g = np.bincount(cluster_group, minlength=n_groups).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        variance = np.bincount(cluster_group, totals**2, minlength=n_groups) / n**2 * g / (g - 1)
        half = student.ppf(0.5 + confidence / 2, g - 1) * np.sqrt(variance)
    half = np.where(g >= 2, half, np.nan)
    out = pd.DataFrame({"n": n.astype("int64"), "n_patients": g.astype("int64"), "mean_difference": mean,
                        "ci_lower": mean - half, "ci_upper": mean + half})  # fmt: skip
    if by:
        labels = frame.drop_duplicates("_group").sort_values("_group")[by].to_numpy()
        out.insert(0, by, labels)
    return out
