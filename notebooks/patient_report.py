# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python (needling-analytics)
#     language: python
#     name: needling-analytics
# ---

# %%
import warnings

import needling_analytics
from needling_analytics import plots, reporting

warnings.filterwarnings("ignore")
plots.set_theme()

# %% tags=["parameters"]
patient_id: str = "P0001"  # the patient to report, as the clinic's records identify them
episode_id: str = ""  # the course of care to report; empty: the patient's most recent one
cache_dir: str = ""  # the run's metrics cache; empty: build one in a temporary folder from data_dir
data_dir: str = "data/demo"  # the clinic's data folder, read only when cache_dir is empty
as_of: str = ""  # date the data is complete to (YYYY-MM-DD), only when cache_dir is empty; empty: today

# %%
patient = reporting.open_patient(patient_id, episode_id=episode_id, cache_dir=cache_dir, data_dir=data_dir, as_of=as_of)

# %%
reporting.report_header(
    "Progress report", (patient.clinic_name, reporting.episode_subtitle(patient_id, patient.episodes))
)

# %% [markdown]
# How this course of dry-needling care is going: pain at every session,
# compared with patients like you, range of motion, questionnaires, the
# home journal, side effects and attendance. The report holds this patient's data only.

# %% [markdown]
# ## Summary

# %%
reporting.patient_headline(patient.episodes, rule=patient.rule)

# %%
reporting.describe_rule(patient.rule)

# %% [markdown]
# ## Pain before and after every session
#
# Pain is scored from 0 (no pain) to 10 (the worst imaginable). Filled dots
# are the score given before each session, open dots the score just after
# it. Diamonds, if any, are follow-up assessments between sessions (a call
# or a questionnaire); they count as pain scores of the course too. The
# dashed green line is the score to reach for a clinically important
# improvement, counted from the first score.

# %%
reporting.chart_or_note(
    plots.plot_pain_over_sessions,
    patient.pain,
    section="pain",
    needs=["pain_pre", "pain_post"],
    rule=patient.rule,
    assessments=patient.pain_followup,
)

# %% [markdown]
# ## Your progress compared with patients like you
#
# How pain usually goes, at this clinic, for patients who started with
# similar pain in the same body area, and where your own pain scores stand
# against it. The expected course is worked out from the clinic's courses
# of care as a whole; no other patient's scores are shown.

# %%
progress = reporting.recovery_section(patient)

# %%
progress.text()

# %%
reporting.chart_or_note(
    plots.plot_expected_course,
    progress.expected,
    progress.scores,
    latest=progress.latest,
    level=progress.level,
    section=None,
)

# %% [markdown]
# ## Range of motion
#
# How far each joint moves, as a percentage of the normal range (100% is
# normal). Two measurements of the same joint differ a little even when
# nothing has changed; the shaded band shows that measurement error, so a
# change inside it cannot be told apart from it.

# %%
reporting.chart_or_note(plots.plot_rom_progress, patient.rom, section="rom")

# %%
reporting.table_or_note(
    patient.rom,
    {
        "joint": "Joint",
        "movement": "Movement",
        "side": "Side",
        "mode": "Moved by",
        "baseline_degrees": "First (degrees)",
        "latest_degrees": "Latest (degrees)",
        "normal_degrees": "Normal (degrees)",
        "mdc_degrees": "Measurement error (degrees)",
        "change_class": "Result",
    },
    values={"mode": {"active": "the patient", "passive": "the practitioner"}},
)

# %%
reporting.rom_device_note(patient.rom)

# %% [markdown]
# ## Questionnaires
#
# Scores from the questionnaires the patient filled in. For some of them a
# lower score is better, for others a higher one: the chart says which. An
# improvement counts as important when it reaches the questionnaire's
# published threshold.

# %%
reporting.chart_or_note(plots.plot_prom_scores, patient.proms, section="proms", needs="score")

# %%
reporting.table_or_note(
    patient.prom_change,
    {
        "instrument": "Questionnaire",
        "baseline_score": "First score",
        "latest_score": "Latest score",
        "improvement": "Improvement (points)",
        "mcid": "Important improvement (points)",
        "assessment": "Result",
    },
)

# %% [markdown]
# ## Home journal
#
# Daily pain from the patient's own journal, with its 7-day average; the
# vertical lines mark needling sessions. Soreness for a day or two after a
# session is expected.

# %%
reporting.chart_or_note(
    plots.plot_journal, patient.journal, section="journal", needs="pain", session_dates=patient.pain["session_date"]
)

# %% [markdown]
# ## Side effects and adverse events
#
# Anything unwanted recorded after a session, and how long it took to settle.
# Mild means short-lived and harmless; significant means it needed medical
# care or got in the way of daily life; serious means hospital care or
# lasting harm.

# %%
reporting.table_or_note(
    patient.adverse_events,
    {
        "session_date": "Session",
        "event_type": "What happened",
        "severity": "Severity",
        "resolved_days": "Days until it settled",
    },
    section="adverse_events",
    missing="not recorded",
)

# %% [markdown]
# ## Attendance

# %%
reporting.attendance_sentence(patient.episodes)

# %%
reporting.report_footer(
    title="Progress report",
    clinic_name=patient.clinic_name,
    period=reporting.episode_period(patient.episodes),
    as_of=patient.as_of,
    rule=patient.rule,
    version=needling_analytics.__version__,
)
