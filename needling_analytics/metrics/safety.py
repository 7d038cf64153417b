"""Safety: adverse events per 100 treatments, published benchmarks, serious events.

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
- Intervals are exact (Clopper-Pearson) on events / treatments. With zero
  events in n treatments the two-sided 95% interval is 0 to
  ``1 - 0.025 ** (1/n)``, about 3.7/n; the "rule of three" (3/n, Hanley &
  Lippman-Hand 1983, JAMA 249:1743) is the one-sided 95% bound, which
  ``confidence=0.90`` gives (``1 - 0.05 ** (1/n)``). Brady 2014's
  "<= 0.04%" for 0 significant events in 7,629 treatments is 3/n.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ..errors import DataQualityWarning
from ..schema import SEVERITIES
from ._common import clopper_pearson

#: Label of a total over event types or severities.
ANY = "any"
#: Severity label grouping ``significant`` and ``serious`` events.
MAJOR = "major"
#: Severities of the total rows, in output order.
TOTAL_SEVERITIES = (*SEVERITIES, MAJOR, ANY)

RATE_COLUMNS = [
    "event_type", "severity", "events", "treatments", "rate_per_100", "ci_lower", "ci_upper",
    "sessions_with_event", "patients_with_event",
]  # fmt: skip
_BY_CHOICES = ("event_type", "severity")

BRADY = "Brady 2014"
BOYCE = "Boyce 2020"
_BRADY_CITATION = (
    "Brady S, McEvoy J, Dommerholt J, Doody C. Adverse events following trigger point dry needling: "
    "a prospective survey of chartered physiotherapists. J Man Manip Ther. 2014;22(3):134-140. "
    "doi:10.1179/2042618613Y.0000000044"
)
_BOYCE_CITATION = (
    "Boyce D, Wempe H, Campbell C, et al. Adverse events associated with therapeutic dry needling. "
    "Int J Sports Phys Ther. 2020;15(1):103-113. doi:10.26603/ijspt20200103"
)


def _check_confidence(confidence) -> None:
    if not (isinstance(confidence, int | float) and 0 < confidence < 1):
        raise ValueError(f"`confidence` must be a fraction between 0 and 1 (0.95 means 95%), got {confidence!r}")


def _check_by(by) -> tuple[str, ...]:
    keys = (by,) if isinstance(by, str) else tuple(by or ())
    bad = [k for k in keys if k not in _BY_CHOICES]
    if bad or len(set(keys)) != len(keys):
        raise ValueError(f"`by` may name 'event_type' and/or 'severity' (each once), got {by!r}")
    return keys


def linked_events(clinic) -> pd.DataFrame:
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


def _counts(events: pd.DataFrame) -> pd.Series:
    """events, sessions_with_event, patients_with_event of a set of events."""
    return pd.Series(
        {
            "events": len(events),
            "sessions_with_event": events["session_id"].nunique(),
            "patients_with_event": events["patient_id"].nunique(),
        }
    )


def adverse_event_rates(clinic, *, by=("event_type", "severity"), confidence: float = 0.95) -> pd.DataFrame:
    """Adverse events per 100 treatments, by event type and severity, with exact intervals.

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
        Level of the Clopper-Pearson interval (default 0.95).

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
          treatments; lower is better),
        - ``ci_lower``, ``ci_upper``: Clopper-Pearson bounds, per 100
          treatments (with zero events 0 and ``100 * (1 - (alpha/2) **
          (1/n))``: about 370 / n at 95%, 300 / n at 90%, the rule of three);
          NaN with no treatments, or where events exceed treatments (the
          binomial model does not apply),
        - ``sessions_with_event``: attended sessions followed by at least
          one such event,
        - ``patients_with_event``: patients with at least one such event.

        ``attrs`` records ``confidence`` and ``by``.

    Notes
    -----
    Rates per treatment with exact intervals follow Brady 2014 (J Man
    Manip Ther 22:134) and Boyce 2020 (Int J Sports Phys Ther 15:103);
    severities are White et al.'s. Events not linked to an attended session
    are not counted (see :func:`linked_events`).

    Examples
    --------
    >>> from needling_analytics.demo import generate_clinic
    >>> from needling_analytics.load import Clinic
    >>> clinic = Clinic.from_frames(**generate_clinic(n_patients=50, seed=1))
    >>> rates = adverse_event_rates(clinic)
    >>> rates.iloc[-1][["event_type", "severity"]].tolist()
    ['any', 'any']
    """
    keys = _check_by(by)
    _check_confidence(confidence)
    events = linked_events(clinic)
    treatments = int((clinic.sessions["status"] == "attended").sum())

    parts = []
    if "event_type" in keys:
        group = ["event_type", "severity"] if "severity" in keys else ["event_type"]
        grouped = events.groupby(group, observed=True, sort=True)
        detail = pd.DataFrame(
            {
                "events": grouped.size(),
                "sessions_with_event": grouped["session_id"].nunique(),
                "patients_with_event": grouped["patient_id"].nunique(),
            }
        ).reset_index()
        if "severity" not in keys:
            detail["severity"] = ANY
        detail = detail.astype({"event_type": "string", "severity": "string"})
        parts.append(detail)

    severity = events["severity"]
    masks = {s: severity == s for s in SEVERITIES}
    masks[MAJOR] = severity.isin(["significant", "serious"])
    masks[ANY] = pd.Series(True, index=events.index)
    totals = pd.DataFrame([_counts(events[masks[s].to_numpy(dtype=bool)]) for s in TOTAL_SEVERITIES])
    totals.insert(0, "severity", list(TOTAL_SEVERITIES))
    totals.insert(0, "event_type", ANY)
    parts.append(totals.astype({"event_type": "string", "severity": "string"}))

    out = pd.concat(parts, ignore_index=True)
    out["treatments"] = treatments
    with np.errstate(divide="ignore", invalid="ignore"):
        out["rate_per_100"] = 100.0 * out["events"] / (treatments if treatments > 0 else np.nan)
    lower, upper = clopper_pearson(out["events"], out["treatments"], confidence=confidence)
    binomial = (out["events"] <= out["treatments"]).to_numpy()
    out["ci_lower"] = np.where(binomial, 100.0 * lower, np.nan)
    out["ci_upper"] = np.where(binomial, 100.0 * upper, np.nan)
    counts = ["events", "treatments", "sessions_with_event", "patients_with_event"]
    out = (
        out[RATE_COLUMNS]
        .astype({c: "int64" for c in counts})
        .astype({c: "float64" for c in ["rate_per_100", "ci_lower", "ci_upper"]})
    )
    out.attrs = {"confidence": confidence, "by": keys}
    return out


_BOYCE_TYPE_NOTE = "read as per treatment, as the total is (the abstract gives no denominator; 16 + 7.7 + 5.9 < 36.7)"


def published_benchmarks() -> pd.DataFrame:
    """Published per-treatment adverse-event rates of dry needling.

    Figures are those of the abstracts, checked against the papers' own
    counts: Brady 2014 (39 physiotherapists in Ireland, 7,629 treatments,
    1,463 mild events = 19.18%; no significant events, an upper bound of
    <= 0.04%: the rule of three, 3 / 7,629) and Boyce 2020 (420 US physical
    therapists, 20,464 treatments, 7,531 minor events reported as 36.7%;
    20 major events, "< 0.1%, 1 per 1,024"). Both count events, not
    patients. Brady's "significant" and Boyce's "major" events are this
    package's ``major`` (significant or serious); their minor or mild
    events are ``mild``, and the named common events were all minor.

    Returns
    -------
    DataFrame
        One row per published rate: ``study``, ``event_type``,
        ``severity``, ``rate_per_100`` (events per 100 treatments, as
        published), ``treatments`` (in the study), ``citation``, then
        ``events`` (the study's count where given, else missing) and
        ``note``.
    """
    brady = [
        ("any", "mild", 19.18, 1463, ""),
        ("any", MAJOR, 0.0, 0, "no significant events; published upper bound <= 0.04% (3 / 7,629)"),
        ("bruising", "mild", 7.55, None, ""),
        ("bleeding", "mild", 4.65, None, ""),
        ("pain_during", "mild", 3.01, None, ""),
        ("pain_after", "mild", 2.19, None, ""),
    ]
    boyce = [
        ("any", "mild", 36.7, 7531, "published as 36.7%; 7,531 / 20,464 is 36.8%"),
        ("any", MAJOR, 100.0 * 20 / 20464, 20, "20 major events; published as < 0.1% (1 per 1,024 treatments)"),
        ("bleeding", "mild", 16.0, None, _BOYCE_TYPE_NOTE),
        ("bruising", "mild", 7.7, None, _BOYCE_TYPE_NOTE),
        ("pain_during", "mild", 5.9, None, _BOYCE_TYPE_NOTE),
    ]
    rows = [(BRADY, *r[:3], 7629, _BRADY_CITATION, r[3], r[4]) for r in brady]
    rows += [(BOYCE, *r[:3], 20464, _BOYCE_CITATION, r[3], r[4]) for r in boyce]
    columns = ["study", "event_type", "severity", "rate_per_100", "treatments", "citation", "events", "note"]
    out = pd.DataFrame(rows, columns=columns)
    out["note"] = out["note"].replace("", None)
    return out.astype(
        {
            "study": "string", "event_type": "string", "severity": "string", "rate_per_100": "float64",
            "treatments": "int64", "citation": "string", "events": "Int64", "note": "string",
        }
    )  # fmt: skip


COMPARISON_COLUMNS = [
    "event_type", "severity", "study", "benchmark_rate_per_100", "benchmark_treatments",
    "events", "treatments", "rate_per_100", "ci_lower", "ci_upper", "comparison", "citation",
]  # fmt: skip


def compare_to_benchmarks(rates: pd.DataFrame, *, benchmarks: pd.DataFrame | None = None) -> pd.DataFrame:
    """The clinic's adverse-event rates beside the published ones.

    Parameters
    ----------
    rates : DataFrame
        The output of :func:`adverse_event_rates` with the default ``by``
        (type and severity). A benchmarked type the clinic never recorded
        counts as zero events out of the clinic's treatments.
    benchmarks : DataFrame, optional
        Rates to compare with; default :func:`published_benchmarks`.

    Returns
    -------
    DataFrame
        One row per benchmark rate (totals first, then bruising, bleeding,
        pain during and pain after needling; Brady before Boyce):
        ``event_type``, ``severity``, ``study``,
        ``benchmark_rate_per_100``, ``benchmark_treatments``, the clinic's
        ``events``, ``treatments``, ``rate_per_100``, ``ci_lower`` and
        ``ci_upper`` (per 100 treatments), ``comparison`` and
        ``citation``. ``comparison`` says where the clinic stands:
        ``within`` when the benchmark rate lies inside the clinic's
        interval, ``above`` when the clinic's whole interval is above it
        (more events than published), ``below`` when it is below; missing
        when the clinic has no treatments.

    Notes
    -----
    Benchmarks come from surveys of trained practitioners reporting their
    own events; a clinic that records events more (or less) thoroughly will
    differ for that reason alone.
    """
    missing = [c for c in RATE_COLUMNS[:7] if c not in rates.columns]
    if missing:
        raise ValueError(f"`rates` lacks column(s) {missing}; pass the output of adverse_event_rates()")
    keys = tuple(rates.attrs.get("by", _BY_CHOICES))
    if set(keys) != set(_BY_CHOICES):
        raise ValueError(
            f"`rates` must be broken down by event type and severity (by=('event_type', 'severity')), got by={keys!r}"
        )
    total = rates[(rates["event_type"] == ANY) & (rates["severity"] == ANY)]
    if total.empty:
        raise ValueError("`rates` lacks the ('any', 'any') total row; pass the output of adverse_event_rates()")
    treatments = int(total["treatments"].iloc[0])
    confidence = rates.attrs.get("confidence", 0.95)
    bench = published_benchmarks() if benchmarks is None else benchmarks
    clinic = rates[["event_type", "severity", "events", "rate_per_100", "ci_lower", "ci_upper"]].astype(
        {"event_type": "string", "severity": "string"}
    )
    out = bench.astype({"event_type": "string", "severity": "string"}).merge(
        clinic, on=["event_type", "severity"], how="left", suffixes=("_benchmark", "")
    )
    out = out.rename(columns={"rate_per_100_benchmark": "benchmark_rate_per_100", "treatments": "benchmark_treatments"})
    absent = out["events"].isna()
    out["events"] = out["events"].fillna(0).astype("int64")
    out["treatments"] = treatments
    lower, upper = clopper_pearson(out["events"], out["treatments"], confidence=confidence)
    zero_rate = 0.0 if treatments > 0 else np.nan
    out["rate_per_100"] = out["rate_per_100"].where(~absent, zero_rate)
    out["ci_lower"] = out["ci_lower"].where(~absent, 100.0 * lower)
    out["ci_upper"] = out["ci_upper"].where(~absent, 100.0 * upper)
    comparison = np.select(
        [
            out["ci_lower"].isna(),
            out["benchmark_rate_per_100"] < out["ci_lower"],
            out["benchmark_rate_per_100"] > out["ci_upper"],
        ],
        ["", "above", "below"],
        default="within",
    )
    out["comparison"] = pd.Series(comparison, index=out.index, dtype="string").replace("", pd.NA)
    order = {
        key: i
        for i, key in enumerate(
            [
                ("any", "mild"),
                ("any", MAJOR),
                ("bruising", "mild"),
                ("bleeding", "mild"),
                ("pain_during", "mild"),
                ("pain_after", "mild"),
            ]
        )
    }
    rank = [order.get(key, len(order)) for key in zip(out["event_type"], out["severity"], strict=True)]
    out = out.assign(_rank=rank).sort_values(["_rank"], kind="stable")
    return out[COMPARISON_COLUMNS].reset_index(drop=True)


SERIOUS_COLUMNS = [
    "session_date", "practitioner_id", "patient_id", "event_type", "severity", "resolved_days", "session_id", "episode_id",
]  # fmt: skip


def serious_events(clinic) -> pd.DataFrame:
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
