"""The building blocks of report text: displayable strings, codes in words, numbers, dates and the rule.

:class:`Paragraph`, :class:`Headline` and :class:`Html` are ordinary
``str`` subclasses a notebook displays as a paragraph or as HTML; the
``format_*`` functions write numbers and dates the way a clinic owner
reads them; :data:`LABELS` and :data:`UNAVAILABLE` hold the words for the
data model's codes and the one sentence a section shows without data. The
helpers :func:`is_missing`, :func:`as_rule`, :func:`smallest_shown` and
:func:`plural` are shared by the other text modules.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd

from ...metrics import ResponderRule
from ...periods import parse_month
from ...privacy.suppression import Disclosure, round_counts

__all__ = [
    "Headline",
    "Html",
    "LABELS",
    "NATURAL_RECOVERY",
    "PATIENT_NATURAL_RECOVERY",
    "Paragraph",
    "UNAVAILABLE",
    "as_rule",
    "date_range",
    "describe_rule",
    "format_count",
    "format_date",
    "format_pct",
    "format_points",
    "is_missing",
    "label",
    "paragraph",
    "period_label",
    "plural",
    "section_unavailable",
    "smallest_shown",
]


#: Words for the codes of the data model, where replacing "_" by " " is not enough.
LABELS = {
    "low_back": "low back",
    "upper_back": "upper back",
    "wrist_hand": "wrist and hand",
    "ankle_foot": "ankle and foot",
    "cervical_spine": "neck (cervical spine)",
    "thoracic_spine": "mid back (thoracic spine)",
    "lumbar_spine": "low back (lumbar spine)",
    "pain_during": "pain during treatment",
    "pain_after": "pain after treatment",
    "infection_signs": "signs of infection",
    "goals_met": "goals met",
    "self_discharged": "stopped coming",
    "no_show": "missed",
    "none": "–",
    "no_baseline": "no pain score",
    "no_follow_up": "no follow-up score",
    "baseline_too_low": "starting pain too low to measure",
    "not_improved": "not improved enough",
    "responder": "clinically important improvement",
    "reached_mcid": "reached the important change",
    "not_reached_mcid": "did not reach the important change",
    "too_little_room": "too little room to improve",
    "no_mcid": "no threshold for this questionnaire",
}


#: One sentence per report section, shown instead of a chart or table when there is too little data.
UNAVAILABLE = {
    # patient report
    "episode": "No course of care has been recorded for this patient.",
    "pain": "No pain scores were recorded at this patient's sessions.",
    "rom": "No range-of-motion measurements were recorded for this patient.",
    "proms": "This patient has not completed any questionnaires.",
    "journal": "This patient has not kept a home journal during this course of care.",
    "adverse_events": "No side effects or adverse events were recorded after this patient's sessions.",
    "attendance": "No sessions have been booked for this course of care yet.",
    # clinic and research reports
    "activity": "No appointments were recorded in this period.",
    "outcomes": "No course of care in this period has both a first and a follow-up pain score, so outcomes cannot be shown yet.",
    "responder_curve": "No course of care in this period has both a first and a follow-up pain score, so the curve cannot be drawn.",
    "rom_summary": "No range-of-motion measurements were recorded in this period.",
    "prom_summary": "No questionnaires were completed in this period.",
    "frequency": "Too few courses of care were still under way after four weeks and had a pain score about eight weeks after the first visit to relate session frequency to improvement.",
    "time_to_response": "Too few courses of care could be assessed to show how long improvement took.",
    "safety": "No treatments were recorded in this period, so adverse-event rates cannot be calculated.",
    "serious_events": "No significant or serious adverse events were recorded in this period.",
    "funnel": "No practitioner has enough assessed courses of care in this period to be shown on the funnel plot.",
    "subgroups": "There are no groups to compare in this period.",
    "model": "There are too few measurements to fit a trajectory model.",
    "calibration": "The expected-recovery model could not be checked on later courses of care (too few courses before or after the cut-off), so there is no calibration to show.",
}


#: One plain sentence on regression to the mean and natural recovery, wherever a before/after change is read as success.
NATURAL_RECOVERY = (
    "Not all of this improvement is due to treatment: pain is usually first scored near its worst, "
    "and it often eases with time."
)


#: The same for a patient's own course of care.
PATIENT_NATURAL_RECOVERY = "Part of this change may have come anyway: pain is often at its worst when treatment starts, and it tends to ease with time."


class Paragraph(str):
    """A sentence or paragraph of plain text; notebooks display it as an HTML paragraph (escaped)."""

    def _repr_html_(self) -> str:
        return f'<p class="na-text">{html.escape(self)}</p>'


class Headline(Paragraph):
    """A paragraph shown larger and in bold: the report's key message."""

    def _repr_html_(self) -> str:
        return f'<p class="na-headline" style="font-size:1.2em;font-weight:600;">{html.escape(self)}</p>'


class Html(str):
    """A block of HTML (already escaped where needed); notebooks display it as HTML."""

    def _repr_html_(self) -> str:
        return str(self)


def paragraph(text: str) -> Paragraph:
    """``text`` as a :class:`Paragraph`, for display."""
    return Paragraph(text)


def is_missing(value) -> bool:
    """Whether ``value`` is missing (None, NA, NaT or NaN); other values, lists included, are not."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def label(value) -> str:
    """A data-model code in words: ``"low_back"`` -> ``"low back"``, ``"no_show"`` -> ``"missed"``."""
    if is_missing(value):
        return ""
    text = str(value)
    return LABELS.get(text, text.replace("_", " "))


def format_points(value, *, decimals: int = 1) -> str:
    """A score in points, without needless decimals: 7.0 -> ``"7"``, 6.5 -> ``"6.5"``; missing -> ``"not recorded"``."""
    if is_missing(value):
        return "not recorded"
    step = Decimal(1).scaleb(-decimals)
    rounded = Decimal(repr(float(value))).quantize(step, rounding=ROUND_HALF_UP)  # 6.55 -> 6.6
    rounded = abs(rounded) if rounded == 0 else rounded  # no "-0"
    text = f"{rounded:,f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_pct(value, *, decimals: int = 0, share: bool = False) -> str:
    """A percentage: 57.14 -> ``"57%"``; with ``share=True`` the value is a fraction (0.5714 -> ``"57%"``).

    Missing -> ``"not available"``.
    """
    if is_missing(value):
        return "not available"
    number = Decimal(repr(float(value))) * (100 if share else 1)
    rounded = number.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)  # 12.5 -> 13, as taught
    return f"{(rounded if rounded != 0 else abs(rounded)):f}%"


def smallest_shown(min_cell_size) -> int | None:
    """The smallest count a sentence may give: ``min_cell_size``, or a Disclosure's (None for the owner: every count)."""
    if isinstance(min_cell_size, Disclosure):
        return min_cell_size.threshold if min_cell_size.shared else None
    return min_cell_size


def format_count(value, *, min_cell_size: int | Disclosure | None = None) -> str:
    """A count with thousands separators; with ``min_cell_size``, 1 to min_cell_size-1 -> ``"fewer than 11"``.

    Zero is shown (the CMS small-cell rule allows it). Missing -> ``"not
    available"``. With a :class:`~needling_analytics.privacy.suppression.Disclosure`:
    every count for the owner; under ``method="round"`` other counts read
    ``"about 415"`` (nearest 5).
    """
    if is_missing(value):
        return "not available"
    number = int(value)
    limit = smallest_shown(min_cell_size)
    if limit is not None and 0 < number < limit:
        return f"fewer than {limit}"
    if isinstance(min_cell_size, Disclosure) and min_cell_size.rounds and number > 0:
        return f"about {int(round_counts(number)):,}"
    return f"{number:,}"


def format_date(value) -> str:
    """``"3 Mar 2026"`` (no leading zero); missing -> ``""``."""
    if is_missing(value):
        return ""
    day = pd.Timestamp(value)
    return f"{day.day} {day:%b %Y}"


def period_label(month) -> str:
    """A report month in words: ``"2026-10"`` -> ``"October 2026"`` (a monthly Period or a date also works)."""
    if not isinstance(month, (str, pd.Period)):
        month = pd.Timestamp(month).to_period("M")
    period = parse_month(month)
    return f"{period:%B %Y}"


def date_range(start="", end="") -> str:
    """A range of dates in words: ``"3 Mar 2026 to 5 Oct 2026"``, ``"from 3 Mar 2026"``, ``"up to ..."``, ``"all dates"``.

    Empty or missing ends are open.
    """
    start = "" if is_missing(start) or start == "" else format_date(start)
    end = "" if is_missing(end) or end == "" else format_date(end)
    if start and end:
        return f"{start} to {end}"
    if start:
        return f"from {start}"
    return f"up to {end}" if end else "all dates"


def as_rule(rule) -> ResponderRule:
    """``rule`` as a ResponderRule (a dict of its fields also works); a ValueError naming anything else."""
    if isinstance(rule, ResponderRule):
        return rule
    if isinstance(rule, Mapping):
        return ResponderRule(**rule)
    raise ValueError(f"`rule` must be a ResponderRule or a dict of its fields, got {rule!r}")


def describe_rule(rule) -> Paragraph:
    """The responder rule as one sentence: what counts as a clinically important improvement."""
    return Paragraph(f"A clinically important improvement means {as_rule(rule).describe()}.")


def section_unavailable(section: str) -> Paragraph:
    """The one sentence a report shows for a section without enough data.

    Sections: see :data:`UNAVAILABLE` (e.g. ``"rom"`` -> "No range-of-motion
    measurements were recorded for this patient.").
    """
    if section not in UNAVAILABLE:
        raise ValueError(f"`section` must be one of {sorted(UNAVAILABLE)}, got {section!r}")
    return Paragraph(UNAVAILABLE[section])


def plural(n: int, one: str, many: str) -> str:
    """``"1 month"``, ``"3 months"``: ``n`` with the word for one or for many."""
    return f"{n} {one if n == 1 else many}"
