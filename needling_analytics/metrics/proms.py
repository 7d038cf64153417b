"""Questionnaires (PROMs): change per episode and instrument, and the share reaching the MCID.

Definitions (see ``docs/metrics.md``):

- *Baseline*: the episode's first score on the instrument, by
  ``completed_on`` then the table's row order; *latest*: the last score on a
  **later day** (missing, never zero, when there is none). Rows without a
  score are ignored.
- *Change* = latest - baseline, in the instrument's units. *Improvement* is
  the change signed so that positive is better: -change for NDI, ODI and
  QuickDASH (lower is better), +change for PSFS and LEFS.
- *Reached the MCID*: improvement >= max(MCID, MDC) (Young 2009; Ostelo 2008; Abbott &
  Schmitt 2014; Binkley 1999; van Kampen 2013; see
  :func:`~.norms.instrument_table`). Where the MCID lies inside the
  instrument's measurement error (NDI: MCID 7.5, MDC 10.2; QuickDASH: 13.4
  and 17.1) the MDC is the threshold, as for range of motion; ODI and PSFS
  have no MDC in the sources used, so their MCID stands alone. An episode whose baseline leaves less
  room than the MCID in the better direction cannot reach it and is "cannot
  be assessed", never "not reached"; so is the unknown instrument
  ``other``, which has no MCID.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..clinic import Clinic
from ..schema import INSTRUMENTS
from ._clustered import clustered_interval
from .norms import resolve_instruments

#: Tolerance so that an improvement equal to the MCID in floating point reaches it.
_EPS = 1e-9
#: Ostelo 2008: a 30% improvement from baseline is the relative MCID of the ODI.
ODI_PERCENT_MCID = 30.0

COLUMNS = [
    "episode_id", "patient_id", "instrument", "n_scores", "baseline_date", "latest_date", "baseline_score",
    "latest_score", "change", "better", "improvement", "pct_improvement", "mcid", "assessable", "assessment",
    "reached_mcid",
]  # fmt: skip
ASSESSMENTS = ("reached_mcid", "not_reached_mcid", "no_follow_up", "too_little_room", "no_mcid")


def _instrument_definitions(instruments) -> tuple[pd.DataFrame, list[str] | None]:
    """The instrument table to use and the instruments to keep (None: all)."""
    if instruments is None or isinstance(instruments, pd.DataFrame):
        return resolve_instruments(instruments), None
    if isinstance(instruments, str):
        names = [instruments]
    elif isinstance(instruments, list | tuple | set | pd.Index | pd.Series | np.ndarray):
        names = list(instruments)
    else:
        raise ValueError(
            "`instruments` must be a DataFrame with an `instrument` column (or a list of names), "
            f"got {type(instruments).__name__!r}"
        )
    unknown = [name for name in names if name not in INSTRUMENTS]
    if unknown:
        raise ValueError(f"`instruments` has unknown instrument {unknown[0]!r}; allowed: {list(INSTRUMENTS)}")
    return resolve_instruments(None), names


def prom_change(clinic: Clinic, *, instruments=None, odi_threshold: str = "points") -> pd.DataFrame:
    """Change in every questionnaire of every episode, and whether it reached the MCID.

    Parameters
    ----------
    clinic : Clinic
        The loaded clinic (``proms`` is used).
    instruments : list of str or DataFrame, optional
        A list of instrument names keeps only those instruments. A
        DataFrame with ``instrument`` and any of ``better``, ``scale_min``,
        ``scale_max``, ``mcid``, ``mdc`` overrides their definitions in
        :func:`~.norms.instrument_table` (e.g. NDI ``mcid=10``, the MDC the
        authors of Young 2009 advise using as the MCID).
    odi_threshold : {"points", "percent"}
        ODI's MCID: 10 points (default) or 30% of the baseline score (Ostelo
        2008 allows either).

    Returns
    -------
    DataFrame
        One row per episode and instrument with at least one score, sorted
        by episode then instrument:

        - ``episode_id``, ``patient_id``, ``instrument``, ``n_scores``;
        - ``baseline_date``, ``latest_date``; ``baseline_score``,
          ``latest_score`` (instrument points; latest missing without a
          score on a later day);
        - ``change``: latest - baseline, instrument points;
        - ``better``: ``"lower"`` or ``"higher"`` (missing for ``other``);
        - ``improvement``: change signed so that positive is better,
          instrument points (missing for ``other``);
        - ``pct_improvement``: 100 x improvement / the room for improvement
          at baseline (baseline - best score when lower is better, best -
          baseline when higher is better), percent; for NDI, ODI and
          QuickDASH (best = 0) this is the percent of the baseline score;
          missing when the baseline is already the best score or for
          ``other``;
        - ``mcid``: the threshold applied, instrument points: the larger of
          the instrument's MCID and its MDC (where an MDC is known: NDI
          10.2, QuickDASH 17.1, LEFS 9), so that a change inside
          measurement error never counts as important (for ODI with
          ``odi_threshold="percent"``, 30% of the baseline);
        - ``assessable`` (bool) and ``assessment``: ``reached_mcid``,
          ``not_reached_mcid``, or why it cannot be assessed:
          ``no_mcid`` (``other``), ``no_follow_up``, ``too_little_room``
          (the baseline is closer to the best score than the MCID);
        - ``reached_mcid`` (nullable boolean): improvement >= ``mcid``
          (the larger of MCID and MDC); NA when not assessable.

        ``attrs`` record ``odi_threshold`` and the instrument table used.

    Examples
    --------
    >>> from needling_analytics.demo import generate_clinic
    >>> from needling_analytics.clinic import Clinic
    >>> changes = prom_change(Clinic.from_frames(**generate_clinic(n_patients=50, seed=1)))
    >>> set(changes["assessment"]) <= {"reached_mcid", "not_reached_mcid", "no_follow_up", "too_little_room", "no_mcid"}
    True
    """
    if odi_threshold not in ("points", "percent"):
        raise ValueError(f"`odi_threshold` must be 'points' or 'percent', got {odi_threshold!r}")
    table, keep = _instrument_definitions(instruments)

    proms = clinic.proms
    usable = proms["score"].notna() & proms["completed_on"].notna() & proms["instrument"].notna()
    if keep is not None:
        usable &= proms["instrument"].isin(keep)
    scores = proms.loc[usable, ["episode_id", "patient_id", "instrument", "completed_on", "score"]].reset_index(
        drop=True
    )
    scores["_row"] = np.arange(len(scores))
    scores = scores.sort_values(["episode_id", "instrument", "completed_on", "_row"], kind="stable").reset_index(
        drop=True
    )

    n = len(scores)
    key_changes = (
        scores["episode_id"].to_numpy(dtype=object)[1:] != scores["episode_id"].to_numpy(dtype=object)[:-1]
    ) | (scores["instrument"].to_numpy(dtype=object)[1:] != scores["instrument"].to_numpy(dtype=object)[:-1])
    first = np.flatnonzero(np.r_[True, key_changes]) if n else np.zeros(0, dtype=int)
    group = np.cumsum(np.r_[True, key_changes]) - 1 if n else np.zeros(0, dtype=int)
    dates = scores["completed_on"].to_numpy()
    later = np.flatnonzero(dates > dates[first][group])
    last_later = later[np.r_[group[later][1:] != group[later][:-1], True]] if len(later) else later
    latest = np.full(len(first), -1)
    latest[group[last_later]] = last_later
    has_latest = latest >= 0
    take = np.where(has_latest, latest, 0)

    out = scores.loc[first, ["episode_id", "patient_id", "instrument"]].reset_index(drop=True)
    out["n_scores"] = np.bincount(group, minlength=len(first)).astype("int64")
    out["baseline_date"] = dates[first]
    out["latest_date"] = pd.to_datetime(np.where(has_latest, dates[take] if n else dates, np.datetime64("NaT")))
    score = scores["score"].to_numpy(dtype="float64")
    out["baseline_score"] = score[first]
    out["latest_score"] = np.where(has_latest, score[take] if n else score, np.nan)
    out["change"] = out["latest_score"] - out["baseline_score"]

    definitions = table.set_index("instrument").reindex(out["instrument"].astype(str).to_numpy())
    better = definitions["better"].to_numpy(dtype=object, na_value=None)
    sign = np.select([better == "lower", better == "higher"], [-1.0, 1.0], default=np.nan)
    out["better"] = pd.array(better, dtype="string")
    out["improvement"] = sign * out["change"]
    best = np.where(better == "lower", definitions["scale_min"], definitions["scale_max"]).astype(float)
    room = sign * (best - out["baseline_score"].to_numpy())
    with np.errstate(divide="ignore", invalid="ignore"):
        out["pct_improvement"] = np.where(room > 0, 100.0 * out["improvement"] / room, np.nan)

    mcid = definitions["mcid"].to_numpy(dtype="float64")
    if odi_threshold == "percent":
        is_odi = out["instrument"].astype(str).to_numpy() == "ODI"
        mcid = np.where(is_odi, ODI_PERCENT_MCID / 100.0 * room, mcid)
    # an MCID inside the instrument's measurement error (NDI, QuickDASH) is raised to the MDC, as for ROM
    mdc = definitions["mdc"].to_numpy(dtype="float64")
    mcid = np.where(np.isnan(mdc), mcid, np.fmax(mcid, mdc))
    out["mcid"] = mcid
    improvement = out["improvement"].to_numpy()
    reachable = (room >= mcid - _EPS) & (room > 0)
    reached = improvement >= mcid - _EPS
    assessment = np.select(
        [np.isnan(mcid) | np.isnan(sign), ~has_latest, ~reachable, reached],
        ["no_mcid", "no_follow_up", "too_little_room", "reached_mcid"],
        default="not_reached_mcid",
    )
    out["assessable"] = np.isin(assessment, ["reached_mcid", "not_reached_mcid"])
    out["assessment"] = pd.Series(assessment, index=out.index, dtype="string")
    out["reached_mcid"] = pd.array(np.where(out["assessable"], assessment == "reached_mcid", None), dtype="boolean")
    out = out[COLUMNS]
    out.attrs["odi_threshold"] = odi_threshold
    out.attrs["instruments"] = table.to_dict(orient="records")
    return out


def summarize_proms(
    changes: pd.DataFrame, *, by: str | list[str] | None = None, confidence: float = 0.95
) -> pd.DataFrame:
    """Per instrument: how many episodes improved, by how much, and the share reaching the MCID.

    Parameters
    ----------
    changes : DataFrame
        The output of :func:`prom_change` (other columns may be added for ``by``).
    by : column name(s), optional
        Further grouping besides the instrument, e.g. ``practitioner_id``.
    confidence : float
        Level of the Clopper-Pearson interval (default 0.95).

    Returns
    -------
    DataFrame
        One row per group and instrument: the ``by`` columns,
        ``instrument``, ``episodes``, ``with_follow_up`` (a later score),
        ``mean_improvement``, ``median_improvement`` (instrument points,
        positive is better, over episodes with follow-up; NaN when none or
        for ``other``), ``assessable``, ``reached_mcid`` (count),
        ``share_reached_mcid`` (of assessable episodes; NaN when none),
        ``ci_lower``, ``ci_upper`` (exact Clopper-Pearson interval of the
        share, clustered by patient when a patient has several courses of
        care: Korn & Graubard 1998, see :mod:`._clustered`).
    """
    if not 0 < confidence < 1:
        raise ValueError(f"`confidence` must be between 0 and 1, got {confidence!r}")
    extra = [by] if isinstance(by, str) else list(by or [])
    keys = [*dict.fromkeys(k for k in extra if k != "instrument"), "instrument"]
    missing = [
        c for c in [*keys, "latest_score", "improvement", "assessable", "reached_mcid"] if c not in changes.columns
    ]
    if missing:
        raise ValueError(f"`changes` lacks column(s) {missing}; pass the output of prom_change()")
    frame = changes.assign(
        _one=1,
        _follow=changes["latest_score"].notna().astype(int),
        _assessable=changes["assessable"].astype(int),
        _reached=changes["reached_mcid"].fillna(False).astype(int),
        _improvement=changes["improvement"].where(changes["latest_score"].notna()).astype("float64"),
    )
    grouped = frame.groupby(keys, observed=True, sort=True)
    table = grouped[["_one", "_follow", "_assessable", "_reached"]].sum()
    table.columns = ["episodes", "with_follow_up", "assessable", "reached_mcid"]
    table["mean_improvement"] = grouped["_improvement"].mean()
    table["median_improvement"] = grouped["_improvement"].median()
    table = table.reset_index()
    with np.errstate(divide="ignore", invalid="ignore"):
        table["share_reached_mcid"] = table["reached_mcid"] / table["assessable"].where(table["assessable"] > 0)
    assessed = frame[frame["_assessable"] == 1]
    intervals = clustered_interval(assessed, keys=keys, cluster="patient_id", event="_reached", confidence=confidence)
    table = table.merge(intervals[[*keys, "ci_lower", "ci_upper"]], on=keys, how="left")
    counts = ["episodes", "with_follow_up", "assessable", "reached_mcid"]
    columns = [
        *keys,
        "episodes",
        "with_follow_up",
        "mean_improvement",
        "median_improvement",
        "assessable",
        "reached_mcid",
        "share_reached_mcid",
        "ci_lower",
        "ci_upper",
    ]
    table = table[columns].astype({c: "int64" for c in counts})
    table.attrs["odi_threshold"] = changes.attrs.get("odi_threshold")
    return table.reset_index(drop=True)
