"""Safety benchmarks: published adverse-event rates of dry needling, and the clinic's rates against them.

Published benchmarks are compared by an exact conditional test of two
Poisson rates (Przyborowski & Wilenski 1940): "above" or "below" only when
it rejects at the 5% level, otherwise "similar". The clinic's rates come
from :func:`~needling_analytics.metrics.safety.adverse_event_rates`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .safety import ANY, BY_CHOICES, MAJOR, RATE_COLUMNS, poisson_interval

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
    keys = tuple(rates.attrs.get("by", BY_CHOICES))
    if set(keys) != set(BY_CHOICES):
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
