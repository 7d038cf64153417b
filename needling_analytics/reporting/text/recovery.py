"""The patient report's "patients like you" sentences: the latest score against the expected course, or why not.

Every function is pure (values in, a :class:`Paragraph` out). The expected
course comes from the run's expected-recovery model
(:class:`~needling_analytics.metrics.ExpectedRecovery`); a patient sees it
only when the model is available (enough courses, validated coverage) and
at least ``min_cell_size`` (never fewer than 11) courses of care share the
patient's body area and starting pain band.
"""

from __future__ import annotations

from ...privacy.suppression import Disclosure
from .words import Paragraph, format_count, format_date, format_points, is_missing

__all__ = [
    "EXPECTED_COURSE_CAVEAT",
    "MIN_SIMILAR",
    "expected_course_sentence",
    "expected_course_unavailable",
    "reading_the_expected_course",
    "similar_threshold",
]

#: The fewest similar patients an expected course may rest on, whatever the run's settings say (CMS: 11).
MIN_SIMILAR = 11

#: One honest sentence under every expected course.
EXPECTED_COURSE_CAVEAT = (
    "This is what usually happens to patients like you at this clinic, not a promise: "
    "some patients who are behind at first still recover well, and some who are ahead have setbacks."
)

#: The latest score's position against its band, in words.
POSITION_WORDS = {"better": "ahead of", "within": "in line with", "worse": "behind"}

#: Why the model is not shown, in plain words, by the first word of ``ExpectedRecovery.reason``.
REASONS = {
    "too_few_courses": (
        "this clinic does not yet have enough courses of care with follow-up pain scores "
        "to work out how pain usually goes for patients like you"
    ),
    "not_validated": (
        "there are not yet enough recent courses of care to check that the expected course "
        "matches what really happens to patients"
    ),
    "poor_coverage": (
        "when it was checked against recent patients, the expected course did not match "
        "what really happened to them closely enough to be shown"
    ),
    "no_model": "this report was prepared without an expected course",
    "no_baseline": "there is no first pain score for this course of care to start the expected course from",
}


def similar_threshold(min_cell_size: int | Disclosure | None = None) -> int:
    """The fewest similar patients the section needs: the run's ``min_cell_size`` (a Disclosure's threshold), at least 11.

    Examples
    --------
    >>> similar_threshold(), similar_threshold(5), similar_threshold(20)
    (11, 11, 20)
    """
    if isinstance(min_cell_size, Disclosure):
        min_cell_size = min_cell_size.threshold  # also for the owner: the patient's report is shared with the patient
    return max(MIN_SIMILAR, int(min_cell_size or 0))


def expected_course_unavailable(reason: str | None) -> Paragraph:
    """Why the expected course is not shown, in plain words: ``"The expected course is not available: ..."``.

    ``reason`` is :attr:`ExpectedRecovery.reason` (its first word counts:
    ``too_few_courses``, ``not_validated``, ``poor_coverage``), or
    ``no_model`` / ``no_baseline``; anything else gets a general sentence.
    """
    key = "" if is_missing(reason) or reason is None else str(reason).split(":", 1)[0].strip()
    why = REASONS.get(key, "it could not be worked out from this clinic's data")
    return Paragraph(f"The expected course is not available for this report: {why}.")


def expected_course_sentence(
    position: str | None,
    n_similar,
    *,
    min_cell_size: int | Disclosure | None = None,
    observed=None,
    date=None,
    ongoing: bool = True,
) -> Paragraph:
    """One plain sentence: the latest score ahead of, in line with or behind the expected course, and what it rests on.

    Parameters
    ----------
    position : {"better", "within", "worse"} or None
        The ``position`` of the course's latest follow-up score against the
        band predicted from its earlier scores (the last row of the cache's
        ``expected_steps``); None or missing: no follow-up score yet.
    n_similar : int
        Courses of care in the model with the same body region and starting
        pain band (the cache's ``similar``).
    min_cell_size : int or Disclosure, optional
        The run's small-cell size; fewer similar patients than
        :func:`similar_threshold` (at least 11): the sentence says there are
        too few, and the report shows no band.
    observed, date : optional
        The latest score and its date, quoted when given.
    ongoing : bool
        Whether the course of care is still under way: only then does a
        course behind the expected one suggest a review of the plan.

    Returns
    -------
    Paragraph
        For example "Your latest pain score (3 on 12 Oct 2026) is ahead of the expected course: lower than
        expected. This is based on 35 patients who started with similar pain in the same body area."
    """
    need = similar_threshold(min_cell_size)
    n = 0 if is_missing(n_similar) else int(n_similar)
    if n < need:
        return Paragraph(
            f"Too few patients like you have been treated at this clinic (fewer than {need} who started with "
            "similar pain in the same body area) to show an expected course: it is left out to protect "
            "their privacy and because it would not be reliable."
        )
    count = format_count(n, min_cell_size=min_cell_size if isinstance(min_cell_size, Disclosure) else None)
    based = f"based on {count} patients who started with similar pain in the same body area"
    if is_missing(position) or position is None:
        return Paragraph(
            "There is no follow-up pain score yet to compare with the expected course. The chart shows how pain "
            f"usually goes from a first score like yours, {based}."
        )
    if str(position) not in POSITION_WORDS:
        raise ValueError(f"`position` must be one of {sorted(POSITION_WORDS)} or None, got {position!r}")
    detail = {
        "better": "lower than expected at this point",
        "within": "about where it was expected to be at this point",
        "worse": "higher than expected at this point"
        + ("; your practitioner may review your treatment plan with you" if ongoing else ""),
    }[str(position)]
    when = ""
    if not is_missing(observed):
        on = f" on {format_date(date)}" if not is_missing(date) and format_date(date) else ""
        when = f" ({format_points(observed)}{on})"
    return Paragraph(
        f"Your latest pain score{when} is {POSITION_WORDS[str(position)]} the expected course: {detail}. "
        f"This is {based}, and takes your earlier scores into account."
    )


def reading_the_expected_course(
    level: float = 0.8, *, latest: bool = True, band_ends_week: float | None = None
) -> Paragraph:
    """How to read the chart: the line, the band (at ``level``), the dots and, with ``latest``, the bracket.

    ``band_ends_week``: the week the band stops at, when the patient's scores go on after it (the band
    is drawn only as far as the model's check on recent courses reached).
    """
    share = round(10 * level)
    text = (
        "In the chart, the dashed line is the usual course for patients who started like you, and the grey band "
        f"is where {share} in 10 of their pain scores fall; the dots are your own pain scores, by week since your "
        "course of care started."
    )
    if latest:
        text += (
            " The orange bracket is the range expected at your latest score once your earlier scores are taken "
            "into account: the sentence above compares your latest score with it."
        )
    if band_ends_week is not None:
        text += (
            f" The band stops at week {band_ends_week:g}: the clinic's more recent courses of care could only be "
            "checked that far, so it is not drawn further."
        )
    return Paragraph(text)
