"""The clinic report's expected-recovery sections: predicted versus actual, the adjusted funnel, courses not on track.

The run fits the expected-recovery model once (:func:`~.cache.write_cache`)
and the clinic report reads it (:func:`clinic_recovery`); only a report made
by hand, without a cache, fits it itself. This module decides what each
audience sees; the sentences are in :mod:`.text.recovery_clinic`.

- Predicted versus actual (:func:`predicted_vs_actual`): the courses that
  started in the report's 12 months and were scored at about week 8 (days
  42-70), ended or not (a score read at one fixed time is not an interim
  result), once that window has closed (day 70 passed, or the course
  ended), so a course's figure does not change from one month to the next.
- The case-mix adjusted practitioner funnel (:func:`practitioner_view`):
  each practitioner's mean of observed minus expected on the same courses,
  replacing the responder-rate funnel when the model is available.
- Courses not on track (:func:`not_on_track_table`): listed for the owner,
  counted (small counts protected) for staff and the public.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import metrics
from ..clinic import Clinic
from ..metrics.recovery import ExpectedRecovery
from ..privacy.suppression import Disclosure, as_disclosure, round_counts, small_count_mask
from .cache import RunSettings, read_recovery, run_recovery_model
from .funnel import protect_funnel
from .pseudonyms import label_practitioners

__all__ = [
    "ClinicRecovery",
    "FunnelView",
    "adjusted_funnel_curve",
    "clinic_recovery",
    "not_on_track_table",
    "practitioner_view",
    "predicted_vs_actual",
    "protect_difference_funnel",
    "recovery_figures",
]

#: Where the model came from: fitted in this run on this clinic's own records, or a saved model (e.g. a group's).
SOURCES = ("own", "saved")


@dataclass
class ClinicRecovery:
    """The run's expected-recovery model and what the clinic report computes from it (no patient rows shown here).

    Attributes
    ----------
    model : ExpectedRecovery
        The run's model (:func:`~.cache.read_recovery`).
    source : {"own", "saved"}
        ``own``: fitted in this run on this clinic's records; ``saved``: a
        model saved beforehand (``recovery_model_file``, e.g. fitted on a
        group's pooled records).
    fixed : DataFrame
        :func:`~needling_analytics.metrics.expected_at_fixed_time` for the
        window's courses whose week-8 window has closed (empty when the
        model is not available).
    effectiveness : DataFrame
        :func:`~needling_analytics.metrics.recovery_effectiveness` of ``fixed`` (one row).
    funnel, spread : DataFrame
        :func:`~needling_analytics.metrics.difference_funnel` (every
        compared practitioner, unprotected) and its
        :func:`~needling_analytics.metrics.overdispersion`.
    not_on_track : DataFrame
        :func:`~needling_analytics.metrics.courses_not_on_track` of the window (with patient IDs: owner only).
    """

    model: ExpectedRecovery
    source: str = "own"
    fixed: pd.DataFrame = field(default_factory=pd.DataFrame)
    effectiveness: pd.DataFrame = field(default_factory=pd.DataFrame)
    funnel: pd.DataFrame = field(default_factory=pd.DataFrame)
    spread: pd.DataFrame = field(default_factory=pd.DataFrame)
    not_on_track: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def available(self) -> bool:
        return bool(self.model.available)


def _closed(fixed: pd.DataFrame, window: Clinic, high: int) -> pd.DataFrame:
    """Courses whose fixed-time window has closed by the window's as-of date, or that have ended."""
    episodes = window.episodes.set_index("episode_id")
    ids = fixed["episode_id"].astype(str)
    start = pd.to_datetime(ids.map(episodes["start_date"]))
    ended = ids.map(episodes["end_date"]).notna().to_numpy()
    closed = (start + pd.Timedelta(days=high)).to_numpy() <= np.datetime64(pd.Timestamp(window.as_of))
    out = fixed[ended | closed].reset_index(drop=True)
    out.attrs = {**fixed.attrs, "still_open": int((~(ended | closed)).sum())}
    return out


def clinic_recovery(
    clinic: Clinic, window: Clinic, *, cache_dir: str = "", settings: RunSettings | None = None, min_episodes: int = 10
) -> ClinicRecovery:
    """The run's expected-recovery model and the clinic report's figures from it.

    Parameters
    ----------
    clinic : Clinic
        The whole clinic (a report made by hand fits the model on it, as a run does).
    window : Clinic
        The report's courses (:func:`~needling_analytics.cohort.clinic_window`).
    cache_dir : str
        The run's metrics cache: the model is read from it (never refitted); empty: fitted on ``clinic``.
    settings : RunSettings, optional
        The run's settings (a saved model's file, ``min_episodes``).
    min_episodes : int
        Fewest courses scored at week 8 for a practitioner to be compared (without ``settings``).
    """
    settings = settings or RunSettings(min_episodes=min_episodes)
    model = read_recovery(cache_dir) if cache_dir else run_recovery_model(clinic, settings)
    source = "saved" if settings.recovery_model_file else "own"
    out = ClinicRecovery(model=model, source=source)
    if not model.available:
        return out
    fixed = metrics.expected_at_fixed_time(model, window)
    out.fixed = _closed(fixed, window, int(fixed.attrs["window"][1]))
    out.effectiveness = metrics.recovery_effectiveness(out.fixed)
    funnel = metrics.difference_funnel(out.fixed, min_episodes=settings.min_episodes)
    spread = metrics.overdispersion(funnel)
    inflation = float(spread.loc[0, "inflation"]) if len(spread) else 1.0
    if inflation > 1:
        funnel = metrics.difference_funnel(out.fixed, min_episodes=settings.min_episodes, dispersion=inflation)
    out.funnel, out.spread = funnel, spread
    out.not_on_track = metrics.courses_not_on_track(model, window)
    return out


def _shown_count(n: int, policy: Disclosure) -> int | None:
    """``n`` as a shared report may show it: None for 1 to threshold - 1, rounded to 5 under ``round``."""
    if 0 < n < policy.cutoff:
        return None
    return int(round_counts(n)) if policy.rounds and n > 0 else int(n)


def predicted_vs_actual(recovery: ClinicRecovery, *, min_cell_size: int | Disclosure = 11) -> pd.DataFrame:
    """Observed mean pain at week 8 beside the model's expectation for the same patients, with the effectiveness.

    One row: ``courses`` (scored at week 8; rounded to 5 under ``round``),
    ``baseline`` (their mean starting score), ``observed`` (mean score at
    week 8), ``expected`` (mean expected score), ``mean_difference``
    (observed minus expected change, points; positive is better than
    expected), ``ci_lower``, ``ci_upper`` (95%, clustered by patient). No
    row when the model is not available or no course was scored; nor in a
    shared report when fewer than ``min_cell_size`` courses were (a mean
    of so few says little and the count would be small).
    """
    policy = as_disclosure(min_cell_size)
    fixed = recovery.fixed
    columns = ["courses", "baseline", "observed", "expected", "mean_difference", "ci_lower", "ci_upper"]
    if not recovery.available or fixed.empty or _shown_count(len(fixed), policy) is None:
        return pd.DataFrame(columns=columns)
    effect = recovery.effectiveness.iloc[0]
    row = {
        "courses": _shown_count(len(fixed), policy),
        "baseline": float(fixed["baseline"].mean()),
        "observed": float(fixed["observed"].mean()),
        "expected": float(fixed["expected_mean"].mean()),
        "mean_difference": float(effect["mean_difference"]),
        "ci_lower": float(effect["ci_lower"]),
        "ci_upper": float(effect["ci_upper"]),
    }
    return pd.DataFrame([row], columns=columns)


def protect_difference_funnel(funnel: pd.DataFrame, *, min_cell_size: int | Disclosure = 11) -> pd.DataFrame:
    """The adjusted funnel without the practitioners whose point would give away a small count.

    A point shows a practitioner's number of courses scored at week 8
    (``n``) and their mean difference (no count of patients with an
    outcome), so a practitioner is hidden when ``n`` is 1 to
    ``min_cell_size - 1``, and, because the clinic's total is shown in the
    predicted-versus-actual table, one more (the smallest) whenever that
    total would give a hidden one away (complementary suppression). Nobody
    is hidden for the owner; under ``round`` only small counts are. The
    target, SD and limits stay those of every compared practitioner, and
    ``attrs["practitioner_counts"]`` counts practitioners outside the
    limits over all of them (:func:`~needling_analytics.metrics.funnel_counts`).
    """
    policy = as_disclosure(min_cell_size)
    if len(funnel):
        counts = funnel[["n"]].astype(float).reset_index(drop=True)
        total = len(counts)
        counts.loc[total] = counts.sum()
        mask = small_count_mask(counts, ["n"], min_cell_size=policy, totals=None, total_row=total)
        hidden = mask.drop(index=total)["n"].to_numpy(dtype=bool)
    else:
        hidden = np.zeros(0, dtype=bool)
    out = funnel.loc[~hidden].reset_index(drop=True)
    out.attrs = {**funnel.attrs, "hidden_practitioners": int(hidden.sum()), "threshold": policy.threshold}
    if any(c.startswith("upper_") for c in funnel.columns):
        out.attrs["practitioner_counts"] = metrics.funnel_counts(funnel, hidden=hidden)
    return out


def adjusted_funnel_curve(funnel: pd.DataFrame) -> pd.DataFrame:
    """The limits to draw behind the adjusted funnel, up to 10% beyond the largest practitioner (empty: none shown)."""
    attrs = funnel.attrs
    if funnel.empty or not np.isfinite(attrs.get("target", np.nan)) or not np.isfinite(attrs.get("sd", np.nan)):
        return pd.DataFrame(columns=["n"])
    return metrics.difference_funnel_limits(
        float(attrs["target"]),
        float(attrs["sd"]),
        int(np.ceil(funnel["n"].max() * 1.1)) + 1,
        limits=attrs.get("limits", (0.95, 0.998)),
        dispersion=float(attrs.get("dispersion", 1.0)),
    )


@dataclass
class FunnelView:
    """The practitioner comparison the clinic report shows: the adjusted funnel, or the responder-rate one.

    ``intro`` says what a dot is; draw ``reporting.chart_or_note(view.plot,
    view.shown, view.limits, section="funnel")``; ``summary`` is the
    paragraph under it; ``shown`` (protected, pseudonyms) is also the table
    written to the results.
    """

    adjusted: bool
    intro: object
    shown: pd.DataFrame
    limits: pd.DataFrame
    plot: object
    summary: object

    @property
    def kind(self) -> str:
        """``observed_minus_expected`` (the adjusted funnel) or ``responder_rate``, for ``summary.json``."""
        return "observed_minus_expected" if self.adjusted else "responder_rate"


def practitioner_view(
    funnel: pd.DataFrame,
    spread: pd.DataFrame,
    recovery: ClinicRecovery,
    *,
    labels: pd.Series,
    min_cell_size: int | Disclosure = 11,
) -> FunnelView:
    """The case-mix adjusted funnel when the expected course is available, else the responder-rate funnel.

    ``funnel``, ``spread``: :func:`~needling_analytics.metrics.practitioner_comparison`
    (the responder-rate funnel, kept when the model is not available);
    ``labels``: :func:`~.pseudonyms.practitioner_labels`. Either way
    practitioners are protected (:func:`protect_difference_funnel` or
    :func:`~.funnel.protect_funnel`), named by their labels, and counted,
    never named, when hidden.
    """
    from ..plots.practitioners import plot_funnel
    from ..plots.recovery_funnel import plot_difference_funnel
    from .funnel import funnel_curve
    from .text.practitioners import funnel_summary
    from .text.recovery_clinic import adjusted_funnel_intro, adjusted_funnel_summary, responder_funnel_intro

    if recovery.available:
        shown = label_practitioners(protect_difference_funnel(recovery.funnel, min_cell_size=min_cell_size), labels)
        return FunnelView(
            adjusted=True,
            intro=adjusted_funnel_intro(recovery),
            shown=shown,
            limits=adjusted_funnel_curve(shown),
            plot=plot_difference_funnel,
            summary=adjusted_funnel_summary(shown, recovery.spread, recovery),
        )
    shown = label_practitioners(protect_funnel(funnel, min_cell_size=min_cell_size), labels)
    return FunnelView(
        adjusted=False,
        intro=responder_funnel_intro(recovery),
        shown=shown,
        limits=funnel_curve(shown),
        plot=plot_funnel,
        summary=funnel_summary(shown, spread),
    )


def not_on_track_table(
    recovery: ClinicRecovery, labels: pd.Series, *, min_cell_size: int | Disclosure = 11
) -> pd.DataFrame:
    """Courses of care not on track, for the owner only: an empty frame in a shared report (the count is said instead).

    Columns: ``patient_id``, ``practitioner_id`` (as the report names
    practitioners), ``n_sessions``, ``last_visit``, ``latest`` (latest
    score), ``expected`` (expected score at that visit), ``band`` (its 80%
    range, "5.0 to 7.5": one decimal, so a score just above it does not read as inside), by last visit, oldest first (the longest without review
    at the top).
    """
    policy = as_disclosure(min_cell_size)
    columns = ["patient_id", "practitioner_id", "n_sessions", "last_visit", "latest", "expected", "band"]
    flagged = recovery.not_on_track
    if policy.shared or not recovery.available or flagged.empty:
        return pd.DataFrame(columns=columns)
    out = label_practitioners(flagged, labels).sort_values(["last_visit", "episode_id"], ignore_index=True)
    out["band"] = [f"{lo:.1f} to {hi:.1f}" for lo, hi in zip(out["lower"], out["upper"], strict=True)]
    return out[columns]


def recovery_figures(recovery: ClinicRecovery, *, min_cell_size: int | Disclosure = 11) -> dict:
    """The expected-recovery headline for ``summary.json``, as the report shows it.

    Keys: ``available``, ``reason`` (why not, a code), ``source`` (``own``
    or ``saved``), ``validation`` (``cutoff``, ``n_courses_train``,
    ``n_courses_test``, ``coverage``, ``mae_model``, ``mae_carry_forward``),
    ``fixed_time`` (:func:`predicted_vs_actual` as a dict: ``courses``,
    ``observed``, ``expected``, ``mean_difference``, ``ci_lower``,
    ``ci_upper``; nulls when not shown) and ``not_on_track`` (the count,
    null when 1 to ``min_cell_size - 1`` in a shared report; rounded under
    ``round``).
    """
    policy = as_disclosure(min_cell_size)
    model = recovery.model
    validation = model.validation or {}
    table = predicted_vs_actual(recovery, min_cell_size=policy)
    keys = ["courses", "observed", "expected", "mean_difference", "ci_lower", "ci_upper"]
    fixed = {k: None for k in keys}
    if len(table):
        row = table.iloc[0]
        fixed = {k: (int(row[k]) if k == "courses" else _finite(row[k])) for k in keys}
    count = len(recovery.not_on_track) if recovery.available else None
    return {
        "available": bool(model.available),
        "reason": (model.reason or "").split(":")[0] or None,
        "source": recovery.source,
        "validation": {
            k: validation.get(k)
            for k in ("cutoff", "n_courses_train", "n_courses_test", "coverage", "mae_model", "mae_carry_forward")
        },
        "fixed_time": fixed,
        "not_on_track": None if count is None else _shown_count(count, policy),
    }


def _finite(value) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None
