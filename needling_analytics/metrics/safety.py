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
- Published benchmarks are compared by an exact conditional test of two
  Poisson rates (Przyborowski & Wilenski 1940): "above" or "below" only
  when it rejects at the 5% level, otherwise "similar".
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ..errors import DataQualityWarning
from ..schema import SEVERITIES

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


def adverse_event_rates(clinic, *, by=("event_type", "severity"), confidence: float = 0.95) -> pd.DataFrame:
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
    _check_confidence(confidence)
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
    "event_type", "severity", "study", "benchmark_rate_per_100", "benchmark_treatments", "benchmark_events",
    "events", "treatments", "rate_per_100", "ci_lower", "ci_upper", "design_effect", "p_value", "comparison",
    "citation",
]  # fmt: skip

#: Words of ``comparison``: the clinic's rate against a published one.
COMPARISONS = ("above", "below", "similar", "not_recorded")
#: Two-sided level at which a difference from a published rate is called "above" or "below".
BENCHMARK_ALPHA = 0.05


def poisson_rates_test(events, exposure, other_events, other_exposure) -> np.ndarray:
    """Two-sided exact p-value of the conditional test that two Poisson rates are equal.

    Given the total ``n = events + other_events``, ``events`` is
    Binomial(n, exposure / (exposure + other_exposure)) when the rates are
    equal (Przyborowski & Wilenski 1940, Biometrika 31:313); the p-value is
    :func:`scipy.stats.binomtest`'s (two-sided, summing the outcomes no more
    likely than the one seen). Counts must be whole numbers; the p-value is
    1 when both counts are 0 and missing when an exposure is not positive.
    """
    from scipy import stats

    k = np.asarray(events, dtype=float)
    n = k + np.asarray(other_events, dtype=float)
    exposure = np.asarray(exposure, dtype=float)
    other = np.asarray(other_exposure, dtype=float)
    valid = (exposure > 0) & (other > 0) & np.isfinite(n)
    share = np.where(valid, exposure / np.where(valid, exposure + other, 1.0), np.nan)
    # one exact test per published figure (a handful of rows)
    return np.array(
        [
            (stats.binomtest(int(k_), int(n_), p_).pvalue if n_ > 0 else 1.0) if ok else np.nan
            for k_, n_, p_, ok in zip(k, n, share, valid, strict=True)
        ],
        dtype=float,
    )


def compare_to_benchmarks(rates: pd.DataFrame, *, benchmarks: pd.DataFrame | None = None) -> pd.DataFrame:
    """The clinic's adverse-event rates beside the published ones, each compared by an exact test.

    Parameters
    ----------
    rates : DataFrame
        The output of :func:`adverse_event_rates` with the default ``by``
        (type and severity). A benchmarked type the clinic has events of
        (any severity) but not of the benchmark's severity counts as zero
        events out of the clinic's treatments.
    benchmarks : DataFrame, optional
        Rates to compare with; default :func:`published_benchmarks`.

    Returns
    -------
    DataFrame
        One row per benchmark rate (totals first, then bruising, bleeding,
        pain during and pain after needling; Brady before Boyce):
        ``event_type``, ``severity``, ``study``,
        ``benchmark_rate_per_100``, ``benchmark_treatments``,
        ``benchmark_events`` (the study's count, or where only a rate is
        published the count it implies, ``rate x treatments / 100``
        rounded), the clinic's ``events``, ``treatments``,
        ``rate_per_100``, ``ci_lower`` and ``ci_upper`` (per 100
        treatments, as :func:`adverse_event_rates` reports them),
        ``design_effect`` (1 where the type is not in ``rates``),
        ``p_value`` (two-sided, exact conditional test of equal rates:
        :func:`poisson_rates_test`), ``comparison`` and ``citation``.

        ``comparison`` is ``above`` (more events here than published) or
        ``below`` only when ``p_value`` is below 0.05, else ``similar``
        (no clear difference: which is not evidence that the rates are
        equal); ``not_recorded`` (and ``p_value`` missing) for an event
        type the clinic never records: no event of that type, of any
        severity, in ``rates``, or no adverse event at all (every row);
        missing when the clinic has no treatments.

    Notes
    -----
    Where some patient has several events of the compared kind
    (``design_effect`` above 1) the clinic's events and treatments both
    enter the test divided by the design effect (the count rounded), so
    that one patient's repeated events do not count as independent
    evidence. A benchmark with 0 events gives "above" only when the test
    rejects: 1 event in 500 treatments against 0 in 7,629 has p = 0.06.

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
    any_events = int(total["events"].iloc[0]) > 0
    recorded = set(rates.loc[rates["event_type"] != ANY, "event_type"].astype(str))
    confidence = rates.attrs.get("confidence", 0.95)
    bench = published_benchmarks() if benchmarks is None else benchmarks
    columns = ["event_type", "severity", "events", "rate_per_100", "ci_lower", "ci_upper"]
    clinic = rates[columns + (["design_effect"] if "design_effect" in rates else [])].astype(
        {"event_type": "string", "severity": "string"}
    )
    out = bench.astype({"event_type": "string", "severity": "string"}).merge(
        clinic, on=["event_type", "severity"], how="left", suffixes=("_benchmark", "")
    )
    out = out.rename(
        columns={
            "rate_per_100_benchmark": "benchmark_rate_per_100",
            "treatments": "benchmark_treatments",
            "events_benchmark": "benchmark_events",
        }
    )
    implied = (out["benchmark_rate_per_100"] * out["benchmark_treatments"] / 100.0).round()
    out["benchmark_events"] = out["benchmark_events"].astype("Float64").fillna(implied).round().astype("Int64")
    absent = out["events"].isna()
    out["events"] = out["events"].fillna(0).astype("int64")
    out["treatments"] = treatments
    lower, upper = poisson_interval(out["events"], out["treatments"], confidence=confidence)
    zero_rate = 0.0 if treatments > 0 else np.nan
    out["rate_per_100"] = out["rate_per_100"].where(~absent, zero_rate)
    out["ci_lower"] = out["ci_lower"].where(~absent, 100.0 * lower)
    out["ci_upper"] = out["ci_upper"].where(~absent, 100.0 * upper)
    design = out["design_effect"] if "design_effect" in out else pd.Series(np.nan, index=out.index)
    out["design_effect"] = design.astype("float64").where(~absent).fillna(1.0)

    not_recorded = (~out["event_type"].isin(recorded) & (out["event_type"] != ANY)) | (not any_events)
    d = out["design_effect"].to_numpy(dtype=float)
    p_value = poisson_rates_test(
        np.round(out["events"].to_numpy(dtype=float) / d),
        treatments / d,
        out["benchmark_events"].astype("float64").to_numpy(),
        out["benchmark_treatments"].to_numpy(dtype=float),
    )
    p_value = np.where(not_recorded.to_numpy(), np.nan, p_value)
    out["p_value"] = p_value
    benchmark_rate = (out["benchmark_events"].astype("float64") / out["benchmark_treatments"]).to_numpy()
    higher = out["events"].to_numpy(dtype=float) / (treatments if treatments > 0 else np.nan) > benchmark_rate
    rejected = p_value < BENCHMARK_ALPHA  # NaN compares False
    comparison = np.select(
        [np.full(len(out), treatments <= 0), not_recorded.to_numpy(dtype=bool), rejected & higher, rejected],
        ["", "not_recorded", "above", "below"],
        default="similar",
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
