"""Plots for report notebooks: one ``plot_*`` function per metric view, each returning its ``Axes``.

Every function takes the tidy DataFrame a metric returns, draws on ``ax``
(or on a new A4-wide figure), and never shows or saves: the notebook
decides. Call :func:`set_theme` once at the top of a notebook for the
house style; colours come from :data:`PALETTE` (seaborn "colorblind").
Empty input draws "No data to show" instead of raising.
"""

from .clinic import (
    plot_adverse_event_rates,
    plot_frequency_association,
    plot_funnel,
    plot_monthly_activity,
    plot_pain_change_distribution,
    plot_responder_curve,
    plot_time_to_response,
)
from .control import plot_control_chart
from .patient import plot_journal, plot_pain_over_sessions, plot_prom_scores, plot_rom_progress, target_pain
from .theme import PALETTE, set_theme

__all__ = [
    "PALETTE",
    "plot_adverse_event_rates",
    "plot_control_chart",
    "plot_frequency_association",
    "plot_funnel",
    "plot_journal",
    "plot_monthly_activity",
    "plot_pain_change_distribution",
    "plot_pain_over_sessions",
    "plot_prom_scores",
    "plot_responder_curve",
    "plot_rom_progress",
    "plot_time_to_response",
    "set_theme",
    "target_pain",
]
