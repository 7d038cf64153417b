"""Clinical outcome metrics: tidy DataFrames in, tidy DataFrames out.

Every function takes the loaded clinic (or a frame derived from it) and
returns a new DataFrame whose columns are listed in its docstring; nothing
mutates its input. Definitions, units and sources: ``docs/metrics.md``.
"""

from .pain import DEFAULT_RULE, ResponderRule, episode_pain, responder_curve, session_pain, summarize_responders

__all__ = [
    "DEFAULT_RULE",
    "ResponderRule",
    "episode_pain",
    "responder_curve",
    "session_pain",
    "summarize_responders",
]
