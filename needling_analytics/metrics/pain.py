"""Pain (NPRS 0-10): per session, per episode, responders and the responder curve.

Definitions (see ``docs/metrics.md``):

- *baseline*: the first recorded ``pain_pre`` of an attended session of the
  episode; *latest*: the last pain reading after it (missing, never zero,
  when there is none). Readings are the ``pain_pre`` of attended sessions
  and the ``pain`` of follow-up ``assessments`` (on their date, counted
  only when dated after the baseline session's day); see
  :func:`pain_readings`.
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

from ._clustered import clustered_interval
from ._common import attended_sessions, positions

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


READING_COLUMNS = [
    "episode_id", "patient_id", "date", "days_since_start", "weeks_since_start", "pain", "source",
    "session_id", "session_number", "episode_row", "follow_up",
]  # fmt: skip


def pain_readings(clinic) -> pd.DataFrame:
    """Every pain reading of every episode: session ``pain_pre`` and follow-up assessment ``pain``.

    The course's pain outcome is read from two places: the pain before
    needling at attended sessions, and the pain of follow-up
    ``assessments`` outside the sessions (a phone call at week 2, a
    questionnaire at week 4). An assessment's pain is a reading on its date.
    Vectorised: one sort over all readings, no loop per patient.

    Order within an episode: by date; on one day sessions come first (in
    their order: time, then ID), then assessments (in table order).

    Returns
    -------
    DataFrame
        One row per reading with a pain score, of episodes in
        ``clinic.episodes``, in episode order (then reading order):
        ``episode_id``, ``patient_id``, ``date``, ``days_since_start``,
        ``weeks_since_start``, ``pain`` (NPRS points), ``source``
        (``session`` or ``assessment``), ``session_id`` (missing for an
        assessment), ``session_number`` (for a session, its number among
        the attended sessions; for an assessment, the attended sessions up
        to and including its date), ``episode_row`` (position of the
        episode in ``clinic.episodes``), ``follow_up`` (True for a reading
        that can be the episode's *latest*: after the baseline session in
        this order and, for an assessment, dated after the baseline's day).
    """
    n = len(clinic.episodes)
    sessions = attended_sessions(clinic, with_episode_row=True)
    sessions = sessions[sessions["episode_row"] < n]
    session_rows = sessions["episode_row"].to_numpy()
    session_days = sessions["session_date"].to_numpy(dtype="datetime64[D]").astype("int64")
    scored = sessions[sessions["pain_pre"].notna()]
    parts = [
        pd.DataFrame(
            {
                "episode_id": scored["episode_id"].to_numpy(),
                "patient_id": scored["patient_id"].to_numpy(),
                "date": scored["session_date"].to_numpy(dtype="datetime64[ns]"),
                "pain": scored["pain_pre"].to_numpy(dtype=float),
                "source": "session",
                "session_id": scored["session_id"].to_numpy(),
                "session_number": scored["session_number"].to_numpy(dtype="int64"),
                "episode_row": scored["episode_row"].to_numpy(dtype="int64"),
                "_rank": 0,
                "_within": np.arange(len(scored), dtype="int64"),
            }
        )
    ]
    assessments = clinic.tables.get("assessments")
    if assessments is not None and len(assessments):
        row = positions(assessments["episode_id"], clinic.episodes["episode_id"])
        keep = (row >= 0) & assessments["pain"].notna().to_numpy() & assessments["assessed_on"].notna().to_numpy()
        kept = assessments[keep]
        row = row[keep]
        days = kept["assessed_on"].to_numpy(dtype="datetime64[D]").astype("int64")
        # attended sessions of the episode dated on or before the assessment (sessions are sorted by row, date)
        span = np.int64(1 << 32)
        session_keys = session_rows.astype("int64") * span + session_days
        upto = np.searchsorted(session_keys, row * span + days, side="right")
        before = np.searchsorted(session_keys, row * span + np.iinfo(np.int32).min, side="left")
        parts.append(
            pd.DataFrame(
                {
                    "episode_id": clinic.episodes["episode_id"].to_numpy()[row],
                    "patient_id": kept["patient_id"].to_numpy(),
                    "date": kept["assessed_on"].to_numpy(dtype="datetime64[ns]"),
                    "pain": kept["pain"].to_numpy(dtype=float),
                    "source": "assessment",
                    "session_id": pd.NA,
                    "session_number": (upto - before).astype("int64"),
                    "episode_row": row.astype("int64"),
                    "_rank": 1,
                    "_within": np.arange(len(kept), dtype="int64"),
                }
            )
        )
    out = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    dates = out["date"].to_numpy(dtype="datetime64[ns]").view("int64")
    order = np.lexsort((out["_within"].to_numpy(), out["_rank"].to_numpy(), dates, out["episode_row"].to_numpy()))
    out = out.iloc[order].drop(columns=["_rank", "_within"]).reset_index(drop=True)
    dates = dates[order]
    start = clinic.episodes["start_date"].to_numpy(dtype="datetime64[ns]")
    row = out["episode_row"].to_numpy()
    out["days_since_start"] = ((out["date"].to_numpy() - start[row]) / np.timedelta64(1, "D")).astype("float64")
    out["weeks_since_start"] = out["days_since_start"] / 7.0
    out["source"] = out["source"].astype("string")
    out["session_id"] = out["session_id"].astype("string")
    # follow-up: after the episode's first *session* reading (the baseline), an assessment only on a later day
    is_session = (out["source"] == "session").to_numpy(dtype=bool)
    position = np.arange(len(out))
    first_session = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(first_session, row[is_session], position[is_session])
    baseline_at = first_session[row]
    has_baseline = baseline_at < len(out)
    baseline_day = np.full(len(out), np.iinfo(np.int64).max)
    baseline_day[has_baseline] = dates[baseline_at[has_baseline]]
    out["follow_up"] = has_baseline & (position > baseline_at) & (is_session | (dates > baseline_day))
    return out[READING_COLUMNS]


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
        assessable), ``n_assessments`` (follow-up assessments with a pain
        score), ``latest_source`` (``session`` or ``assessment``: where the
        latest score comes from; missing when there is none).

        Follow-up ``assessments`` are pain readings too (see
        :func:`pain_readings`): an assessment dated after the baseline
        session's day can be the latest score, and its pain enters the
        slope. The baseline is always the first session's ``pain_pre``.
    """
    sessions = attended_sessions(clinic, with_episode_row=True)
    n = len(clinic.episodes)
    sessions = sessions[sessions["episode_row"] < n]
    readings = pain_readings(clinic)
    row = readings["episode_row"].to_numpy()
    is_session = (readings["source"] == "session").to_numpy(dtype=bool)
    follow_up = readings["follow_up"].to_numpy(dtype=bool)
    # baseline: the first session reading; latest: the last follow-up reading (session or assessment)
    session_row = row[is_session]
    is_first = np.r_[True, session_row[1:] != session_row[:-1]] if len(session_row) else np.array([], dtype=bool)
    first = readings[is_session][is_first]
    later = readings[follow_up]
    later_row = later["episode_row"].to_numpy()
    is_last = np.r_[later_row[1:] != later_row[:-1], True] if len(later_row) else np.array([], dtype=bool)
    last = later[is_last]

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
    out["n_scored"] = np.bincount(session_row, minlength=n).astype("int64")
    out["baseline"] = per_episode(first, "pain")
    out["latest"] = per_episode(last, "pain")
    out["baseline_date"] = per_episode(first, "date")
    out["latest_date"] = per_episode(last, "date")
    out["weeks"] = (out["latest_date"] - out["baseline_date"]).dt.days / 7.0
    out["reduction"] = out["baseline"] - out["latest"]
    out["pct_reduction"] = 100.0 * out["reduction"] / out["baseline"].where(out["baseline"] > 0)
    out["slope_per_week"] = _slopes(readings.rename(columns={"pain": "pain_pre"}), n)

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
    out["n_assessments"] = np.bincount(row[~is_session], minlength=n).astype("int64")
    source = np.full(n, "", dtype=object)
    source[last["episode_row"].to_numpy()] = last["source"].to_numpy(dtype=object)
    out["latest_source"] = pd.Series(source, dtype="string").replace("", pd.NA)
    out.attrs["responder_rule"] = rule.to_dict()
    return out


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
