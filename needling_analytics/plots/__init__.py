"""Plots for report notebooks: one ``plot_*`` function per metric view, each returning its ``Axes``.

Every function takes the tidy DataFrame a metric returns, draws on ``ax``
(or on a new A4-wide figure), and never shows or saves: the notebook
decides. Call :func:`set_theme` once at the top of a notebook for the
house style; colours come from :data:`PALETTE` (seaborn "colorblind").
Empty input draws "No data to show" instead of raising.

One module per report section: the patient report (:mod:`.patient`) and its
expected course of pain, "patients like you" (:mod:`.recovery`); the
clinic report's activity (:mod:`.activity`), control charts
(:mod:`.control`), outcomes (:mod:`.outcomes`), session frequency
(:mod:`.frequency`), time to improvement (:mod:`.survival`), safety
(:mod:`.safety`) and practitioners (:mod:`.practitioners`); the research
notebook's calibration of the expected-recovery model (:mod:`.calibration`); the house style
and shared drawing helpers in :mod:`.theme`. Wording is for a clinic owner:
plain units, "association" where the data cannot show cause, and no
ranking of practitioners.

Privacy: every clinic chart that shows counts, or rates built on counts,
takes ``min_cell_size`` (the clinic report passes 11). With it, no value
built on 1 to ``min_cell_size - 1`` patients, episodes or events is drawn:
such a value is left out, pooled with its neighbours, or drawn as a
hatched mark labelled ``"<11"``, and a grey line under the chart says so.
The decisions are made by :mod:`needling_analytics.privacy`. Without it
(the default) every value is drawn, for the clinic's own analyses.
"""

from .activity import plot_monthly_activity
from .calibration import plot_calibration
from .control import plot_control_chart
from .frequency import plot_frequency_association
from .outcomes import plot_pain_change_distribution, plot_responder_curve
from .patient import plot_journal, plot_pain_over_sessions, plot_prom_scores, plot_rom_progress, target_pain
from .practitioners import plot_funnel
from .recovery import plot_expected_course
from .recovery_funnel import plot_difference_funnel
from .safety import plot_adverse_event_rates
from .survival import plot_time_to_response
from .theme import PALETTE, set_theme

__all__ = [
    "PALETTE",
    "plot_adverse_event_rates",
    "plot_calibration",
    "plot_control_chart",
    "plot_expected_course",
    "plot_difference_funnel",
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
