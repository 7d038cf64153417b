"""Plain-language sentences and small HTML blocks for reports read by people who are not statisticians.

Every function is pure: values in, a string out. Sentences are returned as
:class:`Paragraph` and HTML blocks as :class:`Html`, both ordinary ``str``
subclasses that a notebook displays as a paragraph or as HTML (they carry
``_repr_html_``). Any text inserted into HTML is escaped with
:func:`html.escape`.

The thresholds quoted come from the responder rule the report used
(:class:`~needling_analytics.metrics.ResponderRule`; default 2 points and
30%, Farrar 2001, Pain 94:149; Childs 2005, Spine 30:1331).
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd

from ..metrics import ResponderRule
from ..periods import parse_month
from ..privacy.suppression import Disclosure, round_counts

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


def _missing(value) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def label(value) -> str:
    """A data-model code in words: ``"low_back"`` -> ``"low back"``, ``"no_show"`` -> ``"missed"``."""
    if _missing(value):
        return ""
    text = str(value)
    return LABELS.get(text, text.replace("_", " "))


def format_points(value, *, decimals: int = 1) -> str:
    """A score in points, without needless decimals: 7.0 -> ``"7"``, 6.5 -> ``"6.5"``; missing -> ``"not recorded"``."""
    if _missing(value):
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
    if _missing(value):
        return "not available"
    number = Decimal(repr(float(value))) * (100 if share else 1)
    rounded = number.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)  # 12.5 -> 13, as taught
    return f"{(rounded if rounded != 0 else abs(rounded)):f}%"


def _cutoff(threshold) -> int | None:
    """The smallest count a sentence may give: ``threshold``, or a Disclosure's (None for the owner: every count)."""
    if isinstance(threshold, Disclosure):
        return threshold.threshold if threshold.shared else None
    return threshold


def format_count(value, *, threshold: int | Disclosure | None = None) -> str:
    """A count with thousands separators; with ``threshold``, 1 to threshold-1 -> ``"fewer than 11"``.

    Zero is shown (the CMS small-cell rule allows it). Missing -> ``"not
    available"``. With a :class:`~needling_analytics.privacy.suppression.Disclosure`:
    every count for the owner; under ``method="round"`` other counts read
    ``"about 415"`` (nearest 5).
    """
    if _missing(value):
        return "not available"
    number = int(value)
    limit = _cutoff(threshold)
    if limit is not None and 0 < number < limit:
        return f"fewer than {limit}"
    if isinstance(threshold, Disclosure) and threshold.rounds and number > 0:
        return f"about {int(round_counts(number)):,}"
    return f"{number:,}"


def format_date(value) -> str:
    """``"3 Mar 2026"`` (no leading zero); missing -> ``""``."""
    if _missing(value):
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
    start = "" if _missing(start) or start == "" else format_date(start)
    end = "" if _missing(end) or end == "" else format_date(end)
    if start and end:
        return f"{start} to {end}"
    if start:
        return f"from {start}"
    return f"up to {end}" if end else "all dates"


def _rule(rule) -> ResponderRule:
    if isinstance(rule, ResponderRule):
        return rule
    if isinstance(rule, Mapping):
        return ResponderRule(**rule)
    raise ValueError(f"`rule` must be a ResponderRule or a dict of its fields, got {rule!r}")


def describe_rule(rule) -> Paragraph:
    """The responder rule as one sentence: what counts as a clinically important improvement."""
    return Paragraph(f"A clinically important improvement means {_rule(rule).describe()}.")


def _sessions(n) -> str:
    n = 0 if _missing(n) else int(n)
    return f"{n:,} session" + ("" if n == 1 else "s")


def _pct_near(pct: float, threshold: float) -> str:
    """Percent reduction as text, never rounded across the rule's threshold (29.6 -> "29.6%" against 30)."""
    text = format_pct(pct)
    if (pct < threshold) != (float(text[:-1]) < threshold):
        text = format_pct(math.floor(pct * 10) / 10, decimals=1)
    return text


def _episode(episode_row) -> pd.Series:
    if isinstance(episode_row, pd.DataFrame):
        if len(episode_row) != 1:
            raise ValueError(f"`episode_row` must be one episode, got a frame of {len(episode_row)} rows")
        return episode_row.iloc[0]
    if isinstance(episode_row, pd.Series):
        return episode_row
    if isinstance(episode_row, Mapping):
        return pd.Series(dict(episode_row))
    raise ValueError(f"`episode_row` must be a row of the episodes table, got {type(episode_row).__name__!r}")


def patient_headline(episode_row, rule) -> Headline:
    """One or two sentences on how the patient's pain changed over the course of care.

    Parameters
    ----------
    episode_row : Series, one-row DataFrame or dict
        A row of ``PatientData.episodes``: ``baseline``, ``latest``,
        ``n_sessions``, ``reduction``, ``pct_reduction``, ``assessment``
        (from :func:`~needling_analytics.metrics.episode_pain`), and
        ``reached``, ``reached_after_sessions`` (first session at which the
        rule was met; from :func:`~needling_analytics.metrics.time_to_response`).
    rule : ResponderRule
        The rule the cache used.

    Returns
    -------
    Headline
        A :class:`Paragraph` shown in bold. For example "Pain went from 7 to 3 over 5 sessions, a 57% reduction:
        a clinically important improvement, first reached at session 3. Part of this change may have come anyway: ..."
        Variants: no pain score, no follow-up score yet, a starting score too
        low to measure a clinically important change, improved but not by
        enough, no change, worse, and reached once but risen again since.
    """
    row, rule = _episode(episode_row), _rule(rule)
    baseline, latest = row.get("baseline"), row.get("latest")
    n = row.get("n_sessions")
    assessment = "" if _missing(row.get("assessment")) else str(row.get("assessment"))
    reached_at = row.get("reached_after_sessions")
    reached = not _missing(row.get("reached")) and bool(row.get("reached")) and not _missing(reached_at)
    b, latest_text, over = format_points(baseline), format_points(latest), _sessions(n)

    if assessment == "no_baseline" or _missing(baseline):
        return Headline(
            f"No pain scores have been recorded in this course of care yet ({over} attended), "
            "so the change in pain cannot be described."
        )
    if assessment == "no_follow_up" or _missing(latest):
        return Headline(f"Pain was {b} at the first session; there is no follow-up score yet to compare it with.")
    if assessment == "baseline_too_low":
        return Headline(
            f"Pain started at {b}, too low to measure a clinically important change "
            f"({rule.describe()}); the latest score is {latest_text}, over {over}."
        )
    reduction = float(row.get("reduction", float(baseline) - float(latest)))
    pct = row.get("pct_reduction")
    pct = 100.0 * reduction / float(baseline) if _missing(pct) else float(pct)
    went = f"Pain went from {b} to {latest_text} over {over}"
    if assessment == "responder":
        first = f", first reached at session {int(reached_at)}" if reached else ""
        return Headline(
            f"{went}, a {_pct_near(pct, rule.pct_threshold)} reduction: a clinically important improvement{first}. "
            + PATIENT_NATURAL_RECOVERY
        )
    if reduction > 0:
        change = f"a {_pct_near(pct, rule.pct_threshold)} reduction"
    elif reduction == 0:
        change = "no change overall"
    else:
        change = f"{format_points(-reduction)} points worse ({format_pct(-pct)} higher than at the start)"
    if reached:
        return Headline(
            f"{went}, {change}. Pain fell by a clinically important amount at session {int(reached_at)}, "
            "but has risen again since."
        )
    if reduction > 0:
        return Headline(
            f"{went}, {change}: an improvement, but smaller than a clinically important one ({rule.describe()}). "
            + PATIENT_NATURAL_RECOVERY
        )
    if reduction == 0:
        return Headline(f"Pain was {b} at the first session and is still {latest_text} after {over}: no change.")
    return Headline(f"{went}: {change}.")


def episode_period(episode_row) -> str:
    """The course of care's dates: ``"5 Nov 2025 to 29 Dec 2025"`` or ``"from 5 Nov 2025 (ongoing)"``."""
    row = _episode(episode_row)
    start, end = format_date(row.get("start_date")), format_date(row.get("end_date"))
    return f"{start} to {end}" if end else f"from {start} (ongoing)"


def episode_subtitle(patient_id: str, episode_row) -> str:
    """``"Patient P0001 · low back (acute lumbago) · 5 Nov 2025 to 29 Dec 2025"``."""
    row = _episode(episode_row)
    region = label(row.get("body_region")) or "region not recorded"
    condition = "" if _missing(row.get("condition")) else f" ({row.get('condition')})"
    return f"Patient {patient_id} · {region}{condition} · {episode_period(row)}"


def attendance_sentence(episode_row) -> Paragraph:
    """``"8 sessions booked: 7 attended, 1 cancelled and 0 missed."`` plus how the course ended.

    Appointments not marked (status ``unmarked``) and still to come (status
    ``booked``) are named when there are any: ``"..., 0 missed, 1 not
    marked and 2 still to come."``.
    """
    row = _episode(episode_row)
    booked = 0 if _missing(row.get("booked")) else int(row.get("booked"))
    if booked == 0:
        return Paragraph(UNAVAILABLE["attendance"])
    keys = ("attended", "cancelled", "no_show", "unmarked", "upcoming")
    counts = {k: 0 if _missing(row.get(k)) else int(row.get(k)) for k in keys}
    parts = [f"{counts['attended']:,} attended", f"{counts['cancelled']:,} cancelled", f"{counts['no_show']:,} missed"]
    if counts["unmarked"]:  # past appointments nobody marked: neither attended nor missed
        parts.append(f"{counts['unmarked']:,} not marked")
    if counts["upcoming"]:
        parts.append(f"{counts['upcoming']:,} still to come")
    text = f"{_sessions(booked)} booked: {', '.join(parts[:-1])} and {parts[-1]}."
    reason = None if _missing(row.get("discharge_reason")) else str(row.get("discharge_reason"))
    if not _missing(row.get("end_date")):
        ended = format_date(row.get("end_date"))
        text += {
            "goals_met": f" The course of care ended on {ended} with its goals met.",
            "self_discharged": f" The patient stopped attending; the course of care was closed on {ended}.",
            "referred": f" The patient was referred elsewhere on {ended}.",
        }.get(reason, f" The course of care ended on {ended}.")
    elif not _missing(row.get("self_discharged")) and bool(row.get("self_discharged")):
        text += " There has been no visit for a month or more, so the course of care counts as stopped."
    return Paragraph(text)


def section_unavailable(section: str) -> Paragraph:
    """The one sentence a report shows for a section without enough data.

    Sections: see :data:`UNAVAILABLE` (e.g. ``"rom"`` -> "No range-of-motion
    measurements were recorded for this patient.").
    """
    if section not in UNAVAILABLE:
        raise ValueError(f"`section` must be one of {sorted(UNAVAILABLE)}, got {section!r}")
    return Paragraph(UNAVAILABLE[section])


def responder_summary(
    summary: pd.DataFrame, rule, *, threshold: int | None = 11, ongoing: int | None = None
) -> Paragraph:
    """The clinic's responder rate and its 95% interval in words.

    ``summary`` is the one-row output of
    :func:`~needling_analytics.metrics.summarize_responders`. Counts from 1
    to ``threshold - 1`` are written "fewer than 11" (CMS small-cell rule;
    None shows every count). The total number of episodes is not given, so
    that the number not assessed cannot be worked out by subtraction.

    ``ongoing`` (the clinic report passes it): the summary covers courses of
    care that have ended only, and this many courses still under way were
    left out; the text says both in plain words. None: the summary's cohort
    is not stated.
    """
    row, rule = summary.iloc[0], _rule(rule)
    assessable, responders = int(row["assessable"]), int(row["responders"])
    limit = _cutoff(threshold) or 0
    still = ""
    if ongoing:
        still = (
            f" {format_count(ongoing, threshold=threshold).capitalize()} course{'s' if ongoing != 1 else ''} of care "
            f"still under way {'are' if ongoing != 1 else 'is'} not counted: a result so far is not the final one."
        )
    if assessable == 0:
        return Paragraph(UNAVAILABLE["outcomes"] + still)
    kind = "that have ended and could be assessed" if ongoing is not None else "that could be assessed"
    count = format_count(assessable, threshold=threshold)
    courses = f"Of {count if count.startswith('about') else 'the ' + count} courses of care {kind}, "
    reached = f"reached a clinically important improvement ({rule.describe()})."
    if assessable < limit:
        ended = " that have ended" if ongoing is not None else ""
        text = f"Only {format_count(assessable, threshold=threshold)} courses of care{ended} could be assessed: too few to give a rate."
    elif 0 < responders < limit:
        text = courses + f"fewer than {limit} " + reached
    elif 0 < assessable - responders < limit:
        text = courses + f"all but fewer than {limit} " + reached
    else:
        text = (
            courses
            + f"{format_count(responders, threshold=threshold)} ({format_pct(row['responder_rate'], share=True)}) "
            + reached
            + " Allowing for chance, the clinic's underlying rate is likely between "
            f"{format_pct(row['ci_lower'], share=True)} and {format_pct(row['ci_upper'], share=True)} "
            "(95% confidence interval)."
        )
    left_out = int(row["no_baseline"] + row["no_follow_up"] + row["baseline_too_low"])
    if left_out:
        text += (
            f" {format_count(left_out, threshold=threshold).capitalize()} more could not be assessed: they had no "
            "follow-up pain score yet, or started too low to show a clinically important change."
        )
    if assessable >= limit:
        text += " " + NATURAL_RECOVERY
    return Paragraph(text + still)


def sensitivity_sentence(sensitivity: pd.DataFrame, *, threshold: int | None = 11) -> Paragraph:
    """One plain sentence under the table of :func:`~needling_analytics.metrics.responder_sensitivity`.

    Says how many courses lack a follow-up score (counts from 1 to
    ``threshold - 1`` written "fewer than 11") and how many of them stopped
    coming (self-discharged, as in the attendance section), what the three
    rows mean, and why the weighted rate is missing when it is.
    """
    missing = int(sensitivity.attrs.get("no_follow_up", 0))
    if missing == 0:
        return Paragraph("Every course of care counted here has a follow-up pain score, so the three ways agree.")
    gone = sensitivity.attrs.get("no_follow_up_self_discharged")
    stopped = ""
    if gone is not None:
        stopped = f", {format_count(int(gone), threshold=threshold)} of them after the patient stopped coming"
    weighted = sensitivity[sensitivity["method"] == "weighted"]
    note = "" if not len(weighted) or _missing(weighted["note"].iloc[0]) else str(weighted["note"].iloc[0])
    used = note.split(" (")[0]
    like = {
        "weights from baseline, body_region": " (same starting pain and body region)",
        "weights from baseline": " (same starting pain)",
        "weights from body_region": " (same body region)",
    }.get(used, "")
    text = (
        f"{format_count(missing, threshold=threshold).capitalize()} course{'s' if missing != 1 else ''} of care "
        f"had no follow-up pain score{stopped}; those patients may have done better or worse than the rest, so the "
        "share improved is shown three ways: among courses with a follow-up score, counting every course without "
        "one as not improved (the worst case), and giving more weight to followed-up courses that look like the "
        f"missing ones{like}."
    )
    if len(weighted) and _missing(weighted["rate"].iloc[0]):
        text += " The weighted share could not be worked out from these data."
    return Paragraph(text)


def median_sentence(median: pd.DataFrame) -> Paragraph:
    """Median time to a clinically important improvement in words (``median_time(..., time="days")``, one row)."""
    row = median.iloc[0] if len(median) else None
    if row is None or int(row["subjects"]) == 0:
        return Paragraph(UNAVAILABLE["time_to_response"])
    if _missing(row["median"]):
        return Paragraph(
            "Fewer than half of the assessed courses of care have reached a clinically important improvement so far, "
            "so the typical time to get there cannot be given yet."
        )
    days = float(row["median"])
    text = (
        f"An estimated half of the assessed courses of care had reached a clinically important improvement by day "
        f"{days:,.0f} (about {days / 7:,.0f} weeks) after their first visit"
    )
    if not _missing(row["ci_lower"]) and not _missing(row["ci_upper"]):
        text += f"; allowing for chance, somewhere between {row['ci_lower']:,.0f} and {row['ci_upper']:,.0f} days"
    return Paragraph(text + ".")


def rom_device_note(rom: pd.DataFrame, *, threshold: int | None = None) -> Paragraph:
    """Footnote on range-of-motion readings with no device recorded; empty when every reading has one.

    ``rom`` is :func:`~needling_analytics.metrics.rom_change` (or rows of
    it): ``no_device_readings`` and ``mdc_device`` are used. Readings with no
    device are compared with one another against the measurement error of
    the clinic's commonest device for the joint and movement: "3 readings
    had no device recorded; their changes are judged against the
    measurement error of crom." With ``threshold`` (aggregate reports), a
    count from 1 to ``threshold - 1`` is written "Fewer than 11".
    """
    if rom is None or "no_device_readings" not in rom or rom.empty:
        return Paragraph("")
    missing = int(pd.to_numeric(rom["no_device_readings"], errors="coerce").fillna(0).sum())
    if not missing:
        return Paragraph("")
    devices = sorted({str(d) for d in rom["mdc_device"].dropna()}) if "mdc_device" in rom else []
    threshold = _cutoff(threshold)  # a Disclosure: None for the owner
    small = threshold is not None and 0 < missing < threshold
    count = f"Fewer than {threshold}" if small else f"{missing:,}"
    had = "reading had" if missing == 1 and not small else "readings had"
    its = "its change is" if missing == 1 and not small else "their changes are"
    if devices:
        names = " or ".join(label(d) for d in devices)
        judged = f"the measurement error of {names} (the device used most for that movement in this clinic)"
    else:
        judged = "the measurement error of an unknown device, the most cautious value"
    return Paragraph(f"{count} {had} no device recorded; {its} judged against {judged}.")


def practitioner_recording(recording: pd.DataFrame) -> Paragraph:
    """Whether practitioners are recorded, for the practitioner sections of the clinic report.

    ``recording`` is :func:`~needling_analytics.metrics.practitioner_recording`.
    No practitioner at all: "Practitioners are not recorded in this
    clinic's data, ..."; some sessions without one: "12 sessions have no
    practitioner recorded; ..."; every session has one: an empty paragraph.
    """
    row = recording.iloc[0] if len(recording) else pd.Series({"recorded": False, "without_practitioner": 0})
    if not bool(row["recorded"]):
        return Paragraph(
            "Practitioners are not recorded in this clinic's data, so they cannot be compared "
            "and no practitioner is named in this report."
        )
    missing = int(row["without_practitioner"])
    if not missing:
        return Paragraph("")
    verb = "session has" if missing == 1 else "sessions have"
    return Paragraph(
        f"{missing:,} attended {verb} no practitioner recorded; "
        f"{'it is' if missing == 1 else 'they are'} left out of the practitioner comparison."
    )


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _about(value: float) -> str:
    """0.2 -> '0.2', 1.0 -> '1', 12.5 -> '12' (an expected count, in words)."""
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}".removesuffix(".0")


def _and(words: list[str]) -> str:
    """['a', 'b', 'c'] -> 'a, b and c'."""
    return ", ".join(words[:-1]) + (" and " if len(words) > 1 else "") + words[-1] if words else ""


def case_mix_sentence(funnel: pd.DataFrame) -> str:
    """Whether the practitioner comparison allows for differences in patients, in one plain sentence.

    ``funnel`` is :func:`~needling_analytics.metrics.practitioner_comparison`'s
    funnel (its ``attrs``: ``adjusted``, ``covariates``,
    ``dropped_covariates``, ``adjustment_problems``). Names the factors
    allowed for, or says why none could be ("could not allow for
    differences in patients ... because ..."). An empty string for a funnel
    that never tried (plain :func:`~needling_analytics.metrics.practitioner_funnel`)
    or when nobody was compared.
    """
    from ..metrics.case_mix import COVARIATES

    attrs = funnel.attrs
    if "adjusted" not in attrs:
        return ""
    if attrs["adjusted"]:
        used = [COVARIATES[c] for c in attrs.get("covariates", []) if c in COVARIATES]
        if not used:
            return (
                "This comparison could not allow for differences in patients between practitioners, because "
                f"{_and(list(COVARIATES.values()))} were not recorded or the same for every patient."
            )
        return (
            f"This comparison allows for differences in the patients each practitioner sees ({_and(used)}): "
            "each practitioner's rate is set against what the clinic's average practitioner would achieve "
            "with the same patients."
        )
    problems = list(attrs.get("adjustment_problems", []))
    if not problems:
        return ""
    return (
        "This comparison could not allow for differences in patients between practitioners, because "
        f"{'; and '.join(problems)}; it compares their plain rates."
    )


def funnel_summary(funnel: pd.DataFrame, spread: pd.DataFrame) -> Paragraph:
    """What the funnel plot shows, in words: who is shown, how many are outside the limits, overdispersion.

    ``funnel`` is the funnel as drawn (usually
    :func:`~needling_analytics.reporting.tables.protect_funnel` output);
    ``spread`` is :func:`~needling_analytics.metrics.overdispersion`. The
    verdict is counted over **every** compared practitioner, including
    those hidden for privacy (``attrs["practitioner_counts"]``, from
    :func:`~needling_analytics.metrics.funnel_counts` on the unprotected
    funnel; without it, ``funnel`` itself with nobody hidden). Shown
    practitioners outside a limit are named; hidden ones only counted ("1
    practitioner not shown for privacy is below the 95% limit"). The
    paragraph says whether the comparison allows for case mix
    (:func:`case_mix_sentence`), how many practitioners chance alone would put outside
    the 95% limits, and never reads a result within the limits, or a
    non-significant overdispersion test, as proof that practitioners do not
    differ.
    """
    from ..metrics.funnel import MIN_PRACTITIONERS_FOR_WIDENING, funnel_counts

    excluded = int(funnel.attrs.get("excluded_practitioners", 0))
    minimum = funnel.attrs.get("min_episodes", 10)
    counts = funnel.attrs.get("practitioner_counts")
    if counts is None:
        counts = funnel_counts(funnel) if len(funnel) else {"practitioners": 0}
    compared = int(counts["practitioners"])
    few = f"; {excluded} with fewer {'are' if excluded != 1 else 'is'} left out because so few cases say little"
    if not compared:
        return Paragraph(UNAVAILABLE["funnel"][:-1] + f" (at least {minimum} are needed).")
    shown, hidden = int(counts["shown"]), int(counts["hidden"])
    if shown:
        text = _count(shown, "practitioner", "practitioners") + f" with at least {minimum} assessed courses of care "
        text += "are shown" if shown != 1 else "is shown"
        if hidden:
            text += (
                f"; {hidden} more {'are' if hidden != 1 else 'is'} compared but not shown, to protect patients' privacy"
            )
    else:
        text = (
            f"{_count(compared, 'practitioner has', 'practitioners have')} at least {minimum} assessed courses of care, "
            "but none can be shown without revealing small numbers of patients"
        )
    text += (few if excluded else "") + "."
    allowed = case_mix_sentence(funnel)
    text += f" {allowed}" if allowed else ""

    outside = int(counts["above_95"]) + int(counts["below_95"])
    everyone = "Every practitioner compared" if compared > 1 else "The practitioner compared"
    if not outside:
        text += (
            f" {everyone}{', including those not shown,' if hidden else ''} is within the 95% limits. "
            "That does not show that they get the same results: with these numbers, real differences "
            "can stay within the limits."
        )
    else:
        verb = "is" if outside == 1 else "are"
        who = "The practitioner compared" if compared == 1 else f"{outside} of the {compared} practitioners compared"
        text += f" {who} {verb} outside the 95% limits."
        named = funnel[funnel["flag"].astype(str) != "within"] if "flag" in funnel else funnel.iloc[0:0]
        if len(named):
            text += " Shown: " + "; ".join(f"{r.practitioner_id} ({r.flag} limit)" for r in named.itertuples()) + "."
        for flag, n in counts.get("hidden_outside", {}).items():
            side, level = str(flag).split(" ", 1)
            text += f" {_count(n, 'practitioner', 'practitioners')} not shown for privacy "
            text += f"{'is' if n == 1 else 'are'} {side} the {level} limit."
        text += " This is a prompt to look at the case mix and the records, not a verdict."
    expected = float(counts.get("expected_outside_95", 0.05 * compared))
    text += (
        " Even if every practitioner had the same underlying rate, chance alone would put about 1 practitioner "
        f"in 20 outside the 95% limits: about {_about(expected)} of the {compared} compared here."
    )

    row = spread.iloc[0] if len(spread) else None
    if row is not None and not _missing(row["p_value"]):
        least = int(spread.attrs.get("min_practitioners", MIN_PRACTITIONERS_FOR_WIDENING))
        inflation = float(row["inflation"])
        if bool(row["overdispersed"]) and inflation > 1:
            text += (
                " Practitioners vary more than chance allows, so the limits have been widened "
                f"(by a factor of {math.sqrt(inflation):.2f})."
            )
        elif bool(row["overdispersed"]) and int(row["practitioners"]) < least:
            text += (
                " Practitioners vary more than chance alone would usually give, but with fewer than "
                f"{least} practitioners that cannot be told apart from one unusual practitioner, "
                "so the limits are not widened."
            )
        elif bool(row["overdispersed"]):
            text += (
                " Practitioners vary more than chance alone would usually give, but not once the most extreme "
                "are set aside, so the limits are not widened."
            )
        else:
            text += (
                " The differences between practitioners are not clearly larger than chance would give "
                "(which does not show that they are equal), so the limits are not widened."
            )
    return Paragraph(text)


def _range(low: float, high: float, decimals: int = 1) -> str:
    return f"95% confidence interval {low:.{decimals}f} to {high:.{decimals}f}"


def frequency_paragraph(frequency) -> Paragraph:
    """How session frequency went with improvement, in plain words (a ``FrequencyAnalysis``).

    Describes the landmark design (courses still under way after four
    weeks; pain about eight weeks after the first visit), gives the
    association with its 95% interval only when it could be estimated,
    quotes the trajectory model only when it converged without warnings
    (otherwise one caveat sentence), and always ends on why this is an
    association, not cause and effect: confounding by indication, regression
    to the mean, and self-discharge.
    """
    table = frequency.patient_level
    attrs = table.attrs
    low, high = attrs.get("outcome_window", (42, 70))
    weeks = f"weeks {low / 7:g} and {high / 7:g}"
    in_care, scored = attrs.get("n_in_care_at_landmark", 0), attrs.get("n_with_outcome", 0)
    design = (
        f"To compare fairly, this looks only at courses of care still under way after four weeks "
        f"({in_care:,}), so that courses that ended early, often because the patient got better quickly, do not "
        "count as seen rarely. It counts each course's sessions in those first four weeks and compares its pain "
        f"about eight weeks after the first visit (the score nearest week 8, between {weeks}; {scored:,} of the "
        f"{in_care:,} courses had one) with its pain at the start. "
    )
    reason = attrs.get("reason")
    if attrs.get("estimable") is False and reason == "not_estimable":
        return Paragraph(
            "How session frequency relates to improvement cannot be estimated from these data: "
            f"{frequency_not_estimable(attrs)}. No figure is given for it."
        )
    if reason == "no_duration":
        return Paragraph(
            "How long symptoms had lasted before the first visit is not recorded in this clinic's data. The "
            "comparison of session frequency with improvement allows for it, so it cannot be made here."
        )
    if "early_frequency" not in table.index:
        return Paragraph(
            design + "Too few of them had a starting pain score, a score about eight weeks later and a recorded "
            "symptom duration to relate session frequency to improvement."
        )
    row = table.loc["early_frequency"]
    direction = "bigger" if row["estimate"] > 0 else "smaller"
    clear = row["ci_lower"] > 0 or row["ci_upper"] < 0
    verdict = (
        "a clear association"
        if clear
        else "the likely range includes no association at all, so these figures do not show which way it goes"
    )
    text = design + (
        f"Across the {attrs['n_episodes']:,} courses with everything needed, each extra session per week in the "
        f"first four weeks went with a fall in pain by week 8 {abs(row['estimate']):.1f} points {direction} "
        f"({_range(row['ci_lower'], row['ci_upper'])}), after allowing for starting pain and how long symptoms "
        f"had lasted: {verdict}. "
    )
    if attrs.get("cov_type") == "cluster":
        text += "The range allows for patients who had more than one course of care. "
    trajectory = frequency.trajectory
    caveat = trajectory_caveat(frequency)
    if caveat is not None:
        text += caveat + " "
    elif trajectory is not None and "weeks_by_early_frequency" in trajectory.fixed_effects.index:
        slope = trajectory.fixed_effects.loc["weeks_by_early_frequency"]
        faster = "faster" if slope["estimate"] < 0 else "slower"
        sign = -1.0 if slope["estimate"] < 0 else 1.0
        low_slope, high_slope = sorted([sign * slope["ci_lower"], sign * slope["ci_upper"]])
        text += (
            f"Over the course of care, pain fell {abs(slope['estimate']):.2f} points a week {faster} for each extra "
            f"early session per week ({_range(low_slope, high_slope, 2)}). "
        )
    sensitivity = frequency.sensitivity
    if len(sensitivity) == 2 and sensitivity["estimate"].notna().all():
        text += (
            "Leaving out courses of patients who stopped coming (recorded so, or not seen for 30 days) gives "
            f"{sensitivity['estimate'].iloc[1]:.1f} points instead of {sensitivity['estimate'].iloc[0]:.1f}. "
        )
    text += (
        "This is an association in routine care, not proof that more frequent sessions cause more improvement. "
        "Practitioners tend to see patients who are doing badly more often, and space out visits for those who "
        "improve, which can hide or reverse any benefit of more sessions. Pain is usually first scored near its "
        "worst, so it tends to fall anyway, whatever the number of sessions. Patients who stop coming may have "
        "improved or given up, which can bias these figures either way."
    )
    return Paragraph(text)


def trajectory_caveat(frequency) -> str | None:
    """The one sentence said instead of the week-by-week model when it cannot be quoted; None when it can.

    A model that could not be fitted (``trajectory_error``), did not converge,
    or warned (a variance on its boundary, a singular fit) is never quoted.
    """
    trajectory = frequency.trajectory
    if frequency.trajectory_error is not None:
        return "How fast pain fell week by week cannot be estimated from these data, so nothing is said about it."
    if trajectory is not None and (not trajectory.converged or trajectory.fit_warnings):
        return (
            "A model of how fast pain fell week by week could not be fitted reliably to these data, so nothing is "
            "said about it."
        )
    return None


def _event_words(event_type, severity) -> str:
    if event_type == "any":
        return "any significant or serious event" if severity == "major" else "any minor event"
    return label(event_type) + (" (significant or serious)" if severity == "major" else "")


def safety_summary(table: pd.DataFrame) -> Paragraph:
    """What the safety table's comparison column says, in one paragraph a clinic owner can read.

    ``table`` is :func:`~needling_analytics.reporting.tables.adverse_event_table`
    (already protected: a hidden comparison, ``"*"``, is only counted).
    Names the event types higher and lower here than a published survey
    (an exact test at the 5% level), and those the clinic never records;
    says that "no clear difference" is not proof of equal rates, and that
    careful recording raises a clinic's rates.
    """
    if table is None or table.empty:
        return Paragraph("There are no adverse-event figures to compare with published rates.")

    def named(code):
        rows = table[table["comparison"] == code]
        grouped = rows.groupby(["event_type", "severity"], sort=False)["study"].agg(lambda s: " and ".join(s))
        return [f"{_event_words(t, v)} ({studies})" for (t, v), studies in grouped.items()]

    parts = []
    for code, words in (("above", "higher here than published"), ("below", "lower here than published")):
        found = named(code)
        if found:
            parts.append(f"{words} for {', '.join(found)}")
    text = (
        f"Compared with the published surveys, rates are {'; '.join(parts)}: further from the published rate than "
        "chance usually takes a clinic's figures. "
        if parts
        else "No rate here is clearly higher or lower than the published ones. "
    )
    text += (
        'Where the table reads "no clear difference", the rates may still differ: with events this rare, a real '
        "difference can go unseen. "
    )
    unrecorded = list(dict.fromkeys(_event_words(t, v) for t, v in table.loc[
        table["comparison"] == "not_recorded", ["event_type", "severity"]].itertuples(index=False)))  # fmt: skip
    if unrecorded:
        text += (
            f"{', '.join(unrecorded).capitalize()} {'is' if len(unrecorded) == 1 else 'are'} not recorded in this "
            "clinic's data, so no comparison is made (a rate of zero would only mean it is not written down). "
        )
    hidden = table.loc[table["comparison"].astype(str) == "*", ["event_type", "severity"]].drop_duplicates()
    if len(hidden):
        text += (
            f"{_count(len(hidden), 'event type rests', 'event types rest')} on too few events to show or compare, "
            "to protect patients' privacy. "
        )
    text += "A clinic that records every minor event carefully shows higher rates than one that does not."
    return Paragraph(text)


#: What a monthly control chart shows, in words (see :func:`control_chart_summary`).
_CHART_WORDS = {"p": "the share improved", "u": "the adverse-event rate"}


def control_chart_summary(chart: pd.DataFrame) -> Paragraph:
    """The sentence under a monthly control chart: which months fall outside the limits, if any.

    ``chart`` is the chart as drawn (usually
    :func:`~needling_analytics.reporting.tables.protect_control_chart`
    output). Shown months outside the limits are named; hidden ones only
    counted ("1 month not shown for privacy is below the limits"). The
    paragraph says that points within the limits are normal month-to-month
    variation, and never reads them as proof that nothing changed.
    """
    kind = chart.attrs.get("kind", "p")
    what = _CHART_WORDS.get(kind, "the rate")
    shown = chart[~chart["hidden"].astype(bool)] if "hidden" in chart else chart
    shown = shown[shown["rate"].notna()]
    hidden = int(chart.attrs.get("hidden_months", 0))
    if shown.empty and not hidden:
        return Paragraph(f"No month has figures to chart {what}.")
    above = [period_label(m) for m in shown.loc[shown["outside"] & (shown["rate"] > shown["upper"]), "month"]]
    below = [period_label(m) for m in shown.loc[shown["outside"] & (shown["rate"] < shown["lower"]), "month"]]
    parts = [f"above the limits in {', '.join(above)}"] if above else []
    parts += [f"below {'them' if above else 'the limits'} in {', '.join(below)}"] if below else []
    if parts:
        text = (
            f"{what[0].upper()}{what[1:]} was {' and '.join(parts)}: further from the average than month-to-month "
            "chance usually takes it, so worth a look at what was different."
        )
    elif len(shown):
        text = "No month shown is outside the limits."
    else:
        text = "No month can be shown without revealing small numbers of patients."
    secret = chart.attrs.get("hidden_outside", {})
    for side, words in (("above", "above the limits"), ("below", "below the limits")):
        n = int(secret.get(side, 0))
        if n:
            text += f" {_count(n, 'month', 'months')} not shown for privacy {'is' if n == 1 else 'are'} {words}."
    if hidden:
        text += (
            f" {_count(hidden, 'month is', 'months are')} not drawn, to protect patients' privacy "
            "(a point would reveal a small number of patients or events)."
        )
    text += (
        " A point within the limits is normal month-to-month variation. That does not show that nothing changed: "
        "with these numbers, a real change can stay within the limits."
    )
    return Paragraph(text)


def fit_summary(fit) -> Paragraph:
    """How a trajectory model was fitted (``TrajectoryResult``), in words, with its warnings."""
    text = (
        f"Fitted {fit.formula} by {fit.method} on {fit.n_observations:,} measurements from "
        f"{fit.n_subjects:,} subjects ({fit.n_dropped:,} rows left out for missing values). "
    )
    if getattr(fit, "grouping", None) == "patient":
        text += f"Subjects are nested in {fit.n_patients:,} patients, some of whom have several. "
    if getattr(fit, "time_model", None) == "piecewise" and fit.knots:
        text += f"Time is piecewise linear with a change of slope at {', '.join(f'{k:g}' for k in fit.knots)}. "
    elif getattr(fit, "time_model", None) == "spline":
        text += f"Time is a natural cubic spline with {fit.spline_df} degrees of freedom. "
    p_value = getattr(fit, "slope_lrt_p", float("nan"))
    if p_value == p_value:  # tested: not NaN
        kept = "kept" if fit.random_slope else "not kept"
        text += f"A random slope on time was {kept} (likelihood-ratio test, p = {p_value:.2g}). "
    text += (
        "The fit converged cleanly."
        if fit.converged
        else "The fit did not converge cleanly: treat the estimates with care."
    )
    if fit.fit_warnings:
        text += " Fitting reported: " + "; ".join(fit.fit_warnings) + "."
    return Paragraph(text)


def data_quality_note(quality) -> Html:
    """The data-quality appendix: the loader's summary, or where to find it when the data came from a cache.

    ``quality`` is ``Clinic.quality`` (a ``QualityReport``); a clinic read
    from a metrics cache has an empty one.
    """
    if quality is None or quality.tables is None or len(quality.tables) == 0:
        return Html(
            '<p class="na-text">This report was built from the run\'s metrics cache; the data-quality report '
            "(rows read, kept and set aside, and why) is listed in the run's index.</p>"
        )
    return Html(f'<pre class="na-quality">{html.escape(quality.summary())}</pre>')


#: Who an aggregate report is for, in the words its header uses.
AUDIENCE_LINES = {
    "owner": "For the clinic owner: not for sharing. Every count is shown, small ones included.",
    "staff": "For staff: small counts are hidden to protect patients' privacy.",
    "public": "Suitable for sharing: small counts are hidden to protect patients' privacy.",
}


def audience_line(disclosure) -> str:
    """The header's sentence on who the report is for (``disclosure``: a Disclosure or an audience name)."""
    policy = disclosure if isinstance(disclosure, Disclosure) else Disclosure(str(disclosure))
    line = AUDIENCE_LINES[policy.audience]
    if policy.rounds:
        line = line.replace(" are hidden", " are hidden, the others rounded to the nearest 5,")
    return line


def report_header(title: str, subtitle: str = "", *, audience: Disclosure | str | None = None) -> Html:
    """The report's title block (HTML); with ``audience``, a line saying who the report is for (:func:`audience_line`)."""
    sub = f'<p class="na-subtitle" style="margin:0;color:#555;">{html.escape(subtitle)}</p>' if subtitle else ""
    if audience is not None:
        sub += f'<p class="na-audience" style="margin:0.2em 0 0 0;font-weight:600;">{html.escape(audience_line(audience))}</p>'
    return Html(
        '<header class="na-header" style="border-bottom:2px solid #0173b2;margin-bottom:1em;padding-bottom:0.4em;">'
        f'<h1 style="margin:0 0 0.2em 0;">{html.escape(title)}</h1>{sub}</header>'
    )


def report_footer(*, title: str, clinic_name: str, period: str, as_of, rule, version: str) -> Html:
    """The report's footer (HTML): title, clinic, period, as-of date, responder rule in words, package version.

    A row whose value is empty (e.g. no clinic name) is left out.
    """
    rows = [
        ("Report", title),
        ("Clinic", clinic_name),
        ("Period", period),
        ("Data complete to", format_date(as_of) if not isinstance(as_of, str) else as_of),
        ("Clinically important improvement", _rule(rule).describe()),
        ("Produced with", f"needling-analytics {version}"),
    ]
    rows = [(k, v) for k, v in rows if v]  # e.g. no clinic name: no row
    cells = "".join(
        f'<tr><th style="text-align:left;padding-right:1em;font-weight:600;">{html.escape(k)}</th>'
        f'<td style="text-align:left;">{html.escape(str(v))}</td></tr>'
        for k, v in rows
    )
    return Html(
        '<footer class="na-footer" style="margin-top:2em;border-top:1px solid #ccc;padding-top:0.5em;'
        f'font-size:0.85em;color:#444;"><table>{cells}</table></footer>'
    )


def frequency_not_estimable(attrs: Mapping) -> str:
    """Why session frequency cannot be related to improvement, in plain words.

    ``attrs`` is ``FrequencyAnalysis.patient_level.attrs`` with ``reason``
    ``not_estimable``; its ``detail`` code (``same_frequency``,
    ``tied_to_covariates``, ``single_course``) is worded here.
    """
    detail = attrs.get("detail")
    if detail == "same_frequency":
        return (
            "every course of care had the same number of sessions in its first four weeks "
            f"({attrs['early_frequency']:.1f} a week), so there is nothing to compare"
        )
    if detail == "tied_to_covariates":
        return "session frequency is tied exactly to starting pain or symptom duration in these courses of care"
    return (
        "a single course of care alone determines part of the comparison (for example the only one seen at its "
        "frequency), so how uncertain the result is cannot be worked out"
    )
