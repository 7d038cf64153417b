"""Safety: adverse events per 100 treatments, and the serious events.

Definitions (see ``docs/metrics.md``):

- A *treatment* is an attended session; the denominator is every attended
  session in ``clinic.sessions`` (the period the clinic's data covers).
- Rates count **events**, not patients: several events can follow one
  session (bruising and pain after, say), so ``sessions_with_event`` and
  ``patients_with_event`` are given beside ``events``.
- Severity follows White et al. (used by Brady 2014 and Boyce 2020):
  ``mild`` (short, reversible), ``significant`` (needed medical care or
  interfered with activities), ``serious`` (hospital, lasting harm, death).
  ``major`` groups significant and serious events, as Brady's
  "significant" and Boyce's "major" categories do.
- Intervals are exact Poisson (Garwood 1936) on the event count, divided
  by the treatments: events are counts, and several can follow one
  session, so events can exceed treatments. With zero events in n
  treatments the two-sided 95% upper bound is ``-ln(0.025) / n``, about
  3.7/n; ``confidence=0.90`` gives the one-sided 95% bound ``-ln(0.05) / n``
  = 3.0/n, the "rule of three" (Hanley & Lippman-Hand 1983, JAMA
  249:1743). Brady 2014's "<= 0.04%" for 0 significant events in 7,629
  treatments is 3/n.
- Where a patient has several events of a kind, events are not independent:
  a patient-clustered interval (the exact interval on the effective number
  of events, events / design effect, with the design effect from the
  cluster-robust variance of the rate) is given too, and the reported
  interval covers both.

The published per-treatment rates, and the test of the clinic's against
them, are in :mod:`.safety_benchmarks`.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ..clinic import Clinic
from ..errors import DataQualityWarning
from ..schema import SEVERITIES
from ._common import check_confidence

#: Label of a total over event types or severities.
ANY = "any"
#: Severity label grouping ``significant`` and ``serious`` events.
MAJOR = "major"
#: Severities of the total rows, in output order.
TOTAL_SEVERITIES = (*SEVERITIES, MAJOR, ANY)

RATE_COLUMNS = [
    "event_type", "severity", "events", "treatments", "rate_per_100", "ci_lower", "ci_upper",
    "sessions_with_event", "patients_with_event", "max_events_per_patient",
    "ci_lower_exact", "ci_upper_exact", "design_effect", "ci_lower_clustered", "ci_upper_clustered",
]  # fmt: skip
#: The breakdowns of :func:`adverse_event_rates` (``by``): event type and/or severity.
BY_CHOICES = ("event_type", "severity")


def _check_by(by) -> tuple[str, ...]:
    keys = (by,) if isinstance(by, str) else tuple(by or ())
    bad = [k for k in keys if k not in BY_CHOICES]
    if bad or len(set(keys)) != len(keys):
        raise ValueError(f"`by` may name 'event_type' and/or 'severity' (each once), got {by!r}")
    return keys


def linked_events(clinic: Clinic) -> pd.DataFrame:
    """Adverse events joined to the attended session they followed.

    Events whose ``session_id`` is not an attended session of the clinic
    cannot be placed in time or counted against a treatment; they are left
    out with a :class:`DataQualityWarning` (:func:`load_clinic` already
    quarantines them, so this only happens with hand-built clinics).

    Returns
    -------
    DataFrame
        One row per counted event: ``session_id``, ``patient_id``,
        ``event_type``, ``severity``, ``resolved_days`` (days),
        ``episode_id``, ``practitioner_id``, ``session_date``.
    """
    events = clinic.adverse_events[["session_id", "patient_id", "event_type", "severity", "resolved_days"]]
    sessions = clinic.sessions
    attended = sessions.loc[
        sessions["status"] == "attended", ["session_id", "episode_id", "practitioner_id", "session_date"]
    ]
    attended = attended.drop_duplicates("session_id")
    out = events.merge(attended, on="session_id", how="left", indicator=True)
    unlinked = int((out["_merge"] == "left_only").sum())
    if unlinked:
        warnings.warn(
            f"{unlinked:,} adverse event(s) do not follow an attended session of the clinic and are not counted; "
            "check their session_id",
            DataQualityWarning,
            stacklevel=3,
        )
    return out.loc[out["_merge"] == "both"].drop(columns="_merge").reset_index(drop=True)


def poisson_interval(events, exposure, *, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Exact (Garwood) confidence interval of a Poisson rate: events / exposure.

    ``lower = chi2.ppf(alpha/2, 2k) / 2`` and ``upper = chi2.ppf(1 - alpha/2,
    2k + 2) / 2`` for ``k`` events (Garwood 1936, Biometrika 28:437; Ulm
    1990, Am J Epidemiol 131:373), divided by the exposure. ``k`` may be
    fractional (an effective count), which gives the gamma interval. With
    zero events the lower bound is 0 and the upper ``-ln(alpha/2)``. Where
    ``exposure`` is 0 both bounds are NaN.

    Returns
    -------
    lower, upper : arrays of rates (events per unit of exposure)
    """
    from scipy import stats  # imported here: scipy.stats costs about a second to import

    events = np.asarray(events, dtype=float)
    exposure = np.asarray(exposure, dtype=float)
    alpha = 1.0 - confidence
    with np.errstate(divide="ignore", invalid="ignore"):
        lower = np.where(events > 0, stats.chi2.ppf(alpha / 2, 2 * events) / 2, 0.0)
        upper = stats.chi2.ppf(1 - alpha / 2, 2 * events + 2) / 2
        empty = ~(exposure > 0)
        return np.where(empty, np.nan, lower / exposure), np.where(empty, np.nan, upper / exposure)


def _tally(events: pd.DataFrame, group: list[str], exposure: pd.Series) -> pd.DataFrame:
    """Per group: events, sessions and patients with an event, and the per-patient sums clustering needs."""
    per_patient = (
        events.groupby([*group, "patient_id"], observed=True, sort=False, dropna=False).size().rename("y").reset_index()
    )
    y = per_patient["y"].to_numpy(dtype=float)
    t = per_patient["patient_id"].map(exposure).fillna(0).to_numpy(dtype=float)
    per_patient = per_patient.assign(yy=y * y, yt=y * t)
    grouped = per_patient.groupby(group, observed=True, sort=True)
    return pd.DataFrame(
        {
            "events": grouped["y"].sum(),
            "sessions_with_event": events.groupby(group, observed=True, sort=True)["session_id"].nunique(),
            "patients_with_event": grouped.size(),
            "max_events_per_patient": grouped["y"].max(),
            "_s_yy": grouped["yy"].sum(),
            "_s_yt": grouped["yt"].sum(),
        }
    ).reset_index()


def adverse_event_rates(clinic: Clinic, *, by=("event_type", "severity"), confidence: float = 0.95) -> pd.DataFrame:
    """Adverse events per 100 treatments, by event type and severity, with exact and patient-clustered intervals.

    Parameters
    ----------
    clinic : Clinic
        The loaded clinic (``sessions`` and, when supplied,
        ``adverse_events``). A clinic without an adverse-events table has
        zero events: the total rows are still returned.
    by : sequence of {"event_type", "severity"}
        Which breakdown rows to add above the totals. ``("event_type",
        "severity")`` (default) gives one row per type and severity that
        occurs; ``("event_type",)`` one row per type (severity ``any``);
        ``()`` or ``("severity",)`` only the total rows.
    confidence : float
        Level of the intervals (default 0.95).

    Returns
    -------
    DataFrame
        Breakdown rows in schema order of type then severity, then the
        total rows with ``event_type`` ``"any"`` and ``severity`` ``mild``,
        ``significant``, ``serious``, ``major`` (significant or serious)
        and ``any`` (these five are always present). Columns:

        - ``event_type``, ``severity`` (string; ``any`` means all),
        - ``events``: number of adverse events (count of events, not of
          patients or sessions),
        - ``treatments``: attended sessions (the same for every row),
        - ``rate_per_100``: 100 x events / treatments (events per 100
          treatments; lower is better; above 100 where events outnumber
          treatments),
        - ``ci_lower``, ``ci_upper``: the interval to report, per 100
          treatments: the exact one, widened to the clustered one where
          that is given (lowest lower and highest upper bound of the two),
        - ``sessions_with_event``: attended sessions followed by at least
          one such event,
        - ``patients_with_event``: patients with at least one such event,
        - ``max_events_per_patient``: most such events of one patient,
        - ``ci_lower_exact``, ``ci_upper_exact``: exact Poisson (Garwood)
          interval on the event count, per 100 treatments (with zero events
          0 and ``100 * -ln(alpha/2) / n``: about 369 / n at 95%, 300 / n
          at 90%, the rule of three),
        - ``design_effect``: variance of the rate clustered by patient over
          its Poisson variance, at least 1; 1 where no patient has more
          than one such event; missing where it cannot be estimated (fewer
          than two patients treated),
        - ``ci_lower_clustered``, ``ci_upper_clustered``: the
          patient-clustered interval, per 100 treatments, where some
          patient has more than one such event (missing otherwise).

        All rates and bounds are NaN with no treatments. ``attrs`` records
        ``confidence`` and ``by``.

    Notes
    -----
    Rates per treatment follow Brady 2014 (J Man Manip Ther 22:134) and
    Boyce 2020 (Int J Sports Phys Ther 15:103); severities are White et
    al.'s. Events not linked to an attended session are not counted (see
    :func:`linked_events`).

    The clustered interval: with patients ``i`` treated ``t_i`` times and
    having ``y_i`` events, rate ``r = E / T``, the cluster-robust variance
    of ``r`` is ``G / (G - 1) * sum_i (y_i - r t_i)^2 / T^2`` over the ``G``
    treated patients (the sandwich variance of an intercept-only Poisson
    model clustered by patient); its ratio to the Poisson variance ``E /
    T^2`` is the design effect ``D`` (floored at 1). The interval is the
    exact one on the effective count ``E / D``, scaled back by ``D / T``
    (the effective-sample-size approach of Korn & Graubard 1998, Survey
    Methodology 24:193, on the Poisson scale); with ``D = 1`` it is the
    exact interval.

    Examples
    --------
    >>> from needling_analytics.demo import generate_clinic
    >>> from needling_analytics.clinic import Clinic
    >>> clinic = Clinic.from_frames(**generate_clinic(n_patients=50, seed=1))
    >>> rates = adverse_event_rates(clinic)
    >>> rates.iloc[-1][["event_type", "severity"]].tolist()
    ['any', 'any']
    """
    keys = _check_by(by)
    check_confidence(confidence)
    events = linked_events(clinic)
    attended = clinic.sessions.loc[clinic.sessions["status"] == "attended", "patient_id"]
    treatments = len(attended)
    exposure = attended.value_counts()  # treatments per patient
    patients = len(exposure)

    parts = []
    if "event_type" in keys:
        group = ["event_type", "severity"] if "severity" in keys else ["event_type"]
        detail = _tally(events, group, exposure)
        if "severity" not in keys:
            detail["severity"] = ANY
        parts.append(detail.astype({"event_type": "string", "severity": "string"}))

    severity = events["severity"].astype("string")
    totals = pd.concat(  # one copy of the events per total row (five), labelled with that row's severity
        [
            events.loc[mask.fillna(False).to_numpy(dtype=bool)].assign(severity=label)
            for label, mask in [
                *((s, severity == s) for s in SEVERITIES),
                (MAJOR, severity.isin(["significant", "serious"])),
                (ANY, pd.Series(True, index=events.index)),
            ]
        ],
        ignore_index=True,
    )
    totals = _tally(totals.astype({"severity": "string"}), ["severity"], exposure).set_index("severity")
    totals = totals.reindex(list(TOTAL_SEVERITIES), fill_value=0).rename_axis("severity").reset_index()
    totals.insert(0, "event_type", ANY)
    parts.append(totals.astype({"event_type": "string", "severity": "string"}))

    out = pd.concat(parts, ignore_index=True)
    out["treatments"] = treatments
    n_events = out["events"].to_numpy(dtype=float)
    per = treatments if treatments > 0 else np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = n_events / per
        out["rate_per_100"] = 100.0 * rate
        lower, upper = poisson_interval(n_events, treatments, confidence=confidence)
        out["ci_lower_exact"], out["ci_upper_exact"] = 100.0 * lower, 100.0 * upper
        # cluster-robust variance over the Poisson one; sum over all treated patients, also those without events
        residual_ss = out["_s_yy"] - 2 * rate * out["_s_yt"] + rate**2 * float((exposure.astype(float) ** 2).sum())
        design = patients / (patients - 1) * residual_ss / n_events if patients > 1 else np.nan
    several = out["max_events_per_patient"].to_numpy() > 1
    design = np.where(several, np.fmax(design, 1.0), 1.0)
    design = np.where(several & (patients < 2), np.nan, design)
    out["design_effect"] = np.where(treatments > 0, design, np.nan)
    clustered = several & np.isfinite(out["design_effect"].to_numpy())
    with np.errstate(divide="ignore", invalid="ignore"):
        c_lower, c_upper = poisson_interval(n_events / design, treatments / design, confidence=confidence)
    out["ci_lower_clustered"] = np.where(clustered, 100.0 * c_lower, np.nan)
    out["ci_upper_clustered"] = np.where(clustered, 100.0 * c_upper, np.nan)
    out["ci_lower"] = np.fmin(out["ci_lower_exact"], out["ci_lower_clustered"])
    out["ci_upper"] = np.fmax(out["ci_upper_exact"], out["ci_upper_clustered"])
    counts = ["events", "treatments", "sessions_with_event", "patients_with_event", "max_events_per_patient"]
    floats = [c for c in RATE_COLUMNS if c not in counts and c not in ("event_type", "severity")]
    out = out[RATE_COLUMNS].astype({c: "int64" for c in counts}).astype({c: "float64" for c in floats})
    out.attrs = {"confidence": confidence, "by": keys}
    return out


SERIOUS_COLUMNS = [
    "session_date", "practitioner_id", "patient_id", "event_type", "severity", "resolved_days", "session_id", "episode_id",
]  # fmt: skip


def serious_events(clinic: Clinic) -> pd.DataFrame:
    """Significant and serious adverse events, one row each, for review.

    The free-text ``notes`` are left out on purpose: they may identify the
    patient (see the data dictionary) and this list is meant to be shared
    with the clinic's safety lead. Look a note up in the clinic's own
    records by ``session_id``.

    Returns
    -------
    DataFrame
        One row per event of severity ``significant`` or ``serious``, by
        date then session: ``session_date``, ``practitioner_id``,
        ``patient_id``, ``event_type``, ``severity``, ``resolved_days``
        (days until resolved; missing when not recorded), ``session_id``,
        ``episode_id``. Date, practitioner and episode are missing when
        the session is not in ``clinic.sessions``.
    """
    events = clinic.adverse_events
    major = events.loc[events["severity"].isin(["significant", "serious"]).to_numpy(dtype=bool)]
    sessions = clinic.sessions[["session_id", "episode_id", "practitioner_id", "session_date"]].drop_duplicates(
        "session_id"
    )
    out = major.drop(columns=["notes"]).merge(sessions, on="session_id", how="left")
    out = out.sort_values(["session_date", "session_id"], na_position="last", kind="stable")
    return out[SERIOUS_COLUMNS].reset_index(drop=True)
