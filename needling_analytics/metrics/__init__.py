"""Clinical outcome metrics: tidy DataFrames in, tidy DataFrames out.

Every function takes the loaded clinic (or a frame derived from it) and
returns a new DataFrame whose columns are listed in its docstring; nothing
mutates its input. Definitions, units and sources: ``docs/metrics.md``.
"""

from .activity import monthly_activity, parse_month
from .attendance import attendance, summarize_attendance
from .pain import DEFAULT_RULE, ResponderRule, episode_pain, responder_curve, session_pain, summarize_responders
from .safety import adverse_event_rates, compare_to_benchmarks, published_benchmarks, serious_events

__all__ = [
    "DEFAULT_RULE",
    "ResponderRule",
    "adverse_event_rates",
    "attendance",
    "compare_to_benchmarks",
    "episode_pain",
    "monthly_activity",
    "parse_month",
    "published_benchmarks",
    "responder_curve",
    "serious_events",
    "session_pain",
    "summarize_attendance",
    "summarize_responders",
]
