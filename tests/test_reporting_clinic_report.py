"""The clinic report's helper path computes the course-level outcomes once and passes the frame on.

The clinic report used to call ``metrics.episode_pain`` about seven times;
its outcome sections now share one :func:`cohort.episode_outcomes` of every
course (``ended_courses`` of it for outcome rates, the frame itself for the
attendance table). The metrics that start from the clinic itself
(``monthly_activity``, ``analyze_frequency``, ``time_to_response``,
``practitioner_comparison``) still compute their own: they take a clinic,
not outcomes.
"""

from __future__ import annotations

import importlib
import sys
from unittest import mock

import pandas as pd
import pytest

from needling_analytics import cohort, metrics, reporting
from needling_analytics.clinic import Clinic
from needling_analytics.demo import generate_clinic

MONTH = "2026-10"


@pytest.fixture(scope="module")
def window():
    return cohort.clinic_window(
        Clinic.from_frames(**generate_clinic(n_patients=80, seed=1), as_of="2026-11-28"), MONTH, months=12
    )


def _outcome_sections(window, rule, disclosure) -> dict:
    """The clinic report's cells that use course-level outcomes, in its order (notebooks/clinic_report.py)."""
    courses = cohort.episode_outcomes(window, rule=rule)
    outcomes = cohort.ended_courses(courses, window)
    overall = metrics.summarize_responders(outcomes)
    sensitivity = metrics.responder_sensitivity(outcomes)
    return {
        "outcomes": outcomes,
        "overall": overall,
        "summary": reporting.responder_summary(
            overall, rule=rule, min_cell_size=disclosure, ongoing=outcomes.attrs["ongoing_courses"]
        ),
        "sensitivity": reporting.responder_sensitivity_table(sensitivity, min_cell_size=disclosure),
        "curve": metrics.responder_curve(outcomes),
        "by_region": reporting.responders_by(outcomes, "body_region", min_cell_size=disclosure),
        "rom": reporting.rom_summary(
            cohort.ended_courses(metrics.rom_change(window), window), min_cell_size=disclosure
        ),
        "proms": reporting.prom_summary(
            cohort.ended_courses(metrics.prom_change(window), window), min_cell_size=disclosure
        ),
        "attendance": reporting.attendance_table(courses, min_cell_size=disclosure),
    }


def test_the_clinic_report_computes_course_outcomes_once(window):
    pain_module = importlib.import_module("needling_analytics.metrics.pain")
    attendance_module = sys.modules["needling_analytics.metrics.attendance"]
    real = pain_module.episode_pain
    everywhere = mock.Mock(wraps=real)  # any caller: the report's helpers and the metrics inside them
    with (
        mock.patch.object(metrics, "episode_pain", wraps=real) as by_report,
        mock.patch.object(metrics, "attendance", wraps=metrics.attendance) as attendance,
        mock.patch.object(pain_module, "episode_pain", everywhere),
        mock.patch.object(attendance_module, "episode_pain", everywhere),
    ):
        _outcome_sections(window, metrics.DEFAULT_RULE, reporting.Disclosure())
    assert by_report.call_count == 1  # one episode_outcomes for every section
    assert attendance.call_count == 1  # inside it; the attendance table reuses its columns
    # all told: that one, and the one metrics.attendance makes for its follow-up column (was 3 with 2 attendance calls)
    assert everywhere.call_count + by_report.call_count <= 2


def test_the_shared_outcomes_give_the_same_tables_as_computing_each_anew(window):
    disclosure = reporting.Disclosure()
    shared = _outcome_sections(window, metrics.DEFAULT_RULE, disclosure)
    anew = cohort.episode_outcomes(window, courses="ended")
    pd.testing.assert_frame_equal(shared["outcomes"], anew)
    assert shared["outcomes"].attrs == anew.attrs
    pd.testing.assert_frame_equal(
        shared["attendance"], reporting.attendance_table(metrics.attendance(window), min_cell_size=disclosure)
    )
