"""Pain (NPRS 0-10): per session, per episode, responders and the responder curve.

Definitions (see ``docs/metrics.md``):

- *baseline*: the first recorded ``pain_pre`` of an attended session of the
  episode; *latest*: the last recorded ``pain_pre`` of a **later** attended
  session (missing, never zero, when there is none).
- *reduction* = baseline - latest (points, positive is better);
  *pct_reduction* = 100 x reduction / baseline (missing when baseline is 0).
- A *responder* meets the :class:`ResponderRule`; by default a reduction of
  at least 2 points **and** at least 30% (Farrar 2001, Pain 94:149; Childs
  2005, Spine 30:1331). An episode whose baseline makes the rule
  unreachable is "cannot be assessed", never a non-responder.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
import pandas as pd

from ._common import attended_sessions, clopper_pearson

#: Small tolerance so that 30% computed in floating point counts as 30%.
_EPS = 1e-9


@dataclass(frozen=True)
class ResponderRule:
    """What counts as a clinically important improvement in pain.

    Parameters
    ----------
    abs_threshold : float
        Least reduction in points (default 2: Farrar 2001; Childs 2005).
    pct_threshold : float
        Least reduction in percent of baseline, 30 meaning 30% (default 30:
        Farrar 2001; IMMPACT, Dworkin 2008, calls >= 30% moderate).
    require : {"both", "either"}
        Whether both thresholds must be met, or either one.
    min_baseline : float
        Episodes with a lower baseline are not assessed (default 0: only
        those for which the rule is unreachable are excluded).
    """

    abs_threshold: float = 2.0
    pct_threshold: float = 30.0
    require: Literal["both", "either"] = "both"
    min_baseline: float = 0.0

    def __post_init__(self):
        if self.require not in ("both", "either"):
            raise ValueError(f"`require` must be 'both' or 'either', got {self.require!r}")
        if not self.abs_threshold >= 0:
            raise ValueError(f"`abs_threshold` must be zero or more points, got {self.abs_threshold!r}")
        if not 0 <= self.pct_threshold <= 100:
            raise ValueError(
                f"`pct_threshold` is a percentage from 0 to 100 (30 means 30%), got {self.pct_threshold!r}"
            )
        if not self.min_baseline >= 0:
            raise ValueError(f"`min_baseline` must be zero or more points, got {self.min_baseline!r}")

    def describe(self) -> str:
        """The rule in words, for reports."""
        joiner = "and" if self.require == "both" else "or"
        text = f"pain down by at least {self.abs_threshold:g} points {joiner} at least {self.pct_threshold:g}% from the first score"
        if self.min_baseline > 0:
            text += f" (episodes starting below {self.min_baseline:g} not assessed)"
        return text

    def to_dict(self) -> dict:
        return asdict(self)

    def reachable(self, baseline) -> np.ndarray:
        """Whether a patient starting at ``baseline`` could meet the rule at all."""
        baseline = np.asarray(baseline, dtype=float)
        can_abs = baseline >= self.abs_threshold - _EPS
        can_pct = baseline > 0
        reach = (can_abs & can_pct) if self.require == "both" else (can_abs | can_pct)
        return reach & (baseline >= self.min_baseline - _EPS)

    def met(self, baseline, later) -> np.ndarray:
        """Whether going from ``baseline`` to ``later`` meets the rule (False where either is missing)."""
        baseline = np.asarray(baseline, dtype=float)
        later = np.asarray(later, dtype=float)
        reduction = baseline - later
        with np.errstate(divide="ignore", invalid="ignore"):
            pct = np.where(baseline > 0, 100.0 * reduction / baseline, np.nan)
        by_abs = reduction >= self.abs_threshold - _EPS
        by_pct = pct >= self.pct_threshold - _EPS
        return (by_abs & by_pct) if self.require == "both" else (by_abs | by_pct)


DEFAULT_RULE = ResponderRule()


def session_pain(clinic) -> pd.DataFrame:
    """Pain before and after every attended session.

    Returns
    -------
    DataFrame
        One row per attended session, in episode order: ``session_id``,
        ``episode_id``, ``patient_id``, ``practitioner_id``,
        ``session_date``, ``session_number``, ``days_since_start``,
        ``weeks_since_start``, ``pain_pre``, ``pain_post``,
        ``immediate_change`` (pain_post - pain_pre, points; negative is
        better; missing when either score is).
    """
    sessions = attended_sessions(clinic)
    sessions["immediate_change"] = sessions["pain_post"] - sessions["pain_pre"]
    columns = [
        "session_id", "episode_id", "patient_id", "practitioner_id", "session_date", "session_number",
        "days_since_start", "weeks_since_start", "pain_pre", "pain_post", "immediate_change",
    ]  # fmt: skip
    return sessions[columns]


def _slopes(scored: pd.DataFrame, n_episodes: int) -> np.ndarray:
    """Least-squares slope of pain_pre per week since start, per episode row."""
    row = scored["episode_row"].to_numpy()
    x = scored["weeks_since_start"].to_numpy(dtype=float)
    y = scored["pain_pre"].to_numpy(dtype=float)
    count = np.bincount(row, minlength=n_episodes).astype(float)
    sx, sy = np.bincount(row, x, n_episodes), np.bincount(row, y, n_episodes)
    sxx, sxy = np.bincount(row, x * x, n_episodes), np.bincount(row, x * y, n_episodes)
    denominator = count * sxx - sx**2
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 1e-12, (count * sxy - sx * sy) / denominator, np.nan)


def episode_pain(clinic, rule: ResponderRule = DEFAULT_RULE) -> pd.DataFrame:
    """Pain outcome of every episode, and whether it responded.

    Parameters
    ----------
    clinic : Clinic
        The loaded clinic (sessions and episodes are used).
    rule : ResponderRule
        The responder definition; recorded in ``DataFrame.attrs["responder_rule"]``.

    Returns
    -------
    DataFrame
        One row per episode of ``clinic.episodes``, in its order:
        ``episode_id``, ``patient_id``, ``n_sessions`` (attended),
        ``n_scored`` (attended with pain_pre), ``baseline``, ``latest``,
        ``baseline_date``, ``latest_date``, ``weeks`` (between them),
        ``reduction`` (baseline - latest, points), ``pct_reduction``
        (percent of baseline), ``slope_per_week`` (least-squares change in
        pain_pre per week since the episode start, points per week; needs
        two scored sessions on different days), ``assessable``,
        ``assessment`` (``responder``, ``not_improved``, or why it cannot be
        assessed: ``no_baseline``, ``no_follow_up``,
        ``baseline_too_low``), ``responder`` (nullable boolean: NA when not
        assessable).
    """
    sessions = attended_sessions(clinic, with_episode_row=True)
    n = len(clinic.episodes)
    sessions = sessions[sessions["episode_row"] < n]
    scored = sessions[sessions["pain_pre"].notna()]
    row = scored["episode_row"].to_numpy()
    is_first = np.r_[True, row[1:] != row[:-1]] if len(row) else np.array([], dtype=bool)
    is_last = np.r_[row[1:] != row[:-1], True] if len(row) else np.array([], dtype=bool)
    first, last = scored[is_first], scored[is_last & ~is_first]

    def per_episode(part: pd.DataFrame, column: str) -> np.ndarray:
        values = part[column].to_numpy()
        out = np.full(
            n,
            np.datetime64("NaT", "ns") if values.dtype.kind == "M" else np.nan,
            dtype=values.dtype if values.dtype.kind == "M" else float,
        )
        out[part["episode_row"].to_numpy()] = values
        return out

    out = clinic.episodes[["episode_id", "patient_id"]].reset_index(drop=True)
    out["n_sessions"] = np.bincount(sessions["episode_row"].to_numpy(), minlength=n).astype("int64")
    out["n_scored"] = np.bincount(row, minlength=n).astype("int64")
    out["baseline"] = per_episode(first, "pain_pre")
    out["latest"] = per_episode(last, "pain_pre")
    out["baseline_date"] = per_episode(first, "session_date")
    out["latest_date"] = per_episode(last, "session_date")
    out["weeks"] = (out["latest_date"] - out["baseline_date"]).dt.days / 7.0
    out["reduction"] = out["baseline"] - out["latest"]
    out["pct_reduction"] = 100.0 * out["reduction"] / out["baseline"].where(out["baseline"] > 0)
    out["slope_per_week"] = _slopes(scored, n)

    reachable = rule.reachable(out["baseline"])
    met = rule.met(out["baseline"], out["latest"])
    assessment = np.select(
        [out["baseline"].isna(), out["latest"].isna(), ~reachable, met],
        ["no_baseline", "no_follow_up", "baseline_too_low", "responder"],
        default="not_improved",
    )
    out["assessable"] = np.isin(assessment, ["responder", "not_improved"])
    out["assessment"] = pd.Series(assessment, index=out.index, dtype="string")
    out["responder"] = pd.array(np.where(out["assessable"], assessment == "responder", None), dtype="boolean")
    out.attrs["responder_rule"] = rule.to_dict()
    return out


def summarize_responders(
    episodes: pd.DataFrame, *, by: str | list[str] | None = None, confidence: float = 0.95
) -> pd.DataFrame:
    """Responder rate with an exact confidence interval, overall or by group.

    Parameters
    ----------
    episodes : DataFrame
        The output of :func:`episode_pain` (other columns may be added for ``by``).
    by : column name(s), optional
        Group the summary, e.g. by ``practitioner_id`` or ``body_region``.

    Returns
    -------
    DataFrame
        One row per group (one row when ``by`` is None): the ``by``
        columns, ``episodes``, ``assessable``, ``responders``,
        ``responder_rate`` (of assessable), ``ci_lower``, ``ci_upper``
        (Clopper-Pearson), ``no_baseline``, ``no_follow_up``,
        ``baseline_too_low``.
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
    table["ci_lower"], table["ci_upper"] = clopper_pearson(
        table["responders"], table["assessable"], confidence=confidence
    )
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
    ]
    table = table[columns].astype(
        {
            c: "int64"
            for c in ["episodes", "assessable", "responders", "no_baseline", "no_follow_up", "baseline_too_low"]
        }
    )
    table.attrs["responder_rule"] = episodes.attrs.get("responder_rule")
    return table.reset_index(drop=True)


def responder_curve(episodes: pd.DataFrame, thresholds=None) -> pd.DataFrame:
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
    below = np.searchsorted(pct, thresholds - _EPS, side="left")
    improved = n - below
    with np.errstate(divide="ignore", invalid="ignore"):
        share = improved / n if n else np.full(len(thresholds), np.nan)
    return pd.DataFrame(
        {"threshold_pct": thresholds, "episodes": n, "improved": improved.astype("int64"), "share": share}
    )
