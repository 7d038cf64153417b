"""Report content for people who are not statisticians: the one facade the report notebooks import.

The notebooks call ``reporting.<name>`` only; the names come from these
modules:

- :mod:`.cache`: the run's metrics cache (computed once, read per report);
- :mod:`.inputs`: a report's clinic or patient, and the run's settings;
- :mod:`.patient_recovery`: the patient report's "patients like you" section;
- :mod:`.display`: tables and charts for readers, or one sentence instead;
- :mod:`.monthly`, :mod:`.summaries`, :mod:`.funnel`: the clinic report's protected tables and chart inputs;
- :mod:`.text`: plain-language sentences and the report's header and footer;
- :mod:`.recovery`: the clinic report's expected-recovery sections (predicted versus actual, the
  adjusted practitioner funnel, courses not on track);
- :mod:`.results`: ``summary.json`` and ``tables/*.csv`` beside the report;
- :mod:`.suppression` and :mod:`.pseudonyms`: small counts and practitioners protected.

Choosing which courses of care a report counts is not here but one layer
down, in :mod:`needling_analytics.cohort`.
"""

from ..privacy.suppression import COMPLEMENT, Disclosure
from .cache import PatientData, RunSettings, read_clinic, read_patient, read_recovery, read_settings, write_cache
from .display import chart_or_note, for_display, table_or_note
from .funnel import funnel_curve, protect_funnel
from .inputs import open_clinic, open_patient, run_settings, select_episode
from .monthly import BEYOND_VARIATION, KPIS, NOT_TESTED, WITHIN_VARIATION, kpi_table, protect_control_chart
from .patient_recovery import RecoverySection, course_scores, recovery_section
from .pseudonyms import label_practitioners, practitioner_labels, pseudonym_note
from .recovery import (
    ClinicRecovery,
    FunnelView,
    adjusted_funnel_curve,
    clinic_recovery,
    not_on_track_table,
    practitioner_view,
    predicted_vs_actual,
    protect_difference_funnel,
    recovery_figures,
)
from .results import clinic_summary, frequency_figures, responder_figures, write_results
from .summaries import (
    SENSITIVITY_METHODS,
    adverse_event_table,
    attendance_table,
    prom_summary,
    responder_sensitivity_table,
    responders_by,
    rom_summary,
)
from .suppression import SUPPRESSION_NOTE, suppress_small_counts, suppression_note
from .text import (
    AUDIENCE_LINES,
    EXPECTED_COURSE_CAVEAT,
    LABELS,
    MIN_SIMILAR,
    NATURAL_RECOVERY,
    PATIENT_NATURAL_RECOVERY,
    UNAVAILABLE,
    Headline,
    Html,
    Paragraph,
    adjusted_funnel_intro,
    adjusted_funnel_summary,
    attendance_sentence,
    audience_line,
    case_mix_sentence,
    control_chart_summary,
    data_quality_note,
    date_range,
    describe_rule,
    episode_period,
    episode_subtitle,
    expected_course_sentence,
    expected_course_unavailable,
    fit_summary,
    format_count,
    format_date,
    format_pct,
    format_points,
    frequency_not_estimable,
    frequency_paragraph,
    funnel_summary,
    label,
    median_sentence,
    not_on_track_summary,
    paragraph,
    patient_headline,
    period_label,
    practitioner_recording,
    predicted_vs_actual_summary,
    reading_the_expected_course,
    recovery_unavailable,
    recovery_validation_note,
    report_footer,
    report_header,
    responder_funnel_intro,
    responder_summary,
    rom_device_note,
    safety_summary,
    section_unavailable,
    sensitivity_sentence,
    similar_threshold,
    trajectory_caveat,
)

__all__ = [
    # cache
    "PatientData",
    "RunSettings",
    "read_clinic",
    "read_patient",
    "read_recovery",
    "read_settings",
    "write_cache",
    # inputs
    "open_clinic",
    "open_patient",
    "run_settings",
    "select_episode",
    # the patient report's "patients like you"
    "RecoverySection",
    "course_scores",
    "recovery_section",
    # display
    "chart_or_note",
    "for_display",
    "table_or_note",
    # monthly, summaries, funnel
    "BEYOND_VARIATION",
    "KPIS",
    "NOT_TESTED",
    "SENSITIVITY_METHODS",
    "WITHIN_VARIATION",
    "adverse_event_table",
    "attendance_table",
    "funnel_curve",
    "kpi_table",
    "prom_summary",
    "protect_control_chart",
    "protect_funnel",
    "responder_sensitivity_table",
    "responders_by",
    "rom_summary",
    # text
    "AUDIENCE_LINES",
    "EXPECTED_COURSE_CAVEAT",
    "LABELS",
    "MIN_SIMILAR",
    "NATURAL_RECOVERY",
    "PATIENT_NATURAL_RECOVERY",
    "UNAVAILABLE",
    "Headline",
    "Html",
    "Paragraph",
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
    "paragraph",
    "patient_headline",
    "period_label",
    "practitioner_recording",
    "report_footer",
    "report_header",
    "responder_summary",
    "rom_device_note",
    "safety_summary",
    "section_unavailable",
    "sensitivity_sentence",
    "similar_threshold",
    "trajectory_caveat",
    # recovery (the clinic report's expected-recovery sections)
    "ClinicRecovery",
    "FunnelView",
    "adjusted_funnel_curve",
    "clinic_recovery",
    "not_on_track_table",
    "practitioner_view",
    "predicted_vs_actual",
    "protect_difference_funnel",
    "recovery_figures",
    "adjusted_funnel_intro",
    "adjusted_funnel_summary",
    "not_on_track_summary",
    "predicted_vs_actual_summary",
    "recovery_unavailable",
    "recovery_validation_note",
    "responder_funnel_intro",
    # results
    "clinic_summary",
    "frequency_figures",
    "responder_figures",
    "write_results",
    # suppression and pseudonyms
    "COMPLEMENT",
    "SUPPRESSION_NOTE",
    "Disclosure",
    "label_practitioners",
    "practitioner_labels",
    "pseudonym_note",
    "suppress_small_counts",
    "suppression_note",
]
