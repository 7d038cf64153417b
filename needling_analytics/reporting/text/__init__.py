"""Plain-language sentences and small HTML blocks for reports read by people who are not statisticians.

Every function is pure: values in, a string out. Sentences are returned as
:class:`Paragraph` and HTML blocks as :class:`Html`, both ordinary ``str``
subclasses that a notebook displays as a paragraph or as HTML (they carry
``_repr_html_``). Any text inserted into HTML is escaped with
:func:`html.escape`.

The thresholds quoted come from the responder rule the report used
(:class:`~needling_analytics.metrics.ResponderRule`; default 2 points and
30%, Farrar 2001, Pain 94:149; Childs 2005, Spine 30:1331).

One module per part of a report: :mod:`.words` (building blocks: codes,
numbers, dates, the rule), :mod:`.page` (header, footer, data quality),
:mod:`.patient` (and :mod:`.recovery`: "patients like you"), :mod:`.outcomes`, :mod:`.monthly` (control charts),
:mod:`.frequency`, :mod:`.safety`, :mod:`.practitioners` and
:mod:`.recovery_clinic` (the clinic report's expected-recovery sections). Their public
functions are all here, so ``text.<name>`` works for any of them.
"""

from .frequency import fit_summary, frequency_not_estimable, frequency_paragraph, trajectory_caveat
from .monthly import control_chart_summary
from .outcomes import median_sentence, responder_summary, rom_device_note, sensitivity_sentence
from .page import AUDIENCE_LINES, audience_line, data_quality_note, report_footer, report_header
from .patient import attendance_sentence, episode_period, episode_subtitle, patient_headline
from .practitioners import case_mix_sentence, funnel_summary, practitioner_recording
from .recovery import (
    EXPECTED_COURSE_CAVEAT,
    MIN_SIMILAR,
    expected_course_sentence,
    expected_course_unavailable,
    reading_the_expected_course,
    similar_threshold,
)
from .recovery_clinic import (
    adjusted_funnel_intro,
    adjusted_funnel_summary,
    not_on_track_summary,
    predicted_vs_actual_summary,
    recovery_unavailable,
    recovery_validation_note,
    responder_funnel_intro,
)
from .safety import safety_summary
from .words import (
    LABELS,
    NATURAL_RECOVERY,
    PATIENT_NATURAL_RECOVERY,
    UNAVAILABLE,
    Headline,
    Html,
    Paragraph,
    date_range,
    describe_rule,
    format_count,
    format_date,
    format_pct,
    format_points,
    label,
    paragraph,
    period_label,
    section_unavailable,
)

__all__ = [
    "AUDIENCE_LINES",
    "EXPECTED_COURSE_CAVEAT",
    "Headline",
    "Html",
    "LABELS",
    "MIN_SIMILAR",
    "NATURAL_RECOVERY",
    "PATIENT_NATURAL_RECOVERY",
    "UNAVAILABLE",
    "Paragraph",
    "adjusted_funnel_intro",
    "adjusted_funnel_summary",
    "attendance_sentence",
    "audience_line",
    "case_mix_sentence",
    "control_chart_summary",
    "data_quality_note",
    "date_range",
    "describe_rule",
    "episode_period",
    "episode_subtitle",
    "expected_course_sentence",
    "expected_course_unavailable",
    "reading_the_expected_course",
    "fit_summary",
    "format_count",
    "format_date",
    "format_pct",
    "format_points",
    "frequency_not_estimable",
    "frequency_paragraph",
    "funnel_summary",
    "label",
    "median_sentence",
    "not_on_track_summary",
    "paragraph",
    "patient_headline",
    "period_label",
    "practitioner_recording",
    "predicted_vs_actual_summary",
    "recovery_unavailable",
    "recovery_validation_note",
    "report_footer",
    "report_header",
    "responder_funnel_intro",
    "responder_summary",
    "rom_device_note",
    "safety_summary",
    "section_unavailable",
    "sensitivity_sentence",
    "similar_threshold",
    "trajectory_caveat",
]
