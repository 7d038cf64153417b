"""The case-mix adjusted practitioner funnel: each practitioner's mean of observed minus expected, with limits.

Each course of care scored at the fixed time (week 8) has a difference
between its change and the change the expected-recovery model gives for
its baseline and case mix (:func:`~.recovery_use.expected_at_fixed_time`,
positive is better than expected). A practitioner's indicator is the mean
of their courses' differences; it is set against the clinic's mean
difference (the target) with normal control limits for a mean
(Spiegelhalter 2005, Stat Med 24:1185, section 3 and Table I, "normal
outcome"):

    target +- z_p x sqrt(phi) x sd / sqrt(n)

with z_p the standard normal quantile of the level's upper tail
(1.959964 for 95%, 3.090232 for 99.8%), ``sd`` the pooled
within-practitioner standard deviation of the differences, ``n`` the
practitioner's courses and ``phi`` the overdispersion factor of
:func:`~.funnel.overdispersion` (1: none). As everywhere, a point outside
the limits is a prompt to look, not a verdict, and there is no ranking.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import ndtri

from ._common import positions
from .funnel import DEFAULT_LIMITS, check_dispersion, check_limits, level_name, limit_flags
from .practitioners import check_min_episodes

DIFFERENCE_FUNNEL_COLUMNS = ["practitioner_id", "n", "n_patients", "indicator", "target", "sd"]


def _limits(target: float, sd: float, n: np.ndarray, levels, dispersion: float) -> dict[str, np.ndarray]:
    n = np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        spread = np.sqrt(dispersion) * sd / np.sqrt(n)
    out = {}
    for level in levels:
        z = ndtri(0.5 + level / 2)
        out[f"lower_{level_name(level)}"] = target - z * spread
        out[f"upper_{level_name(level)}"] = target + z * spread
    return out


def difference_funnel_limits(
    target: float, sd: float, n_max: int, *, limits=DEFAULT_LIMITS, dispersion: float = 1.0
) -> pd.DataFrame:
    """The adjusted funnel's control limits for every number of courses from 1 to ``n_max``, for plotting.

    Normal limits for a mean: ``target +- z x sqrt(dispersion) x sd / sqrt(n)``,
    z the standard normal quantile at 0.5 + level / 2 (Spiegelhalter 2005,
    Stat Med 24:1185, normal outcome).

    Parameters
    ----------
    target : float
        The centre line (outcome points): the clinic's mean difference, or 0.
    sd : float
        Standard deviation of one course's difference (outcome points), e.g.
        ``attrs["sd"]`` of :func:`difference_funnel`.
    n_max : int
        Largest number of courses.
    limits : sequence of float
        Two-sided coverage levels, default 95% and 99.8%.
    dispersion : float
        Multiplicative overdispersion factor phi (1: none); limits widen by sqrt(phi).

    Returns
    -------
    DataFrame
        ``n`` (1 to ``n_max``) and per level ``lower_<level>``, ``upper_<level>``
        (``lower_95``, ``upper_95``, ``lower_998``, ``upper_998`` by default).
    """
    levels = check_limits(limits)
    check_dispersion(dispersion)
    if not (isinstance(sd, (int, float, np.floating)) and np.isfinite(sd) and sd >= 0):
        raise ValueError(f"`sd` must be a standard deviation (0 or more), got {sd!r}")
    if isinstance(n_max, bool) or not isinstance(n_max, (int, np.integer)) or n_max < 1:
        raise ValueError(f"`n_max` must be a whole number, 1 or more, got {n_max!r}")
    n = np.arange(1, int(n_max) + 1)
    return pd.DataFrame({"n": n, **_limits(float(target), float(sd), n, levels, float(dispersion))})


def difference_funnel(
    fixed: pd.DataFrame,
    *,
    min_episodes: int = 10,
    limits=DEFAULT_LIMITS,
    target: float | None = None,
    dispersion: float = 1.0,
) -> pd.DataFrame:
    """Each practitioner's mean of observed minus expected at the fixed time, with funnel control limits.

    Courses without a practitioner are left out (``unattributed_episodes``),
    and so are practitioners with fewer than ``min_episodes`` courses
    scored at the fixed time (too few to judge; ``excluded_practitioners``,
    ``excluded_episodes``), who do not enter the target or the SD either.
    The limits are those of :func:`difference_funnel_limits` at each
    practitioner's ``n``, around ``target`` (default: the mean difference
    over the compared practitioners' courses), with ``sd`` the pooled
    within-practitioner standard deviation
    sqrt(sum_i sum_j (d_ij - mean_i)^2 / (N - k)) over the N courses of the
    k compared practitioners. A patient with several courses counts each
    course (rare; the limits ignore that clustering).

    Parameters
    ----------
    fixed : DataFrame
        From :func:`~needling_analytics.metrics.expected_at_fixed_time`
        (``practitioner_id``, ``patient_id``, ``difference``).
    min_episodes : int
        Fewest courses for a practitioner to be compared.
    limits : sequence of float
        Two-sided coverage levels of the control limits.
    target : float, optional
        The centre line in outcome points; default the clinic's (compared courses') mean difference.
    dispersion : float
        Multiplicative overdispersion factor phi widening the limits (1: none); see
        :func:`~needling_analytics.metrics.overdispersion`, which reads this funnel's ``sd``.

    Returns
    -------
    DataFrame
        One row per compared practitioner, by practitioner ID (never by
        result): ``practitioner_id``, ``n`` (courses), ``n_patients``,
        ``indicator`` (mean difference, points, positive is better than
        expected), ``target``, ``sd``, per level ``lower_<level>``,
        ``upper_<level>`` and ``flag`` (``within``, ``above 95%``, ...:
        the widest limit crossed; above is better). ``attrs``: ``target``,
        ``sd``, ``min_episodes``, ``limits``, ``dispersion``,
        ``excluded_practitioners``, ``excluded_episodes``,
        ``unattributed_episodes``, ``adjusted`` (True) and, when ``fixed``
        has them, ``outcome``, ``day``, ``window``.
    """
    check_min_episodes(min_episodes)
    levels = check_limits(limits)
    check_dispersion(dispersion)
    if target is not None and not (isinstance(target, (int, float, np.floating)) and np.isfinite(target)):
        raise ValueError(f"`target` must be a number of outcome points or None, got {target!r}")
    missing = [c for c in ("practitioner_id", "patient_id", "difference") if c not in fixed.columns]
    if missing:
        raise ValueError(f"`fixed` lacks column(s) {missing}; pass the output of expected_at_fixed_time()")
    scored = fixed[fixed["difference"].notna()]
    attributed = scored[scored["practitioner_id"].notna()]
    sizes = attributed.groupby("practitioner_id", sort=True).size()
    small = sizes.index[sizes < min_episodes]
    compared = attributed[~attributed["practitioner_id"].isin(small)]
    table = (
        compared.groupby("practitioner_id", sort=True)
        .agg(n=("difference", "size"), n_patients=("patient_id", "nunique"), indicator=("difference", "mean"))
        .reset_index()
        .astype({"n": "int64", "n_patients": "int64"})
    )
    values = compared["difference"].to_numpy(dtype=float)
    row = positions(compared["practitioner_id"].astype("string"), table["practitioner_id"].astype("string"))
    n_total, k = len(values), len(table)
    pooled = float(values.mean()) if n_total else float("nan")
    centre = pooled if target is None else float(target)
    within = values - table["indicator"].to_numpy()[row] if n_total else values
    sd = float(np.sqrt((within**2).sum() / (n_total - k))) if n_total > k else float("nan")
    table["target"] = centre
    table["sd"] = sd
    bounds = _limits(centre, sd, table["n"].to_numpy(), levels, float(dispersion))
    for name, limit in bounds.items():
        table[name] = limit
    table["flag"] = pd.Series(
        limit_flags(table["indicator"].to_numpy(dtype=float), bounds, levels), index=table.index, dtype="string"
    )
    table = table[[*DIFFERENCE_FUNNEL_COLUMNS, *bounds, "flag"]]
    table.attrs.update(
        {key: fixed.attrs[key] for key in ("outcome", "day", "window") if key in fixed.attrs},
        target=centre,
        sd=sd,
        min_episodes=min_episodes,
        limits=levels,
        dispersion=float(dispersion),
        excluded_practitioners=len(small),
        excluded_episodes=int(sizes[sizes < min_episodes].sum()),
        unattributed_episodes=int(len(scored) - len(attributed)),
        adjusted=True,
    )
    return table
