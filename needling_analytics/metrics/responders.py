"""Responders: the responder rate, the responder curve, and the rate when follow-up scores are missing.

All take :func:`~needling_analytics.metrics.pain.episode_pain`'s table (one
row per course of care) and count its ``responder`` column, or its
``pct_reduction`` for the curve. Intervals are Clopper-Pearson, clustered
by patient where a patient has several courses (Korn & Graubard 1998; see
:mod:`._clustered`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._clustered import clustered_interval
from .pain import DEFAULT_RULE, EPSILON, ResponderRule


def summarize_responders(
    episodes: pd.DataFrame,
    *,
    by: str | list[str] | None = None,
    confidence: float = 0.95,
    cluster: str | None = "patient_id",
) -> pd.DataFrame:
    """Responder rate with an exact confidence interval, overall or by group.

    Parameters
    ----------
    episodes : DataFrame
        The output of :func:`episode_pain` (other columns may be added for ``by``).
    by : column name(s), optional
        Group the summary, e.g. by ``practitioner_id`` or ``body_region``.
    cluster : column name or None
        Patients with several assessed courses of care: the interval is the
        Korn-Graubard (1998) Clopper-Pearson interval clustered by this
        column (default ``patient_id``; see :mod:`._clustered`). With one
        course per patient, or ``None``, it is the plain Clopper-Pearson.

    Returns
    -------
    DataFrame
        One row per group (one row when ``by`` is None): the ``by``
        columns, ``episodes``, ``assessable``, ``responders``,
        ``responder_rate`` (of assessable), ``ci_lower``, ``ci_upper``
        (Clopper-Pearson, clustered by patient), ``no_baseline``,
        ``no_follow_up``, ``baseline_too_low``, ``patients`` (distinct
        patients among the assessable courses), ``design_effect`` (at
        least 1; 1 with one course per patient).
    """
    keys = [by] if isinstance(by, str) else list(by or [])
    frame = episodes.assign(
        _one=1,
        _assessable=episodes["assessable"].astype(int),
        _responder=episodes["responder"].fillna(False).astype(int),
        **{
            f"_{r}": (episodes["assessment"] == r).astype(int)
            for r in ("no_baseline", "no_follow_up", "baseline_too_low")
        },
    )
    sums = ["_one", "_assessable", "_responder", "_no_baseline", "_no_follow_up", "_baseline_too_low"]
    table = (
        frame.groupby(keys, observed=True, sort=True)[sums].sum().reset_index()
        if keys
        else frame[sums].sum().to_frame().T
    )
    table.columns = [*keys, "episodes", "assessable", "responders", "no_baseline", "no_follow_up", "baseline_too_low"]
    with np.errstate(divide="ignore", invalid="ignore"):
        table["responder_rate"] = table["responders"] / table["assessable"].where(table["assessable"] > 0)
    assessed = frame[frame["_assessable"] == 1]
    if cluster is None:
        assessed = assessed.assign(_unit=np.arange(len(assessed)))
    intervals = clustered_interval(
        assessed, keys=keys, cluster="_unit" if cluster is None else cluster, event="_responder", confidence=confidence
    )
    intervals = intervals[[*keys, "clusters", "design_effect", "ci_lower", "ci_upper"]]
    table = table.merge(intervals, on=keys, how="left") if keys else pd.concat([table, intervals], axis=1)
    table["patients"] = table["clusters"].fillna(0)
    table["design_effect"] = table["design_effect"].astype("float64")
    columns = [
        *keys,
        "episodes",
        "assessable",
        "responders",
        "responder_rate",
        "ci_lower",
        "ci_upper",
        "no_baseline",
        "no_follow_up",
        "baseline_too_low",
        "patients",
        "design_effect",
    ]
    table = table[columns].astype(
        {
            c: "int64"
            for c in [
                "episodes",
                "assessable",
                "responders",
                "no_baseline",
                "no_follow_up",
                "baseline_too_low",
                "patients",
            ]
        }  # fmt: skip
    )
    table.attrs["responder_rule"] = episodes.attrs.get("responder_rule")
    return table.reset_index(drop=True)


def responder_curve(episodes: pd.DataFrame, *, thresholds=None) -> pd.DataFrame:
    """Cumulative responder curve: share of episodes improved by at least x%, for every x.

    IMMPACT (Dworkin 2008) asks for the whole curve rather than one cut:
    10-20% is minimal, 30% moderate, 50% substantial improvement.

    Parameters
    ----------
    episodes : DataFrame
        The output of :func:`episode_pain`; episodes with a percent
        reduction (a baseline above 0 and a later score) are counted.
    thresholds : array-like of float, optional
        Percent thresholds; default 0, 1, ..., 100.

    Returns
    -------
    DataFrame
        ``threshold_pct``, ``episodes`` (counted), ``improved`` (with
        pct_reduction >= threshold), ``share`` (improved / episodes).
    """
    thresholds = np.arange(0, 101, dtype=float) if thresholds is None else np.asarray(thresholds, dtype=float)
    pct = np.sort(episodes["pct_reduction"].dropna().to_numpy(dtype=float))
    n = len(pct)
    below = np.searchsorted(pct, thresholds - EPSILON, side="left")
    improved = n - below
    with np.errstate(divide="ignore", invalid="ignore"):
        share = improved / n if n else np.full(len(thresholds), np.nan)
    return pd.DataFrame(
        {"threshold_pct": thresholds, "episodes": n, "improved": improved.astype("int64"), "share": share}
    )


SENSITIVITY_COLUMNS = ["method", "courses", "assessed", "improved", "rate", "ci_lower", "ci_upper", "note"]


def _follow_up_model(frame: pd.DataFrame, covariates: list[str]) -> tuple[np.ndarray | None, str]:
    """P(has a follow-up score | covariates) from a logistic regression, or None and the reason it failed."""
    import warnings

    import statsmodels.api as sm

    numeric = [c for c in covariates if pd.api.types.is_numeric_dtype(frame[c])]
    categorical = [c for c in covariates if c not in numeric]
    design = frame[numeric].astype("float64")
    if categorical:
        dummies = pd.get_dummies(frame[categorical].astype("string").fillna("not recorded"), drop_first=True)
        design = pd.concat([design, dummies.astype("float64")], axis=1)
    design = design.loc[:, design.std(ddof=0) > 0] if len(design.columns) else design
    if design.isna().to_numpy().any():
        return None, f"a covariate ({', '.join(covariates)}) is missing for some courses"
    design.insert(0, "const", 1.0)
    y = frame["_observed"].to_numpy(dtype=float)
    if np.linalg.matrix_rank(design.to_numpy()) < design.shape[1]:
        return None, "the covariates are collinear"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fit = sm.Logit(y, design).fit(disp=0, maxiter=200)
        except Exception as error:  # noqa: BLE001 - perfect separation, singular matrix
            return None, f"the model could not be fitted ({type(error).__name__})"
    p = np.asarray(fit.predict(design), dtype=float)
    if (p > 1 - 1e-6).any() or (p < 1e-6).any():
        return None, "some groups all have, or all lack, a follow-up score (separation)"
    if not fit.mle_retvals.get("converged", False):
        return None, "the model did not converge"
    return p, ""


def responder_sensitivity(
    episodes: pd.DataFrame,
    *,
    covariates=("baseline", "body_region"),
    rule: ResponderRule | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """The responder rate three ways, for courses of care with no follow-up pain score.

    Among the courses with a first score from which the rule can be met
    (``courses``): **complete case** counts only those with a follow-up
    score (the usual rate, :func:`summarize_responders`); **worst case**
    counts every course without a follow-up score as not improved;
    **inverse-probability weighted** weights each course with a follow-up
    score by 1 / P(has a follow-up | ``covariates``), from a logistic
    regression over the ``courses``, stabilised (times the overall share
    with a follow-up), so that courses like those that went missing count
    more (it assumes that, given the covariates, the missing ones resemble
    the others). When the model cannot be fitted with every covariate
    (missing values, collinearity, separation, no convergence) it is
    refitted with the first covariate alone, then not at all; ``note`` says
    why. Intervals are Clopper-Pearson clustered by patient (Korn &
    Graubard 1998; the weighted rate uses the weighted ratio variance and
    treats the weights as known, which for inverse-probability weighting is
    conservative: Robins, Rotnitzky & Zhao 1994).

    Parameters
    ----------
    episodes : DataFrame
        :func:`episode_pain` output with the ``covariates`` (e.g.
        ``cohort.episode_outcomes(..., courses="ended")``).
    rule : ResponderRule, optional
        Default: the one in ``episodes.attrs["responder_rule"]``.

    Returns
    -------
    DataFrame
        Three rows, ``method`` ``complete_case``, ``worst_case``,
        ``weighted``: ``courses`` (with a first score from which the rule
        can be met), ``assessed`` (courses whose result enters the rate:
        with a follow-up score; all of them in the worst case),
        ``improved`` (count), ``rate``, ``ci_lower``, ``ci_upper``,
        ``note`` (empty, or how the weights were made and why a covariate
        was dropped). ``attrs["no_follow_up"]`` counts the courses without
        a follow-up score and ``attrs["no_follow_up_self_discharged"]``
        those of them self-discharged (:func:`~.attendance.attendance`'s
        definition, when ``episodes`` has ``self_discharged``).
    """
    if rule is None:
        stored = episodes.attrs.get("responder_rule")
        rule = ResponderRule(**stored) if stored else DEFAULT_RULE
    covariates = [c for c in covariates]
    missing = [c for c in covariates if c not in episodes.columns]
    if missing:
        raise ValueError(f"`episodes` lacks covariate column(s) {missing}; pass episode_outcomes()")
    eligible = episodes["baseline"].notna().to_numpy() & rule.reachable(episodes["baseline"])
    frame = episodes[eligible].reset_index(drop=True)
    observed = frame["latest"].notna().to_numpy()
    frame = frame.assign(
        _observed=observed.astype(int),
        _improved=rule.met(frame["baseline"], frame["latest"]).astype(int),
        _patient=frame["patient_id"],
    )
    n, n_obs = len(frame), int(observed.sum())
    improved = int(frame["_improved"].sum())

    def interval(part: pd.DataFrame, weight: str | None = None) -> tuple[float, float, float]:
        if part.empty:
            return np.nan, np.nan, np.nan
        row = clustered_interval(
            part, keys=[], cluster="_patient", event="_improved", weight=weight, confidence=confidence
        )
        rate = float(np.average(part["_improved"], weights=None if weight is None else part[weight]))
        return rate, float(row["ci_lower"].iloc[0]), float(row["ci_upper"].iloc[0])

    seen = frame[observed]
    rows = [
        ("complete_case", n, n_obs, improved, *interval(seen), ""),
        ("worst_case", n, n, improved, *interval(frame), ""),
    ]
    if n_obs == n:
        note = "every course has a follow-up score: the same as the complete case"
        rows.append(("weighted", n, n_obs, improved, *interval(seen), note))
    elif n_obs == 0:
        rows.append(("weighted", n, 0, 0, np.nan, np.nan, np.nan, "no course has a follow-up score"))
    else:
        attempts = [covariates, covariates[:1], []] if len(covariates) > 1 else [covariates, []]
        reasons = []
        for used in attempts:
            if not used:
                rows.append(
                    ("weighted", n, n_obs, improved, np.nan, np.nan, np.nan, "not estimated: " + "; ".join(reasons))
                )
                break
            p, reason = _follow_up_model(frame, used)
            if p is None:
                reasons.append(f"with {', '.join(used)}: {reason}")
                continue
            weights = (n_obs / n) / p[observed]
            note = f"weights from {', '.join(used)}" + (f" ({'; '.join(reasons)})" if reasons else "")
            rows.append(("weighted", n, n_obs, improved, *interval(seen.assign(_weight=weights), "_weight"), note))
            break
    out = pd.DataFrame(rows, columns=SENSITIVITY_COLUMNS)
    out = out.astype(
        {"method": "string", "courses": "int64", "assessed": "int64", "improved": "int64", "note": "string"}
    )
    out.attrs["no_follow_up"] = n - n_obs
    if "self_discharged" in frame.columns:
        out.attrs["no_follow_up_self_discharged"] = int(
            frame.loc[~observed, "self_discharged"].fillna(False).astype(bool).sum()
        )
    out.attrs["responder_rule"] = rule.to_dict()
    return out
