"""A proportion's exact interval when some patients have several courses of care (clustered by patient).

Two courses of care of one patient are not independent: a patient who did
well once tends to do well again. Treating them as independent makes the
interval too narrow. The interval here is the Korn & Graubard (1998,
Survey Methodology 24:193) version of Clopper-Pearson for clustered data:

- the proportion is a ratio estimator, p = sum_i w_i y_i / sum_i w_i over
  courses i (w = 1 unless weighted), with patients as clusters;
- its variance is the linearised (Taylor) ratio variance,
  v = C / (C - 1) x sum_g (sum_{i in g} w_i (y_i - p))^2 / (sum_i w_i)^2
  over the C patients g;
- the design effect is deff = v / (p (1 - p) / (n - 1)), the variance
  against that of n independent courses estimated the same way (the
  simple-random-sampling variance with n - 1, as SAS PROC SURVEYFREQ uses);
  it is never taken below 1, and is 1 when p is 0 or 1;
- the effective sample size is n* = n / deff x (t_{n-1} / t_{C-1})^2 (the
  degrees-of-freedom correction, quantiles at 1 - alpha/2), and the
  interval is Clopper-Pearson with p n* events in n* trials
  (``scipy.stats.beta`` takes non-whole numbers).

With one course per patient, C = n and deff = 1 exactly, so n* = n and the
interval is the ordinary Clopper-Pearson one. With a single patient (C = 1)
and more than one course nothing can be said about patients in general: the
interval is 0 to 1.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

CLUSTER_COLUMNS = ["events", "trials", "clusters", "design_effect", "effective_n", "ci_lower", "ci_upper"]


def clustered_interval(
    frame: pd.DataFrame,
    *,
    keys: list[str],
    cluster: str,
    event: str,
    weight: str | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Korn-Graubard interval of a proportion per group, clustered by ``cluster``.

    Parameters
    ----------
    frame : DataFrame
        One row per unit counted (e.g. an assessed course of care): the
        ``keys``, the ``cluster`` (e.g. ``patient_id``; a missing ID is its
        own cluster), ``event`` (0/1 or bool) and optionally ``weight``.
    keys : list of str
        Group columns (empty: one row for the whole frame).

    Returns
    -------
    DataFrame
        One row per group (sorted by ``keys``): the ``keys``, ``events``
        (weighted sum when weighted), ``trials`` (rows), ``clusters``
        (distinct clusters), ``design_effect`` (at least 1),
        ``effective_n`` (n*), ``ci_lower``, ``ci_upper`` (proportions;
        NaN when the group has no rows).
    """
    from scipy import stats  # imported here: scipy.stats costs about a second to import

    if not 0 < confidence < 1:
        raise ValueError(f"`confidence` must be between 0 and 1, got {confidence!r}")
    y = frame[event].astype("float64").to_numpy()
    w = np.ones(len(frame)) if weight is None else frame[weight].astype("float64").to_numpy()
    ids = frame[cluster].astype("object")
    missing = ids.isna().to_numpy()
    ids = ids.where(~missing, pd.Series([("__row__", i) for i in range(len(frame))], index=frame.index, dtype=object))
    group = (
        frame.groupby(keys, observed=True, sort=True, dropna=False).ngroup().to_numpy()
        if keys
        else np.zeros(len(frame), dtype=int)
    )
    units = pd.DataFrame({"_g": group, "_c": pd.factorize(ids)[0], "_w": w, "_wy": w * y, "_n": 1})
    per_group = units.groupby("_g", sort=True)[["_w", "_wy", "_n"]].sum()
    p = per_group["_wy"] / per_group["_w"]
    per_cluster = units.groupby(["_g", "_c"], sort=True)[["_w", "_wy", "_n"]].sum().reset_index()
    p_cluster = p.reindex(per_cluster["_g"]).to_numpy()
    per_cluster["_r2"] = (per_cluster["_wy"] - p_cluster * per_cluster["_w"]) ** 2
    by = per_cluster.groupby("_g", sort=True)
    clusters = by.size().reindex(per_group.index).to_numpy(dtype=float)
    resid = by["_r2"].sum().reindex(per_group.index).to_numpy()
    singletons = (by["_n"].max().reindex(per_group.index) == 1).to_numpy()
    n = per_group["_n"].to_numpy(dtype=float)
    total_w = per_group["_w"].to_numpy()
    p = p.to_numpy()
    alpha = 1.0 - confidence
    with np.errstate(divide="ignore", invalid="ignore"):
        variance = clusters / (clusters - 1) * resid / total_w**2
        srs = p * (1 - p) / (n - 1)
        deff = np.where((p > 0) & (p < 1) & (srs > 0), variance / srs, 1.0)
        deff = np.maximum(np.nan_to_num(deff, nan=1.0, posinf=1.0), 1.0)
        # one course per patient, unweighted: deff is 1 and C = n in exact arithmetic; make it exact
        plain = singletons & (weight is None)
        deff = np.where(plain, 1.0, deff)
        df_ratio = np.where(
            (n > 1) & (clusters >= 2),
            (stats.t.ppf(1 - alpha / 2, n - 1) / stats.t.ppf(1 - alpha / 2, clusters - 1)) ** 2,
            np.where(n > 1, 0.0, 1.0),
        )
        df_ratio = np.where(plain, 1.0, df_ratio)
        n_eff = np.minimum(n / deff * df_ratio, n)
        x_eff = np.where(plain, per_group["_wy"].to_numpy(), p * n_eff)
        lower = np.where(x_eff > 0, stats.beta.ppf(alpha / 2, x_eff, n_eff - x_eff + 1), 0.0)
        upper = np.where(x_eff < n_eff, stats.beta.ppf(1 - alpha / 2, x_eff + 1, n_eff - x_eff), 1.0)
    no_info = n_eff <= 0  # several courses of a single patient: nothing is known about other patients
    lower, upper = np.where(no_info, 0.0, lower), np.where(no_info, 1.0, upper)
    if keys:
        out = frame[keys].assign(_g=group).drop_duplicates("_g").sort_values("_g")
        out = out.set_index("_g").reindex(per_group.index).reset_index(drop=True)
    else:
        out = pd.DataFrame(index=range(len(per_group)))
    values = {
        "events": per_group["_wy"].to_numpy(),
        "trials": n,
        "clusters": clusters,
        "design_effect": deff,
        "effective_n": n_eff,
        "ci_lower": lower,
        "ci_upper": upper,
    }
    for column, array in values.items():
        out[column] = array
    return out
