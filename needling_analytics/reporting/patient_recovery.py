"""The patient report's section "Your progress compared with patients like you": what it shows, decided once.

:func:`recovery_section` reads one patient's slice of the run's cache (the
tables ``expected``, ``expected_steps``, ``similar`` and their pain scores)
and the run's model (parameters and validation figures only), and returns
the sentences and the chart's inputs: the expected course and its band only
when the model is available and at least 11 (the run's ``min_cell_size``,
never fewer) patients like this one are behind it. Nothing of another
patient enters: the model carries no patient rows, and ``n_similar`` is a
count.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

import pandas as pd

from .cache import PatientData
from .text import Html, Paragraph
from .text.recovery import (
    EXPECTED_COURSE_CAVEAT,
    expected_course_sentence,
    expected_course_unavailable,
    reading_the_expected_course,
    similar_threshold,
)

__all__ = ["RecoverySection", "course_scores", "recovery_section"]

SCORE_COLUMNS = ["episode_id", "days_since_start", "pain", "source"]


@dataclass
class RecoverySection:
    """What the section shows for one course of care.

    Attributes
    ----------
    episode_id : the course of care.
    sentence : the latest score against the expected course, or why there is none.
    caveat : how to read the chart and the honest caveat (empty when no expected course is shown).
    expected : the expected course for the chart (``day``, ``expected``,
        ``lower``, ``upper``: the ``like_you`` prediction); no rows when no
        band may be shown.
    scores : the course's pain scores (``days_since_start``, ``pain``,
        ``source``: ``session`` or ``assessment``).
    latest : the latest score's row of ``expected_steps`` (one row, or none).
    level : the band's level (0.8: 80%).
    """

    episode_id: str
    sentence: Paragraph
    caveat: str = ""
    expected: pd.DataFrame = field(default_factory=pd.DataFrame)
    scores: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=SCORE_COLUMNS))
    latest: pd.DataFrame = field(default_factory=pd.DataFrame)
    level: float = 0.8

    @property
    def shows_band(self) -> bool:
        """Whether the chart of the expected course is drawn."""
        return len(self.expected) > 0

    def text(self) -> Html:
        """The sentence and, under a chart, the caveat, as HTML paragraphs."""
        parts = [self.sentence, *([self.caveat] if self.caveat else [])]
        if self.shows_band:
            band_end = float(self.expected["day"].max())
            last_score = float(self.scores["days_since_start"].max()) if len(self.scores) else 0.0
            ends = round(band_end / 7) if last_score > band_end else None
            parts.insert(1, reading_the_expected_course(self.level, latest=len(self.latest) > 0, band_ends_week=ends))
        return Html("".join(f'<p class="na-text">{html.escape(p)}</p>' for p in parts))


def _course(patient: PatientData, episode_id: str) -> str:
    episodes = patient.episodes.sort_values(["start_date", "episode_id"], kind="stable")
    if episodes.empty:
        raise ValueError(f"patient {patient.patient_id!r} has no course of care (episode) recorded")
    chosen = episode_id or str(episodes["episode_id"].iloc[-1])
    if chosen not in set(episodes["episode_id"].astype(str)):
        raise ValueError(f"`episode_id` {episode_id!r} is not a course of care of patient {patient.patient_id!r}")
    return chosen


def _of(frame: pd.DataFrame, episode_id: str) -> pd.DataFrame:
    return frame[frame["episode_id"].astype(str) == episode_id].reset_index(drop=True)


def course_scores(patient: PatientData, episode_id: str) -> pd.DataFrame:
    """The course's pain scores by days since it started: session ``pain_pre`` and follow-up assessments."""
    start = pd.Timestamp(_of(patient.episodes, episode_id)["start_date"].iloc[0])

    def scores(frame: pd.DataFrame, date: str, value: str, source: str) -> pd.DataFrame:
        frame = _of(frame, episode_id).dropna(subset=[date, value])
        days = (pd.to_datetime(frame[date]) - start).dt.days.astype(float)
        return pd.DataFrame(
            {"episode_id": episode_id, "days_since_start": days, "pain": frame[value].astype(float), "source": source}
        )

    sessions = scores(patient.pain, "session_date", "pain_pre", "session")
    follow = scores(patient.pain_followup, "date", "pain", "assessment")
    parts = [part for part in (sessions, follow) if len(part)]
    if not parts:
        return pd.DataFrame(columns=SCORE_COLUMNS)
    return pd.concat(parts, ignore_index=True).sort_values("days_since_start", kind="stable", ignore_index=True)


def recovery_section(patient: PatientData, *, episode_id: str = "") -> RecoverySection:
    """The section "Your progress compared with patients like you" for one course of care of ``patient``.

    Parameters
    ----------
    patient : PatientData
        One patient's slice of the run's cache (:func:`~.inputs.open_patient`),
        with the run's model (``patient.recovery``) and disclosure policy.
    episode_id : str
        The course of care; empty: the patient's most recent one (a report
        from :func:`~.inputs.open_patient` holds one course already).

    Returns
    -------
    RecoverySection
        In order of precedence: no model, or a model not available (too few
        courses, coverage not validated or poor): the reason in plain words,
        no chart. No first pain score: says so, no chart. Fewer similar
        patients than the run's ``min_cell_size`` (at least 11): says so,
        no chart. No follow-up score yet: the expected course from the first
        score and "nothing to compare yet". Otherwise: ahead of / in line
        with / behind the expected course at the latest follow-up score
        (the last row of ``expected_steps``), how many similar patients the
        expectation rests on, and the caveat.
    """
    chosen = _course(patient, episode_id)
    model = patient.recovery
    scores = course_scores(patient, chosen)
    if model is None or not model.available:
        reason = "no_model" if model is None else model.reason
        return RecoverySection(chosen, expected_course_unavailable(reason), scores=scores)
    level = float(model.level)
    expected = _of(patient.expected, chosen)
    expected = expected[expected["kind"] == "like_you"].reset_index(drop=True)
    similar = _of(patient.similar, chosen)
    if expected.empty or similar.empty:
        return RecoverySection(chosen, expected_course_unavailable("no_baseline"), scores=scores, level=level)
    n_similar = int(similar["n_similar"].iloc[0])
    if n_similar < similar_threshold(patient.disclosure):
        sentence = expected_course_sentence(None, n_similar, min_cell_size=patient.disclosure)
        return RecoverySection(chosen, sentence, scores=scores, level=level)
    steps = _of(patient.expected_steps, chosen).sort_values("day", kind="stable").tail(1).reset_index(drop=True)
    last = steps.iloc[0] if len(steps) else pd.Series({"position": None, "observed": None, "date": None})
    ongoing = pd.isna(_of(patient.episodes, chosen)["end_date"].iloc[0]) if "end_date" in patient.episodes else True
    sentence = expected_course_sentence(
        last["position"],
        n_similar,
        min_cell_size=patient.disclosure,
        observed=last["observed"],
        date=last["date"],
        ongoing=bool(ongoing),
    )
    return RecoverySection(
        chosen, sentence, EXPECTED_COURSE_CAVEAT, expected=expected, scores=scores, latest=steps, level=level
    )
