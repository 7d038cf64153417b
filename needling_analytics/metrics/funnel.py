"""Comparing practitioners fairly: funnel plots and overdispersion.

Never a league table (DOMAIN.md, "Comparing practitioners fairly"). Each
practitioner's responder rate is set against its number of episodes with
95% ("alert") and 99.8% ("alarm") control limits around the clinic's rate
(Spiegelhalter 2005, "Funnel plots for comparing institutional
performance", Stat Med 24:1185), and overdispersion is checked before a
limit is read as a signal. The case-mix adjusted comparison (the responder
rate expected from each practitioner's patients) is in :mod:`.case_mix`;
attribution and the cohort compared (ended courses, a minimum volume) in
:mod:`.practitioners`. No output has a rank.

Over 400 lines on purpose: the limits, the funnel, its overdispersion check
and the counts outside its limits all read one table, with one set of
limit levels and column names.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ..clinic import Clinic
from .pain import DEFAULT_RULE, ResponderRule
from .practitioners import check_courses, check_min_episodes, compared_episodes

#: Control limits (two-sided coverage) drawn by default: 95% alert, 99.8% alarm (Spiegelhalter 2005).
DEFAULT_LIMITS = (0.95, 0.998)
#: Fewest compared practitioners for the overdispersion widening to be applied: with fewer, one
#: outlier dominates the estimate of phi and would widen the limits it should be judged by.
MIN_PRACTITIONERS_FOR_WIDENING = 5

FUNNEL_COLUMNS = ["practitioner_id", "n", "responders", "indicator", "target"]


def level_name(level: float) -> str:
    """0.95 -> '95', 0.998 -> '998' (column suffix)."""
    return f"{100 * level:g}".replace(".", "")


def _level_label(level: float) -> str:
    return f"{100 * level:g}%"


def check_limits(limits) -> tuple[float, ...]:
    try:
        levels = tuple(sorted(float(x) for x in limits))
    except (TypeError, ValueError):
        raise ValueError(
            f"`limits` must be coverage levels between 0 and 1, such as (0.95, 0.998), got {limits!r}"
        ) from None
    if not levels or not all(0 < x < 1 for x in levels) or len(set(levels)) != len(levels):
        raise ValueError(f"`limits` must be coverage levels between 0 and 1, such as (0.95, 0.998), got {limits!r}")
    return levels


def check_dispersion(dispersion) -> None:
    if not (isinstance(dispersion, (int, float, np.floating)) and np.isfinite(dispersion) and dispersion > 0):
        raise ValueError(f"`dispersion` must be a positive number (1 means none), got {dispersion!r}")


def binomial_limit(probability: float, n: np.ndarray, target) -> np.ndarray:
    """Spiegelhalter's interpolated exact binomial control limit, as a proportion.

    With r the ``probability`` quantile of Binomial(n, target) (the smallest
    r with P(R <= r) >= probability), alpha = (P(R <= r) - probability) /
    (P(R <= r) - P(R <= r - 1)) and the limit is (r - alpha) / n
    (Spiegelhalter 2005, Appendix A.1.1), clipped to [0, 1]. ``target`` is
    one proportion, or one per ``n`` (the case-mix expected rate); a target
    of 0 or 1 is its own limit.
    """
    n = np.asarray(n, dtype=float)
    target = np.broadcast_to(np.asarray(target, dtype=float), n.shape)
    inside = (target > 0) & (target < 1)
    safe = np.where(inside, target, 0.5)
    r = stats.binom.ppf(probability, n, safe)
    at_r = stats.binom.cdf(r, n, safe)
    below_r = stats.binom.cdf(r - 1, n, safe)
    alpha = (at_r - probability) / (at_r - below_r)
    return np.where(inside, np.clip((r - alpha) / n, 0.0, 1.0), target)


def _limits_frame(target: float, n: np.ndarray, levels: tuple[float, ...], dispersion: float) -> dict[str, np.ndarray]:
    out = {}
    for level in levels:
        tail = (1 - level) / 2
        for side, probability in (("lower", tail), ("upper", 1 - tail)):
            limit = binomial_limit(probability, n, target)
            if dispersion != 1:
                limit = np.clip(target + np.sqrt(dispersion) * (limit - target), 0.0, 1.0)
            out[f"{side}_{level_name(level)}"] = limit
    return out


def funnel_limits(target: float, n_max: int, *, limits=DEFAULT_LIMITS, dispersion: float = 1.0) -> pd.DataFrame:
    """The funnel's control limits for every sample size from 1 to ``n_max``, for plotting.

    Exact binomial limits around ``target`` with Spiegelhalter's
    interpolation (Spiegelhalter 2005, Stat Med 24:1185, Appendix A.1.1):
    with *r* the *p*-th quantile of Binomial(*n*, target), the limit is
    (*r* - alpha) / *n* where alpha = (F(*r*) - *p*) / (F(*r*) - F(*r* - 1)),
    for *p* = (1 - level) / 2 (lower) and 1 - (1 - level) / 2 (upper);
    limits are clipped to [0, 1]. With ``dispersion`` phi > 1 (an
    overdispersion factor from :func:`overdispersion`) each limit's
    distance from the target is multiplied by sqrt(phi), the
    multiplicative widening of Spiegelhalter 2005 section 6.

    Parameters
    ----------
    target : float
        The target proportion, 0-1 (e.g. the clinic's responder rate).
    n_max : int
        Largest sample size.
    limits : sequence of float
        Two-sided coverage levels, default 95% and 99.8%.
    dispersion : float
        Multiplicative overdispersion factor phi (1: none).

    Returns
    -------
    DataFrame
        ``n`` (1 to n_max) and, per level, ``lower_<level>`` and
        ``upper_<level>`` (proportions 0-1; ``lower_95``, ``upper_95``,
        ``lower_998``, ``upper_998`` by default).

    Examples
    --------
    >>> round(float(funnel_limits(0.5, 4).loc[3, "upper_95"]), 6)  # Binomial(4, 0.5): (4 - 0.4) / 4
    0.9
    """
    if not (isinstance(target, (int, float, np.floating)) and 0 <= target <= 1):
        raise ValueError(f"`target` must be a proportion from 0 to 1, got {target!r}")
    if isinstance(n_max, bool) or not isinstance(n_max, (int, np.integer)) or n_max < 1:
        raise ValueError(f"`n_max` must be a whole number, 1 or more, got {n_max!r}")
    levels = check_limits(limits)
    check_dispersion(dispersion)
    n = np.arange(1, n_max + 1, dtype=np.int64)
    return pd.DataFrame({"n": n, **_limits_frame(float(target), n, levels, float(dispersion))})


def limit_flags(indicator: np.ndarray, bounds: dict[str, np.ndarray], levels: tuple[float, ...]) -> np.ndarray:
    """'within', or the widest limit crossed: 'above 99.8%', 'below 95%', ..."""
    flag = np.full(len(indicator), "within", dtype=object)
    for level in levels:  # ascending: a wider limit crossed overrides a narrower one
        name, label = level_name(level), _level_label(level)
        flag = np.where(indicator > bounds[f"upper_{name}"], f"above {label}", flag)
        flag = np.where(indicator < bounds[f"lower_{name}"], f"below {label}", flag)
    return flag


def practitioner_funnel(
    clinic: Clinic,
    *,
    rule: ResponderRule = DEFAULT_RULE,
    min_episodes: int = 10,
    limits=DEFAULT_LIMITS,
    target: float | None = None,
    dispersion: float = 1.0,
    courses: str = "ended",
) -> pd.DataFrame:
    """Each practitioner's responder rate against the clinic's, with funnel control limits.

    Episodes are the assessable ones of :func:`episode_pain` under ``rule``
    among the courses of care that have ended (``end_date`` set): an
    ongoing course scored at its latest visit so far is an interim result,
    and mixing interim with final results biases the rates (DOMAIN.md,
    "Interim is not final"). Each is attributed to one practitioner (:func:`attribute_episodes`: most
    attended sessions; ties to the one who saw the patient first).
    Practitioners with fewer than ``min_episodes`` assessable episodes are
    left out (too few to judge; their count is in
    ``attrs["excluded_practitioners"]``) and do not enter the target.

    The control limits are exact binomial limits at the practitioner's
    *n* around the target, with Spiegelhalter's interpolation (see
    :func:`funnel_limits`; Spiegelhalter 2005, Stat Med 24:1185). A
    practitioner outside the 95% limits is an alert, outside 99.8% an
    alarm: a prompt to look at the case mix and the data, not a verdict.
    Check :func:`overdispersion` first; if the practitioners vary more than
    chance allows, pass its ``inflation`` as ``dispersion``.

    Parameters
    ----------
    clinic : Clinic
        The loaded clinic.
    rule : ResponderRule
        Responder definition (recorded in ``attrs["responder_rule"]``).
    min_episodes : int
        Least number of assessable episodes for a practitioner to be shown.
    limits : sequence of float
        Two-sided coverage levels of the control limits.
    target : float, optional
        The target proportion; default the responder rate over the
        compared practitioners' episodes (responders / n, pooled).
    dispersion : float
        Multiplicative overdispersion factor phi widening the limits (1: none).
    courses : {"ended", "all"}
        ``ended`` (default): courses of care that have ended only. ``all``
        adds ongoing ones scored on their interim results (for exploring,
        never for a clinic-level rate).

    Returns
    -------
    DataFrame
        One row per compared practitioner, by practitioner ID (never by
        rate): ``practitioner_id``, ``n`` (assessable episodes),
        ``responders``, ``indicator`` (responders / n, 0-1), ``target``
        (0-1), per level ``lower_<level>`` and ``upper_<level>``
        (proportions; ``lower_95``, ``upper_95``, ``lower_998``,
        ``upper_998`` by default) and ``flag`` (``within``,
        ``above 95%``, ``below 95%``, ``above 99.8%``, ``below 99.8%``:
        the widest limit crossed; higher is better for a responder rate).
        ``attrs`` holds ``responder_rule``, ``target``, ``min_episodes``,
        ``limits``, ``dispersion``, ``excluded_practitioners`` and
        ``excluded_episodes`` (below the minimum), ``unattributed_episodes``
        (assessable, no practitioner recorded), ``courses`` and
        ``ongoing_episodes`` (assessable episodes left out because their
        course has not ended; 0 with ``courses="all"``).

    Examples
    --------
    >>> from needling_analytics.demo import generate_clinic
    >>> from needling_analytics.clinic import Clinic
    >>> clinic = Clinic.from_frames(**generate_clinic(n_patients=400, seed=0))
    >>> funnel = practitioner_funnel(clinic)
    >>> check = overdispersion(funnel)
    >>> funnel = practitioner_funnel(clinic, dispersion=float(check.loc[0, "inflation"]))
    >>> funnel.columns[-5:].tolist()
    ['lower_95', 'upper_95', 'lower_998', 'upper_998', 'flag']
    """
    check_min_episodes(min_episodes)
    levels = check_limits(limits)
    check_dispersion(dispersion)
    if target is not None and not (isinstance(target, (int, float, np.floating)) and 0 <= target <= 1):
        raise ValueError(f"`target` must be a proportion from 0 to 1 or None, got {target!r}")
    check_courses(courses)
    compared = compared_episodes(clinic, rule=rule, courses=courses, min_episodes=min_episodes)
    episodes = compared.episodes
    table = (
        episodes.assign(_responder=episodes["responder"].astype(bool).astype("int64"))
        .groupby("practitioner_id", sort=True, observed=True)
        .agg(n=("episode_id", "size"), responders=("_responder", "sum"))
        .reset_index()
    )
    table = table.astype({"n": "int64", "responders": "int64"})
    table["indicator"] = table["responders"] / table["n"]
    pooled = table["responders"].sum() / table["n"].sum() if len(table) else np.nan
    table["target"] = float(pooled if target is None else target)
    bounds = (
        _limits_frame(float(table["target"].iloc[0]), table["n"].to_numpy(), levels, float(dispersion))
        if len(table)
        else {f"{s}_{level_name(x)}": np.array([], dtype=float) for x in levels for s in ("lower", "upper")}
    )
    for name, values in bounds.items():
        table[name] = values
    table["flag"] = pd.Series(
        limit_flags(table["indicator"].to_numpy(), bounds, levels), index=table.index, dtype="string"
    )
    table = table[[*FUNNEL_COLUMNS, *bounds, "flag"]]
    table.attrs.update(
        responder_rule=rule.to_dict(),
        target=float(pooled if target is None else target),
        min_episodes=min_episodes,
        limits=levels,
        dispersion=float(dispersion),
        **compared.counts(),
    )
    return table


def overdispersion(
    funnel: pd.DataFrame,
    *,
    winsorize: float = 0.1,
    alpha: float = 0.05,
    min_practitioners: int = MIN_PRACTITIONERS_FOR_WIDENING,
) -> pd.DataFrame:
    """Whether practitioners vary more than chance allows (Spiegelhalter 2005, section 6).

    With target theta, z_i = (y_i - theta) / sqrt(theta (1 - theta) / n_i)
    for each practitioner's rate y_i; phi = sum(z_i^2) / k. For a
    case-mix adjusted funnel (:func:`~needling_analytics.metrics.case_mix_adjusted`,
    which has an ``expected`` column) the variance is that of the adjusted
    rate theta O / E when O ~ Binomial(n, E / n): theta^2 (1 - E / n) / E,
    so that z_i = (O_i - E_i) / sqrt(E_i (1 - E_i / n_i)). For a funnel of
    means (:func:`~needling_analytics.metrics.difference_funnel`, which has
    an ``sd`` column) the variance is sd^2 / n_i. Under no
    overdispersion k x phi is chi-square with k - 1 degrees of freedom
    (one lost because the target is estimated from the same episodes).
    When overdispersed, the limits are widened by sqrt(phi): pass
    ``inflation`` as ``dispersion`` to :func:`practitioner_funnel`.

    The z-scores are winsorised (the ``winsorize`` share at each end set to
    the quantile there; Spiegelhalter recommends 10%) before the estimate
    of phi used for widening and of the additive random-effects variance
    tau^2 = (k phi_w - (k - 1)) / (sum w_i - sum w_i^2 / sum w_i), with
    w_i = n_i / (theta (1 - theta)), 0 when negative (Spiegelhalter 2005,
    section 6.2). The test itself uses the raw z-scores.

    The widening is applied only with at least ``min_practitioners``
    (default 5) compared practitioners. With fewer, a single outlying
    practitioner dominates phi (winsorising cannot help with 4 values),
    and widening the limits by it would hide the very practitioner that
    caused it; the test is still reported, but ``inflation`` stays 1.

    Parameters
    ----------
    funnel : DataFrame
        The output of :func:`practitioner_funnel` (``n``, ``indicator``,
        ``target`` are used) or of :func:`case_mix_adjusted` (``expected``
        too) or :func:`difference_funnel` (``sd`` too).
    winsorize : float
        Share of z-scores winsorised at each end, 0 to under 0.5.
    alpha : float
        Significance level of the chi-square test.
    min_practitioners : int
        Fewest practitioners for ``inflation`` to be more than 1.

    Returns
    -------
    DataFrame
        One row: ``practitioners`` (k), ``phi`` (sum z^2 / k), ``chi2``
        (k phi), ``df`` (k - 1), ``p_value``, ``overdispersed`` (bool:
        p_value < alpha), ``phi_winsorized``, ``inflation`` (phi_winsorized,
        at least 1, when overdispersed and k >= ``min_practitioners``,
        else 1: the factor to widen by),
        ``tau2`` (additive between-practitioner variance, proportion
        squared). NaN where k < 2 or the target is 0 or 1. ``attrs``
        holds ``winsorize``, ``alpha`` and ``min_practitioners``.
    """
    if not (isinstance(winsorize, (int, float)) and 0 <= winsorize < 0.5):
        raise ValueError(f"`winsorize` must be a share from 0 to under 0.5 (0.1 means 10%), got {winsorize!r}")
    if not (isinstance(alpha, (int, float)) and 0 < alpha < 1):
        raise ValueError(f"`alpha` must be between 0 and 1, got {alpha!r}")
    if (
        isinstance(min_practitioners, bool)
        or not isinstance(min_practitioners, (int, np.integer))
        or min_practitioners < 2
    ):
        raise ValueError(f"`min_practitioners` must be a whole number, 2 or more, got {min_practitioners!r}")
    n = funnel["n"].to_numpy(dtype=float)
    y = funnel["indicator"].to_numpy(dtype=float)
    theta = funnel["target"].to_numpy(dtype=float)
    k = len(n)
    row = {"practitioners": k, "phi": np.nan, "chi2": np.nan, "df": max(k - 1, 0), "p_value": np.nan,
           "overdispersed": False, "phi_winsorized": np.nan, "inflation": 1.0, "tau2": np.nan}  # fmt: skip
    if "expected" in funnel:  # case-mix adjusted: O ~ Binomial(n, E / n) under "like the average practitioner"
        expected = funnel["expected"].to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            variance = theta**2 * (1 - expected / n) / expected
        usable = bool(np.all(np.isfinite(variance) & (variance > 0)))
    elif "sd" in funnel:  # a mean (the adjusted funnel of recovery_funnel.difference_funnel): variance sd^2 / n
        variance = funnel["sd"].to_numpy(dtype=float) ** 2 / n
        usable = bool(np.all(np.isfinite(variance) & (variance > 0)))
    else:
        variance = theta * (1 - theta) / n
        usable = bool(np.all((theta > 0) & (theta < 1)))
    if k >= 2 and usable and np.all(np.isfinite(y)):
        z = (y - theta) / np.sqrt(variance)
        phi = float(np.mean(z**2))
        if winsorize > 0:
            low, high = np.quantile(z, [winsorize, 1 - winsorize])
            z = np.clip(z, low, high)
        phi_w = float(np.mean(z**2))
        w = 1 / variance
        tau2 = max((k * phi_w - (k - 1)) / (w.sum() - (w**2).sum() / w.sum()), 0.0)
        p_value = float(stats.chi2.sf(k * phi, k - 1))
        over = p_value < alpha
        widen = over and k >= min_practitioners
        row.update(phi=phi, chi2=k * phi, p_value=p_value, overdispersed=over, phi_winsorized=phi_w,
                   inflation=max(phi_w, 1.0) if widen else 1.0, tau2=float(tau2))  # fmt: skip
    out = pd.DataFrame([row]).astype({"practitioners": "int64", "df": "int64", "overdispersed": bool})
    out.attrs.update(winsorize=winsorize, alpha=alpha, min_practitioners=int(min_practitioners))
    return out


def funnel_counts(funnel: pd.DataFrame, *, hidden=None) -> dict:
    """How many practitioners are outside the funnel's limits, counted on the whole (unprotected) funnel.

    Small-cell protection hides practitioners with few responders or
    non-responders, and at small numbers those are exactly the ones most
    likely to be outside the limits; so the verdict is counted over every
    compared practitioner, shown or not, and a hidden one is only ever
    counted, never named.

    Parameters
    ----------
    funnel : DataFrame
        The output of :func:`practitioner_funnel`, **before** any
        practitioner is hidden (``indicator`` and the ``lower_<level>`` /
        ``upper_<level>`` columns are used, with the limits as they are:
        widened when the funnel was made with a ``dispersion``).
    hidden : array-like of bool, optional
        One per row of ``funnel``: True for a practitioner not shown (e.g.
        :func:`~needling_analytics.privacy.policies.funnel_hidden`). Default:
        none hidden.

    Returns
    -------
    dict
        With the default limits, the six counts (whole numbers):

        - ``shown``: practitioners drawn and named;
        - ``hidden``: practitioners compared but not shown, for privacy;
        - ``above_95``, ``below_95``: practitioners, shown or hidden,
          strictly above / below the 95% limits (those beyond the 99.8%
          limits included: every alarm is also an alert);
        - ``above_998``, ``below_998``: the same for the 99.8% limits.

        and beside them ``practitioners`` (shown + hidden),
        ``expected_outside_95`` and ``expected_outside_998`` (how many
        practitioners chance alone would put outside each pair of limits,
        either side, if every practitioner had the same underlying rate:
        practitioners x 0.05 and x 0.002), and ``hidden_outside``: for the
        hidden practitioners outside a limit, a count per widest limit
        crossed (``{"below 95%": 1}``), counts only. Other ``limits`` give
        ``above_<level>`` etc. with the funnel's column suffixes.

    Examples
    --------
    >>> funnel = pd.DataFrame({"indicator": [0.55, 0.2], "lower_95": [0.27, 0.24], "upper_95": [0.64, 0.66]})
    >>> counts = funnel_counts(funnel, hidden=[False, True])
    >>> counts["shown"], counts["hidden"], counts["below_95"], counts["hidden_outside"]
    (1, 1, 1, {'below 95%': 1})
    """
    known = {level_name(x): float(x) for x in funnel.attrs.get("limits", DEFAULT_LIMITS)}
    level = {
        c[len("upper_") :]: known.get(c[len("upper_") :], float(f"0.{c[len('upper_') :]}"))
        for c in funnel.columns
        if c.startswith("upper_") and f"lower_{c[len('upper_') :]}" in funnel
    }
    names = sorted(level, key=level.get)
    if not names:
        raise ValueError("`funnel` must have its control limits (lower_95, upper_95, ...): use practitioner_funnel()")
    mask = np.zeros(len(funnel), dtype=bool) if hidden is None else np.asarray(hidden, dtype=bool).reshape(-1)
    if len(mask) != len(funnel):
        raise ValueError(f"`hidden` must have one value per practitioner ({len(funnel)}), got {len(mask)}")
    indicator = funnel["indicator"].to_numpy(dtype=float)
    counts: dict = {"shown": int((~mask).sum()), "hidden": int(mask.sum())}
    flag = np.full(len(funnel), "", dtype=object)
    for name in names:  # ascending coverage: a wider limit crossed overrides a narrower one
        above = indicator > funnel[f"upper_{name}"].to_numpy(dtype=float)
        below = indicator < funnel[f"lower_{name}"].to_numpy(dtype=float)
        counts[f"above_{name}"], counts[f"below_{name}"] = int(above.sum()), int(below.sum())
        label = _level_label(level[name])
        flag = np.where(above, f"above {label}", np.where(below, f"below {label}", flag))
    counts["practitioners"] = len(funnel)
    for name in names:
        counts[f"expected_outside_{name}"] = round(len(funnel) * (1 - level[name]), 12)
    outside = pd.Series(flag[mask & (flag != "")], dtype=object).value_counts(sort=False)
    counts["hidden_outside"] = {str(k): int(v) for k, v in sorted(outside.items())}
    return counts
