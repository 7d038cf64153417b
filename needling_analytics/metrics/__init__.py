"""Clinical outcome metrics: tidy DataFrames in, tidy DataFrames out.

Every function takes the loaded clinic (or a frame derived from it) and
returns a new DataFrame whose columns are listed in its docstring; nothing
mutates its input. Definitions, units and sources: ``docs/metrics.md``.

Submodules are imported on first use, so a report that needs only pain and
range of motion never pays for importing statsmodels.
"""

from __future__ import annotations

import importlib

#: Public name -> the submodule that defines it.
_WHERE = {
    "DEFAULT_RULE": "pain",
    "ExpectedRecovery": "recovery",
    "FrequencyAnalysis": "frequency",
    "ModelWarning": "models",
    "ResponderRule": "pain",
    "TrajectoryResult": "models",
    "adverse_event_rates": "safety",
    "analyze_frequency": "frequency",
    "attendance": "attendance",
    "attribute_episodes": "practitioners",
    "calibration_table": "recovery_check",
    "case_mix_adjusted": "case_mix",
    "compare_to_benchmarks": "safety_benchmarks",
    "control_chart": "control",
    "courses_not_on_track": "recovery_use",
    "difference_funnel": "recovery_funnel",
    "difference_funnel_limits": "recovery_funnel",
    "episode_pain": "pain",
    "expected_at_fixed_time": "recovery_use",
    "fit_expected_recovery": "recovery",
    "pain_readings": "pain",
    "fit_trajectory": "models",
    "funnel_counts": "funnel",
    "funnel_limits": "funnel",
    "instrument_table": "norms",
    "journal_trend": "journal",
    "kaplan_meier": "survival",
    "landmark_outcomes": "landmark",
    "load_expected_recovery": "recovery",
    "logrank_test": "survival",
    "mdc_table": "norms",
    "median_time": "survival",
    "month_over_month": "control",
    "monthly_activity": "activity",
    "monthly_control_chart": "control",
    "normal_rom": "norms",
    "overdispersion": "funnel",
    "post_session_soreness": "journal",
    "practitioner_comparison": "case_mix",
    "practitioner_funnel": "funnel",
    "practitioner_recording": "practitioners",
    "prom_change": "proms",
    "published_benchmarks": "safety_benchmarks",
    "recovery_effectiveness": "recovery_use",
    "recovery_summary": "recovery_check",
    "residual_table": "models",
    "responder_curve": "responders",
    "responder_sensitivity": "responders",
    "rom_change": "rom",
    "serious_events": "safety",
    "session_exposures": "landmark",
    "session_pain": "pain",
    "summarize_attendance": "attendance",
    "summarize_proms": "proms",
    "summarize_responders": "responders",
    "summarize_soreness": "journal",
    "time_to_response": "response_time",
}

__all__ = sorted(_WHERE)

# A function named like its own module must be bound now: importing the
# submodule later (as other metrics do) would otherwise leave the module,
# not the function, under this name.
from .attendance import attendance  # noqa: E402, F401


def __getattr__(name: str):
    if name in _WHERE:
        value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_WHERE])
