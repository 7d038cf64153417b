"""Clinical outcome metrics: tidy DataFrames in, tidy DataFrames out.

Every function takes the loaded clinic (or a frame derived from it) and
returns a new DataFrame whose columns are listed in its docstring; nothing
mutates its input. Definitions, units and sources: ``docs/metrics.md``.
"""

from .activity import monthly_activity, parse_month
from .attendance import attendance, summarize_attendance
from .frequency import FrequencyAnalysis, analyze_frequency, session_exposures
from .journal import journal_trend, post_session_soreness, summarize_soreness
from .models import ModelWarning, TrajectoryResult, fit_trajectory
from .norms import instrument_table, mdc_table, normal_rom
from .pain import DEFAULT_RULE, ResponderRule, episode_pain, responder_curve, session_pain, summarize_responders
from .practitioners import attribute_episodes, case_mix_adjusted, funnel_limits, overdispersion, practitioner_funnel
from .proms import prom_change, summarize_proms
from .rom import rom_change
from .safety import adverse_event_rates, compare_to_benchmarks, published_benchmarks, serious_events
from .survival import kaplan_meier, logrank_test, median_time, time_to_response

__all__ = [
    "DEFAULT_RULE",
    "FrequencyAnalysis",
    "ModelWarning",
    "ResponderRule",
    "TrajectoryResult",
    "adverse_event_rates",
    "analyze_frequency",
    "attendance",
    "attribute_episodes",
    "case_mix_adjusted",
    "compare_to_benchmarks",
    "episode_pain",
    "fit_trajectory",
    "funnel_limits",
    "instrument_table",
    "journal_trend",
    "kaplan_meier",
    "logrank_test",
    "mdc_table",
    "median_time",
    "monthly_activity",
    "normal_rom",
    "overdispersion",
    "parse_month",
    "post_session_soreness",
    "practitioner_funnel",
    "prom_change",
    "published_benchmarks",
    "responder_curve",
    "rom_change",
    "serious_events",
    "session_exposures",
    "session_pain",
    "summarize_attendance",
    "summarize_proms",
    "summarize_responders",
    "summarize_soreness",
    "time_to_response",
]
