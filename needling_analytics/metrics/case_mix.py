"""Case-mix adjusted comparison of practitioners (indirect standardisation).

A practitioner who sees harder patients should not look worse for it
(DOMAIN.md, "Comparing practitioners fairly": adjust for case mix; report
observed against expected). The expected responders come from a logistic
model of responder on the case mix **and** on who treated the patient; the
practitioner terms are then set to zero, so that each practitioner's
patients are scored as the clinic's average practitioner would do with
them. A model without practitioner terms would not do: when case mix and
practitioner go together, it credits a practitioner's own results to the
case mix (a good practitioner who sees mild cases makes mild cases look
easier still) and so misjudges everyone else.

Observed against expected is read on Spiegelhalter's funnel (Spiegelhalter
2005, "Funnel plots for comparing institutional performance", Stat Med
24:1185): the adjusted rate O / E x the average practitioner's rate, with exact
binomial control limits worked out from the expected count. A model that
cannot be trusted (separation, no convergence, a case mix that cannot be
told apart from who treated the patient) is said so, with the reason,
never silently used; :func:`practitioner_comparison` then falls back to the
unadjusted funnel.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import statsmodels.api as sm
from statsmodels.tools.sm_exceptions import ConvergenceWarning, PerfectSeparationWarning

from ..clinic import Clinic
from .case_mix_covariates import COVARIATES, case_mix_covariates, case_mix_design
from .funnel import (
    DEFAULT_LIMITS,
    binomial_limit,
    check_dispersion,
    check_limits,
    level_name,
    limit_flags,
    overdispersion,
    practitioner_funnel,
)
from .pain import DEFAULT_RULE, ResponderRule
from .practitioners import check_courses, check_min_episodes, compared_episodes

try:  # statsmodels < 0.14 raises instead of warning
    from statsmodels.tools.sm_exceptions import PerfectSeparationError
except ImportError:  # pragma: no cover
    PerfectSeparationError = RuntimeError

#: Largest believable log-odds coefficient; beyond it (an odds ratio over 22,000) a group's outcome is
#: (nearly) perfectly predicted, and the fit is not trusted.
MAX_COEFFICIENT = 10.0
CASE_MIX_COLUMNS = [
    "practitioner_id", "n", "responders", "expected", "observed_rate", "expected_rate", "o_minus_e", "o_over_e",
    "practitioner_effect", "indicator", "target",
]  # fmt: skip


def _separation_problems(design: pd.DataFrame, y: np.ndarray, practitioner: np.ndarray) -> list[str]:
    """Groups whose outcome is all one way (the model's estimate for them would be infinite), in words."""
    problems = []
    if y.all() or not y.any():
        return ["every assessed course of care " + ("improved" if y.all() else "did not improve")]
    frame = pd.DataFrame({"p": practitioner, "y": y})
    share = frame.groupby("p", sort=False)["y"].mean()
    for value, outcome in (
        (1.0, "every one of their courses of care improved"),
        (0.0, "none of their courses of care improved"),
    ):
        extreme = int((share == value).sum())
        if extreme:
            who = "for 1 practitioner" if extreme == 1 else f"for {extreme} practitioners"
            problems.append(f"{who} {outcome}, so how they compare with the others cannot be measured")
    dummies = design.drop(columns=[c for c in ("intercept", "baseline") if c in design])
    for column in dummies.columns:
        members = dummies[column].to_numpy(dtype=bool)
        if members.any() and (y[members].all() or not y[members].any()):
            covariate, level = column[:-1].split("[", 1)
            problems.append(
                f"{'every' if y[members].all() else 'no'} course of care improved for patients with "
                f"{COVARIATES[covariate]} '{level}'"
            )
    return problems


def _effects_columns(practitioner: np.ndarray, ids: list) -> pd.DataFrame:
    """Effects (sum-to-zero) coding of the practitioners: K - 1 columns, the last practitioner -1 in each.

    The practitioner effects then add to zero, so the intercept is the
    clinic's *average practitioner* (unweighted, on the log-odds scale) and
    an effect of zero means "like the average practitioner".
    """
    last = practitioner == ids[-1]
    return pd.DataFrame(
        {f"practitioner[{p}]": np.where(practitioner == p, 1.0, np.where(last, -1.0, 0.0)) for p in ids[:-1]}
    )


def _fit(design: pd.DataFrame, y: np.ndarray) -> tuple[pd.Series | None, bool, list[str], list[str]]:
    """Binomial GLM on 0/1 outcomes; (coefficients, converged, problems in words, warning messages).

    Episodes sharing one covariate pattern and one outcome are one row with a
    frequency weight: the likelihood of the per-episode fit, far faster. (Not
    one binomial row per pattern: a model that then fits every pattern's
    share exactly, e.g. intercept + practitioner only, would trip statsmodels'
    perfect-prediction check and leave no residual degrees of freedom.)
    """
    patterns, counts = np.unique(np.column_stack([design.to_numpy(), y]), axis=0, return_counts=True)
    exog = pd.DataFrame(patterns[:, :-1], columns=design.columns)
    problems, messages = [], []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            fit = sm.GLM(patterns[:, -1], exog, family=sm.families.Binomial(), freq_weights=counts.astype(float)).fit()
        except PerfectSeparationError as error:
            return (
                None,
                False,
                ["the patients' details alone tell exactly which courses of care improved"],
                [str(error)],
            )
    for warning in caught:
        messages.append(f"{warning.category.__name__}: {warning.message}")
    messages = list(dict.fromkeys(messages))
    for warning in caught:
        if issubclass(warning.category, PerfectSeparationWarning):
            problems.append("the patients' details alone tell exactly which courses of care improved")
        elif issubclass(warning.category, ConvergenceWarning):
            problems.append("the calculation did not settle on an answer")
        elif issubclass(warning.category, RuntimeWarning):
            problems.append("the calculation ran out of range")
    converged = bool(fit.converged)
    if not converged and "the calculation did not settle on an answer" not in problems:
        problems.append("the calculation did not settle on an answer")
    params = fit.params
    slopes = params.drop("intercept").to_numpy(dtype=float)
    if not np.all(np.isfinite(params)) or float(np.max(np.abs(slopes), initial=0.0)) > MAX_COEFFICIENT:
        problems.append("some of the model's estimates are implausibly large, a sign of a group with one outcome")
    return params, converged, list(dict.fromkeys(problems)), messages


def case_mix_adjusted(
    clinic: Clinic,
    *,
    rule: ResponderRule = DEFAULT_RULE,
    min_episodes: int = 10,
    min_category: int = 10,
    limits=DEFAULT_LIMITS,
    dispersion: float = 1.0,
    courses: str = "ended",
) -> pd.DataFrame:
    """Observed against case-mix-expected responders, per practitioner, on a funnel.

    **Model.** A logistic model (statsmodels GLM, binomial family, logit
    link) of responder, fitted on the assessable episodes of the compared
    practitioners (those with at least ``min_episodes``; courses of care
    that have ended, as in :func:`practitioner_funnel`), with the case mix:
    baseline pain (points, linear), symptom duration band (acute under 6
    weeks, subacute 6-12, chronic over 12), age band at the episode start
    (under 30, 30-44, 45-59, 60-74, 75 and over), sex (F, M, X or unknown)
    and body region; **plus one term per practitioner**, effects-coded
    (they add to zero). A missing covariate value is a level of its own
    (``unknown``); a level seen in fewer than ``min_category`` episodes is
    pooled (``attrs["merged_levels"]``); a covariate left with one level
    (not recorded, or the same for everyone) is dropped, with the reason in
    ``attrs["dropped_covariates"]``.

    **Expected.** A practitioner's expected responders E are the sum over
    their episodes of the predicted probability with the practitioner terms
    set to zero: what the clinic's average practitioner (the unweighted
    mean of the practitioner effects on the log-odds scale) would achieve
    with the same patients. Fitting the case mix *without* practitioner
    terms would let the case-mix coefficients absorb practitioner
    differences that go with case mix. The adjusted rate ``indicator`` =
    O / E x target (indirect standardisation), where ``target`` is the
    average practitioner's rate with these same patients (sum of E / sum
    of n; ``attrs["clinic_rate"]`` is the pooled responders / episodes
    over the compared practitioners): a practitioner who does just as the
    average one sits on it. (It is not the pooled rate because, with the practitioner
    terms set to zero, the sum of E is not the sum of O.)

    **Limits.** Under "like the average practitioner" O is taken as
    Binomial(n, E / n); the limits of O are Spiegelhalter's interpolated
    exact binomial limits (Spiegelhalter 2005, Stat Med 24:1185, Appendix
    A.1.1; as :func:`funnel_limits`, at the practitioner's n around E / n),
    widened by sqrt(``dispersion``) around E, and shown on the adjusted
    scale (limit / E x target). Each practitioner has their own limits.

    **Reliability.** The fit is not trusted, and ``attrs["reliable"]`` is
    False with plain reasons in ``attrs["problems"]``, when: every course,
    or every course of one practitioner or one covariate level, has the
    same outcome (separation: its estimate is infinite); statsmodels warns
    of perfect separation, non-convergence or overflow (its messages are in
    ``attrs["fit_warnings"]``); the fit did not converge; a coefficient is
    beyond +-:data:`MAX_COEFFICIENT` log-odds; or the design is
    rank-deficient (the case mix cannot be told apart from who treated the
    patients). Then ``expected`` and everything worked out from it are NaN
    and ``flag`` is ``not estimable``. With one compared practitioner there
    is no practitioner term, and E = O.

    Parameters
    ----------
    clinic : Clinic
        The loaded clinic.
    rule : ResponderRule
        Responder definition.
    min_episodes : int
        Least number of assessable episodes for a practitioner to be compared.
    min_category : int
        Least number of episodes for a covariate level of its own.
    limits : sequence of float
        Two-sided coverage levels.
    dispersion : float
        Multiplicative overdispersion factor phi widening the limits (1:
        none); :func:`overdispersion` of this table gives it.
    courses : {"ended", "all"}
        ``ended`` (default): courses of care that have ended only; ``all``
        adds ongoing ones scored on their interim results.

    Returns
    -------
    DataFrame
        One row per compared practitioner, by practitioner ID (never by
        rate): ``practitioner_id``, ``n`` (assessable episodes),
        ``responders`` (observed, O), ``expected`` (E, responders),
        ``observed_rate`` and ``expected_rate`` (O / n, E / n, proportions),
        ``o_minus_e`` (observed_rate - expected_rate, a proportion),
        ``o_over_e`` (O / E), ``practitioner_effect`` (log-odds against the
        average practitioner), ``indicator`` (adjusted rate O / E x target,
        0-1 or a little over), ``target`` (the average practitioner's rate, sum E / sum n), per level
        ``lower_<level>`` and ``upper_<level>`` (limits of the adjusted
        rate) and ``flag`` (``within``, ``above 95%``, ..., or ``not
        estimable``). ``attrs``: ``adjusted`` (True), ``reliable``,
        ``problems``, ``fit_warnings``, ``converged``, ``covariates`` (used),
        ``dropped_covariates``, ``merged_levels``, ``coefficients`` (case-mix
        log-odds, with ``intercept`` = average practitioner), ``reference``,
        ``model_episodes``, ``responder_rule``, ``target``, ``clinic_rate``, ``min_episodes``,
        ``limits``, ``dispersion``, ``excluded_practitioners``,
        ``excluded_episodes``, ``unattributed_episodes``,
        ``practitioners_recorded``, ``courses``, ``ongoing_episodes``.
    """
    check_min_episodes(min_episodes)
    if isinstance(min_category, bool) or not isinstance(min_category, (int, np.integer)) or min_category < 1:
        raise ValueError(f"`min_category` must be a whole number, 1 or more, got {min_category!r}")
    levels = check_limits(limits)
    check_dispersion(dispersion)
    check_courses(courses)
    compared = compared_episodes(clinic, rule=rule, courses=courses, min_episodes=min_episodes)
    episodes = compared.episodes.reset_index(drop=True)
    ids = sorted(episodes["practitioner_id"].unique().tolist())
    practitioner = episodes["practitioner_id"].to_numpy(dtype=object)
    y = episodes["responder"].astype(bool).to_numpy(dtype=float)
    design, merged, dropped = case_mix_design(case_mix_covariates(clinic, episodes), min_category)

    problems, messages, coefficients, effects, converged = [], [], {}, {}, True
    probability = np.full(len(y), np.nan)
    if len(y):
        problems = _separation_problems(design, y, practitioner)
        full = pd.concat([design, _effects_columns(practitioner, ids)], axis=1) if len(ids) > 1 else design
        if not problems and np.linalg.matrix_rank(full.to_numpy()) < full.shape[1]:
            problems.append(
                "the patients' case mix cannot be told apart from who treated them "
                "(some group of patients was seen by one practitioner only)"
            )
        if not problems:
            params, converged, problems, messages = _fit(full, y)
            if params is not None:
                case_mix = params[design.columns]
                coefficients = {name: float(value) for name, value in case_mix.items()}
                named = {p: float(params[f"practitioner[{p}]"]) for p in ids[:-1]}
                effects = {**named, ids[-1]: -sum(named.values())} if len(ids) > 1 else {ids[0]: 0.0}
                probability = 1 / (1 + np.exp(-(design.to_numpy() @ case_mix.to_numpy())))
        else:
            converged = False
    reliable = bool(len(y)) and not problems
    if not reliable:
        probability = np.full(len(y), np.nan)

    table = (
        pd.DataFrame({"practitioner_id": practitioner, "y": y, "p": probability})
        .groupby("practitioner_id", sort=True)
        .agg(n=("y", "size"), responders=("y", "sum"), expected=("p", "sum"))
        .reset_index()
        .astype({"n": "int64", "responders": "int64", "practitioner_id": object})
    )
    if not reliable:
        table["expected"] = np.nan
    clinic_rate = float(table["responders"].sum() / table["n"].sum()) if len(table) else np.nan
    # The reference is the average practitioner, so the line to compare with is that practitioner's rate over
    # all these patients (sum E / sum n), not the clinic's pooled rate: with the practitioner terms set to
    # zero, sum E is not sum O. (The flags and overdispersion do not depend on this choice; the chart does.)
    target = float(table["expected"].sum() / table["n"].sum()) if reliable and len(table) else clinic_rate
    n = table["n"].to_numpy(dtype=float)
    expected = table["expected"].to_numpy(dtype=float)
    table["observed_rate"] = table["responders"] / table["n"]
    table["expected_rate"] = expected / n
    table["o_minus_e"] = table["observed_rate"] - table["expected_rate"]
    table["o_over_e"] = table["responders"] / table["expected"].where(table["expected"] > 0)
    table["practitioner_effect"] = table["practitioner_id"].map(effects).astype(float)
    table["indicator"] = table["o_over_e"] * target
    table["target"] = target
    bounds = {}
    for level in levels:
        tail = (1 - level) / 2
        for side, prob in (("lower", tail), ("upper", 1 - tail)):
            count = n * binomial_limit(prob, n, np.where(np.isfinite(expected), expected / n, 0.5)) if len(n) else n
            count = expected + np.sqrt(float(dispersion)) * (count - expected)
            with np.errstate(divide="ignore", invalid="ignore"):
                bounds[f"{side}_{level_name(level)}"] = np.clip(count, 0.0, n) / expected * target
    for name, values in bounds.items():
        table[name] = values
    flag = limit_flags(table["indicator"].to_numpy(dtype=float), bounds, levels)
    table["flag"] = pd.Series(
        np.where(np.isfinite(table["indicator"].to_numpy(dtype=float)), flag, "not estimable"), dtype="string"
    )
    table = table[[*CASE_MIX_COLUMNS, *bounds, "flag"]]
    table.attrs.update(
        adjusted=True,
        reliable=reliable,
        problems=problems,
        fit_warnings=messages,
        converged=converged,
        covariates=[c for c in COVARIATES if c not in dropped],
        dropped_covariates=dropped,
        merged_levels=merged,
        coefficients=coefficients,
        reference="the average practitioner (effects-coded practitioner terms, which add to zero, set to zero)",
        model_episodes=len(y),
        responder_rule=rule.to_dict(),
        target=target,
        clinic_rate=clinic_rate,
        min_episodes=min_episodes,
        limits=levels,
        dispersion=float(dispersion),
        **compared.counts(),
    )
    return table


def practitioner_comparison(
    clinic: Clinic,
    *,
    rule: ResponderRule = DEFAULT_RULE,
    min_episodes: int = 10,
    min_category: int = 10,
    limits=DEFAULT_LIMITS,
    courses: str = "ended",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The funnel a report shows: adjusted for case mix when that can be done reliably, else unadjusted.

    Runs :func:`case_mix_adjusted`, checks :func:`overdispersion` on it and
    runs it again with the resulting ``inflation`` as ``dispersion``
    (applied only with at least 5 practitioners). When the adjustment is
    not reliable (``attrs["reliable"]`` False), or there is nobody to
    compare, the same is done with :func:`practitioner_funnel` instead,
    and its ``attrs`` carry ``adjusted`` (False) and
    ``adjustment_problems`` (the reasons in words, empty when there was
    nobody to compare).

    Returns
    -------
    tuple of DataFrame
        The funnel (one of the two tables above, with its ``attrs``) and
        its :func:`overdispersion` row.
    """
    options = {"rule": rule, "min_episodes": min_episodes, "limits": limits, "courses": courses}
    first = case_mix_adjusted(clinic, min_category=min_category, **options)
    if first.attrs["reliable"]:
        spread = overdispersion(first)
        funnel = case_mix_adjusted(
            clinic, min_category=min_category, dispersion=float(spread["inflation"].iloc[0]), **options
        )
        return funnel, spread
    first_pass = practitioner_funnel(clinic, **options)
    spread = overdispersion(first_pass)
    funnel = practitioner_funnel(clinic, dispersion=float(spread["inflation"].iloc[0]), **options)
    funnel.attrs.update(
        adjusted=False,
        adjustment_problems=list(first.attrs["problems"]),
        dropped_covariates=first.attrs["dropped_covariates"],
    )
    return funnel, spread
