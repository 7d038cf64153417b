"""Kaplan-Meier curves, the log-rank test and median times, for any table of times and events.

Survival here is the share *not yet responded* when the table is
:func:`~needling_analytics.metrics.response_time.time_to_response`'s (how
"response" is found, and its detection bias, are described there), but the
estimators take any ``time`` and ``event`` columns. Kaplan-Meier curves of
time to first MCID, censored at the last observation, follow Areerak 2018.
Censoring by self-discharge is likely informative (patients who feel
better, or who give up, stop coming): read the curves as a description of
the clinic's records, not of what would have happened with continued care.

The estimates come from statsmodels (``SurvfuncRight``, ``survdiff``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.duration.survfunc import SurvfuncRight, survdiff

_KM_COLUMNS = ["time", "at_risk", "events", "survival", "std_error", "share_responded", "ci_lower", "ci_upper"]


def _survival_frame(data: pd.DataFrame, time: str, event: str, by: str | None) -> pd.DataFrame:
    """Checked copy of the time, event (and ``by``) columns, rows with missing values dropped."""
    if not isinstance(data, pd.DataFrame):
        raise ValueError(f"`data` must be a DataFrame, got {type(data).__name__!r}")
    for parameter, column in (("time", time), ("event", event), ("by", by)):
        if column is not None and column not in data.columns:
            raise ValueError(f"`{parameter}` column {column!r} is not in `data`; its columns are {list(data.columns)}")
    columns = [time, event] if by is None else [by, time, event]
    frame = data[columns].dropna()
    if not pd.api.types.is_numeric_dtype(frame[time]) or pd.api.types.is_bool_dtype(frame[time]):
        raise ValueError(f"`time` column {time!r} must be numeric, got dtype {str(data[time].dtype)!r}")
    times = frame[time].to_numpy(dtype=float)
    if (times < 0).any():
        raise ValueError(f"`time` column {time!r} has negative values, e.g. {float(times[times < 0][0])!r}")
    try:
        values = frame[event].to_numpy(dtype=float)
    except (TypeError, ValueError):
        values = np.full(len(frame), np.nan)
    bad = ~np.isin(values, [0.0, 1.0])
    if bad.any():
        example = frame[event].to_numpy()[bad][0]
        raise ValueError(f"`event` column {event!r} must be True/False (or 1/0), got {example!r}")
    return frame.assign(**{time: times, event: values.astype(bool)})


def _groups(frame: pd.DataFrame, by: str | None):
    if by is None:
        return [((), frame)]
    return [((key,), part) for key, part in frame.groupby(by, observed=True, sort=True)]


def _cluster_labels(data: pd.DataFrame, frame: pd.DataFrame, cluster: str) -> np.ndarray:
    """Integer codes of ``data[cluster]`` for the rows kept in ``frame``; a missing value is a cluster of its own."""
    if cluster not in data.columns:
        raise ValueError(f"`cluster` column {cluster!r} is not in `data`; its columns are {list(data.columns)}")
    codes = pd.factorize(data.loc[frame.index, cluster])[0]
    alone = codes < 0
    codes[alone] = codes.max(initial=-1) + 1 + np.arange(alone.sum())
    return codes


def _clustered_variance(times, events, clusters, grid, survival) -> np.ndarray:
    """Variance of Kaplan-Meier survival at ``grid`` (event times), robust to correlated rows within a cluster.

    The infinitesimal jackknife (Lin & Wei 1989; R ``survfit(..., cluster=)``):
    the influence of row i on log S(t_k) is
    ``-sum_{t_j <= t_k} (dN_i(t_j) - Y_i(t_j) d_j / Y_j) / (Y_j - d_j)``, and
    ``Var S = S^2 sum_c (sum_{i in c} IF_i)^2``. Summed over single rows the
    squares give Greenwood's formula exactly (the cross-products of one row
    over two times cancel in the risk set), so only the cross-products of
    rows of one cluster are added to it, on the rows of clusters with more
    than one (vectorised over those rows only).
    """
    at_risk = len(times) - np.searchsorted(np.sort(times), grid, side="left")
    deaths = np.bincount(np.searchsorted(grid, times[events]), minlength=len(grid))[: len(grid)]
    left = at_risk - deaths
    with np.errstate(divide="ignore", invalid="ignore"):
        greenwood = np.cumsum(np.where(left > 0, deaths / (at_risk * left), np.inf))
        step = np.where(left > 0, deaths / at_risk / left, np.nan)  # h_j / (Y_j - d_j)
    codes, sizes = np.unique(clusters, return_inverse=True, return_counts=True)[1:]
    shared = sizes[codes] > 1
    cross = np.zeros(len(grid))
    if shared.any():
        t, e, c = times[shared], events[shared], codes[shared]
        # IF_i(t_k) = -[event at T_i <= t_k] / (Y - d at T_i) + sum_{t_j <= min(t_k, T_i)} h_j / (Y_j - d_j)
        before = grid[None, :] <= t[:, None]  # at risk at t_j (t_j <= T_i)
        cumulative = np.cumsum(np.where(before, step[None, :], 0.0), axis=1)
        own = np.searchsorted(grid, t)
        jump = np.zeros_like(cumulative)
        rows = np.flatnonzero(e & (own < len(grid)))
        with np.errstate(divide="ignore", invalid="ignore"):
            jump[rows, own[rows]] = 1.0 / left[own[rows]]
        influence = np.cumsum(jump, axis=1) * -1.0 + cumulative
        _, group_of = np.unique(c, return_inverse=True)
        summed = np.zeros((group_of.max() + 1, len(grid)))
        np.add.at(summed, group_of, influence)
        cross = (summed**2).sum(axis=0) - (influence**2).sum(axis=0)
    with np.errstate(invalid="ignore"):  # 0 x inf where everyone left at risk has responded: NaN, as returned
        variance = survival**2 * (greenwood + cross)
    return np.where(survival > 0, variance, np.nan)


def kaplan_meier(
    data: pd.DataFrame,
    *,
    time: str = "days",
    event: str = "event",
    by: str | None = None,
    confidence: float = 0.95,
    cluster: str | None = None,
) -> pd.DataFrame:
    """Kaplan-Meier estimate of the share responded over time, overall or by group.

    Survival here is the share *not yet responded*; ``share_responded`` is
    its complement (the cumulative incidence of response when censoring is
    independent). Standard errors are Greenwood's. The pointwise bands use
    the log(-log) transform (Kalbfleisch & Prentice; Stata's ``sts list``
    and SAS ``PROC LIFETEST`` default, R's ``conf.type="log-log"``): with
    ``v = se / (S |log S|)``, survival lies in
    ``[S ** exp(z v), S ** exp(-z v)]`` and share responded in one minus
    that. Bands are 0 to 0 while survival is 1, and missing once it reaches
    0 (no standard error there).

    Parameters
    ----------
    data : DataFrame
        One row per subject, e.g. :func:`~needling_analytics.metrics.time_to_response`. Rows with a
        missing time, event or ``by`` value are left out.
    time : str
        Time to the event or to censoring (any unit, >= 0).
    event : str
        True (or 1) when the event happened at ``time``, False (or 0) when
        censored there.
    by : str, optional
        Estimate a curve per value of this column (in sorted order).
    confidence : float
        Level of the pointwise bands.
    cluster : str, optional
        Rows sharing a value (e.g. ``"patient_id"``: a patient's several
        courses of care) are not independent: the standard error is then
        the cluster-robust infinitesimal-jackknife one (Lin & Wei 1989, as
        R's ``survfit(..., cluster=)``), which equals Greenwood's when every
        cluster has one row. A missing value is a cluster of its own.
        ``attrs["clustered_by"]`` names it.

    Returns
    -------
    DataFrame
        Per group (the ``by`` column first when given), a row at time 0
        and one per distinct event time: ``time`` (unit of the input),
        ``at_risk`` (subjects still under observation just before it),
        ``events`` (at that time), ``survival`` (share not yet responded,
        0-1), ``std_error`` (Greenwood SE of survival, or its cluster-robust
        version with ``cluster``), ``share_responded``
        (1 - survival), ``ci_lower``, ``ci_upper`` (bands for share_responded).
    """
    if not 0 < confidence < 1:
        raise ValueError(f"`confidence` must be between 0 and 1, got {confidence!r}")
    frame = _survival_frame(data, time, event, by)
    if cluster is not None:
        frame["_cluster"] = _cluster_labels(data, frame, cluster)
    z = stats.norm.ppf(0.5 + confidence / 2)
    keys = [] if by is None else [by]
    parts = []
    for key, part in _groups(frame, by):
        if part.empty:
            continue
        fit = SurvfuncRight(part[time].to_numpy(), part[event].to_numpy(dtype=float))
        table = pd.DataFrame(
            {
                "time": np.asarray(fit.surv_times, dtype=float),
                "at_risk": np.asarray(fit.n_risk, dtype=np.int64),
                "events": np.asarray(fit.n_events, dtype=np.int64),
                "survival": np.asarray(fit.surv_prob, dtype=float),
                "std_error": np.asarray(fit.surv_prob_se, dtype=float),
            }
        )
        if cluster is not None and len(table):
            table["std_error"] = np.sqrt(
                _clustered_variance(
                    part[time].to_numpy(dtype=float),
                    part[event].to_numpy(dtype=bool),
                    part["_cluster"].to_numpy(),
                    table["time"].to_numpy(),
                    table["survival"].to_numpy(),
                )
            )
        if table.empty or table["time"].iloc[0] > 0:
            start = pd.DataFrame(
                {"time": [0.0], "at_risk": [len(part)], "events": [0], "survival": [1.0], "std_error": [0.0]}
            )
            table = pd.concat([start, table], ignore_index=True)
        for name, value in zip(keys, key, strict=True):
            table.insert(0, name, value)
        parts.append(table)
    if not parts:
        return pd.DataFrame(
            {
                **{k: pd.Series(dtype=frame[k].dtype) for k in keys},
                **{c: pd.Series(dtype="float64") for c in _KM_COLUMNS},
            }
        )
    out = pd.concat(parts, ignore_index=True)
    s = out["survival"].to_numpy()
    se = out["std_error"].to_numpy()
    inside = (s > 0) & (s < 1) & np.isfinite(se)
    with np.errstate(divide="ignore", invalid="ignore"):
        v = np.where(inside, se / (s * np.abs(np.log(s))), np.nan)
        surv_lower = s ** np.exp(z * v)
        surv_upper = s ** np.exp(-z * v)
    out["share_responded"] = 1.0 - s
    out["ci_lower"] = np.where(s == 1, 0.0, 1.0 - surv_upper)
    out["ci_upper"] = np.where(s == 1, 0.0, 1.0 - surv_lower)
    out = out.astype({"at_risk": "int64", "events": "int64"})
    out = out[[*keys, *_KM_COLUMNS]]
    out.attrs["clustered_by"] = cluster
    return out


def logrank_test(data: pd.DataFrame, *, time: str = "days", event: str = "event", by: str) -> pd.DataFrame:
    """Log-rank test that the time-to-event curves of all groups are equal.

    Parameters
    ----------
    data : DataFrame
        One row per subject, e.g. :func:`~needling_analytics.metrics.time_to_response` with a group
        column added. Rows with a missing time, event or ``by`` value are left out.
    time, event : str
        As in :func:`kaplan_meier`.
    by : str
        The column whose values are compared (two or more groups).

    Returns
    -------
    DataFrame
        One row: ``statistic`` (log-rank chi-square), ``df`` (degrees of
        freedom, groups - 1), ``p_value``, ``groups`` (number of groups
        compared). Statistic and p-value are missing when there are no
        events at all (nothing to compare).
    """
    frame = _survival_frame(data, time, event, by)
    n_groups = int(frame[by].nunique())
    if n_groups < 2:
        raise ValueError(
            f"`by` column {by!r} has {n_groups} group(s) with complete rows; the log-rank test compares 2 or more"
        )
    labels = (
        frame[by].astype(str).to_numpy(dtype=object)
        if not pd.api.types.is_numeric_dtype(frame[by])
        else frame[by].to_numpy()
    )
    if frame[event].any():
        statistic, p_value = survdiff(frame[time].to_numpy(), frame[event].to_numpy(dtype=float), labels)
    else:
        statistic, p_value = np.nan, np.nan
    return pd.DataFrame(
        {"statistic": [float(statistic)], "df": [n_groups - 1], "p_value": [float(p_value)], "groups": [n_groups]}
    )


def median_time(
    data: pd.DataFrame,
    *,
    time: str = "days",
    event: str = "event",
    by: str | None = None,
    confidence: float = 0.95,
    cluster: str | None = None,
) -> pd.DataFrame:
    """Median time to the event from the Kaplan-Meier curve, overall or by group.

    The median is the first event time at which survival falls below 0.5
    (the SAS convention; statsmodels ``SurvfuncRight.quantile``); it is
    missing when fewer than half of the subjects had the event. Its
    interval inverts log(-log) tests at each event time (Brookmeyer &
    Crowley 1982, as SAS ``PROC LIFETEST``): the upper bound is missing
    (unbounded) when the curve does not fall far enough. With ``cluster``
    (e.g. ``"patient_id"``) the tests use the cluster-robust standard error
    of :func:`kaplan_meier`.

    Parameters
    ----------
    data : DataFrame
        One row per subject, e.g. :func:`~needling_analytics.metrics.time_to_response`.
        Rows with a missing time, event or ``by`` value are left out.
    time, event, by, confidence, cluster
        As in :func:`kaplan_meier`.

    Returns
    -------
    DataFrame
        One row per group (the ``by`` column first when given):
        ``subjects``, ``events``, ``median`` (time unit of the input),
        ``ci_lower``, ``ci_upper``.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"`confidence` must be between 0 and 1, got {confidence!r}")
    frame = _survival_frame(data, time, event, by)
    if cluster is not None:
        frame["_cluster"] = _cluster_labels(data, frame, cluster)
    keys = [] if by is None else [by]
    rows = []
    for key, part in _groups(frame, by):
        if part.empty:
            continue
        fit = SurvfuncRight(part[time].to_numpy(), part[event].to_numpy(dtype=float))
        if cluster is not None and len(fit.surv_times):
            fit.surv_prob_se = np.sqrt(_clustered_variance(
                part[time].to_numpy(dtype=float), part[event].to_numpy(dtype=bool), part["_cluster"].to_numpy(),
                np.asarray(fit.surv_times, dtype=float), np.asarray(fit.surv_prob, dtype=float),
            ))  # fmt: skip
        median, lower, upper = np.nan, np.nan, np.nan
        if part[event].any():
            with np.errstate(
                divide="ignore", invalid="ignore"
            ):  # log(0) at survival 1 or 0: those times are not in the interval
                median = fit.quantile(0.5)
                lower, upper = fit.quantile_ci(0.5, alpha=1 - confidence, method="cloglog")
        upper = np.nan if np.isinf(upper) else upper
        rows.append(
            {
                **dict(zip(keys, key, strict=True)),
                "subjects": len(part),
                "events": int(part[event].sum()),
                "median": median,
                "ci_lower": lower,
                "ci_upper": upper,
            }
        )
    columns = [*keys, "subjects", "events", "median", "ci_lower", "ci_upper"]
    out = pd.DataFrame(rows, columns=columns)
    return out.astype(
        {"subjects": "int64", "events": "int64", "median": "float64", "ci_lower": "float64", "ci_upper": "float64"}
    )
