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
from needling_analytics import cohort, metrics, plots, reporting

warnings.filterwarnings("ignore")
plots.set_theme()

# %% tags=["parameters"]
month: str = "2026-10"  # the month to report, YYYY-MM
cache_dir: str = ""  # the run's metrics cache, which holds the run's settings; empty: load data_dir
data_dir: str = "data/demo"  # the clinic's data folder, read only when cache_dir is empty
results_dir: str = ""  # folder for summary.json and tables/*.csv (the headline figures and tables); empty: none
clinic_name: str = "Demo clinic"  # without cache_dir only: the clinic's name, printed on the report
audience: str = "public"  # without cache_dir only: owner (every count; not for sharing), staff or public
disclosure_method: str = "suppress"  # without cache_dir only: suppress small counts and complements, or round to 5
min_cell_size: int = 11  # without cache_dir only: smallest count shown (CMS small-cell rule: 1-10 hidden)
min_episodes: int = 10  # without cache_dir only: least assessed courses for a practitioner on the funnel plot
show_practitioner_ids: bool = False  # without cache_dir only: True names practitioners by ID; False: code names
practitioner_key_file: str = ""  # without cache_dir only: key that keeps code names stable; empty: a one-off key

# %%
clinic = reporting.open_clinic(cache_dir=cache_dir, data_dir=data_dir)

# %%
settings = reporting.run_settings(
    cache_dir=cache_dir,
    clinic_name=clinic_name,
    audience=audience,
    method=disclosure_method,
    min_cell_size=min_cell_size,
    min_episodes=min_episodes,
    show_practitioner_ids=show_practitioner_ids,
    practitioner_key_file=practitioner_key_file,
)

# %%
rule = settings.rule

# %%
disclosure = settings.disclosure

# %%
practitioners = reporting.practitioner_labels(
    clinic, key_file=settings.practitioner_key_file, show_ids=settings.show_practitioner_ids
)

# %%
window = cohort.clinic_window(clinic, month, months=12)

# %%
recovery = reporting.clinic_recovery(clinic, window, cache_dir=cache_dir, settings=settings)

# %%
reporting.report_header(
    "Monthly clinic report", (settings.clinic_name, reporting.period_label(month)), audience=disclosure
)

# %% [markdown]
# How the clinic is doing: activity this month, patients' outcomes, how
# session frequency relates to improvement, safety, a fair comparison of
# practitioners, attendance, and the quality of the data behind it all.
#
# Activity figures are for the month. Everything else covers the courses of
# care that **started in the 12 months up to the end of the month**, using
# the records up to that day. Outcomes (who improved) count only the courses
# of care that have ended by then.

# %%
reporting.describe_rule(rule)

# %% [markdown]
# ## Activity this month
#
# The month beside the month before. Small counts are hidden to protect
# patients' privacy (see the note at the end of the report). Figures move
# from month to month by chance alone, more so when they are small: the last
# column says whether a change is within that normal month-to-month
# variation or more than it (an exact test at the usual 5% level). With this
# many figures, one of them will now and then be marked "more than normal"
# by chance alone; and counts of sessions vary more than the test allows,
# because each patient has several.

# %%
monthly = metrics.monthly_activity(clinic, month, months=12, rule=rule)

# %%
kpis = reporting.kpi_table(monthly, month, min_cell_size=disclosure)

# %%
reporting.table_or_note(
    kpis,
    {
        "indicator": "",
        "this_month": "This month",
        "previous_month": "Month before",
        "change": "Change",
        "verdict": "Change compared with normal variation",
    },
)

# %% [markdown]
# The last 12 months. A month's figure is hidden when the table above
# would hide it.

# %%
reporting.chart_or_note(
    plots.plot_monthly_activity,
    monthly,
    section="activity",
    needs="sessions_booked",
    min_cell_size=disclosure.min_cell_size,
)

# %% [markdown]
# ### Month by month: normal variation or a change?
#
# Two control charts over the last 12 months. Each dot is a month; the grey
# box around it is the range that month's figure would usually stay in by
# chance alone, given how many patients or sessions it rests on (the
# 12-month average, give or take three times the spread chance gives:
# narrower when the month is busier). A dot outside its box is a prompt to
# look at what was different that month, not a verdict. The first chart is
# the share of completed courses of care that improved, with the rule of the
# Outcomes section below, counted in the month each course ended (so it
# includes courses that started more than 12 months ago). The second is
# adverse events per 100 sessions; a session can be followed by more than
# one event, so its range is that of a count per session (a "u-chart"),
# not of a share.

# %%
responder_chart = reporting.protect_control_chart(
    metrics.monthly_control_chart(monthly, "responders"), monthly, min_cell_size=disclosure
)

# %%
reporting.chart_or_note(plots.plot_control_chart, responder_chart, section="outcomes", needs="centre")

# %%
reporting.control_chart_summary(responder_chart)

# %%
event_chart = reporting.protect_control_chart(
    metrics.monthly_control_chart(monthly, "adverse_events"), monthly, min_cell_size=disclosure
)

# %%
reporting.chart_or_note(plots.plot_control_chart, event_chart, section="safety", needs="centre")

# %%
reporting.control_chart_summary(event_chart)

# %% [markdown]
# ## Outcomes
#
# Outcomes count only the **courses of care that have ended**. A course
# still under way has a result so far, not its final one, so it is left
# out of the share that improved, the two charts, the table by body region,
# the range of motion and questionnaire tables and the comparison of
# practitioners below.
#
# A course of care is *assessed* when it has a first pain score, a later
# one, and a first score high enough for a clinically important fall to be
# possible. Courses without a later score are not counted as failures.
# The likely ranges allow for patients who had more than one course of care.
# In the tables, "<11" marks a count from 1 to 10 and "*" a figure hidden so
# that such a count cannot be worked out (see the note at the end).

# %%
courses = cohort.episode_outcomes(window, rule=rule)

# %%
outcomes = cohort.ended_courses(courses, window)

# %%
overall = metrics.summarize_responders(outcomes)

# %%
reporting.responder_summary(overall, rule=rule, min_cell_size=disclosure, ongoing=outcomes.attrs["ongoing_courses"])

# %% [markdown]
# ### Courses of care without a follow-up score

# %%
sensitivity = metrics.responder_sensitivity(outcomes)
sensitivity_table = reporting.responder_sensitivity_table(sensitivity, min_cell_size=disclosure)

# %%
reporting.table_or_note(
    sensitivity_table,
    {
        "method": "Counted how",
        "assessed": "Courses counted",
        "improved": "Improved",
        "rate": "Share improved",
        "ci_lower": "Likely range from",
        "ci_upper": "to",
    },
    section="outcomes",
)

# %%
reporting.sensitivity_sentence(sensitivity, min_cell_size=disclosure)

# %% [markdown]
# The curve below shows, for every size of improvement, the share of
# patients whose pain fell by at least that much: a 30% fall is a moderate
# improvement and 50% a substantial one (IMMPACT, Dworkin 2008). Both
# charts below describe single patients' results, so they are drawn in
# steps and bars of at least 11 courses of care.

# %%
curve = metrics.responder_curve(outcomes)

# %%
reporting.chart_or_note(
    plots.plot_responder_curve, curve, section="responder_curve", needs="share", min_cell_size=disclosure.min_cell_size
)

# %%
reporting.chart_or_note(
    plots.plot_pain_change_distribution,
    outcomes,
    section="outcomes",
    needs="pct_reduction",
    min_cell_size=disclosure.min_cell_size,
)

# %% [markdown]
# ### By body region

# %%
by_region = reporting.responders_by(outcomes, "body_region", min_cell_size=disclosure)

# %%
reporting.table_or_note(
    by_region,
    {
        "body_region": "Body region",
        "assessable": "Assessed",
        "responders": "Improved",
        "responder_rate": "Share improved",
        "ci_lower": "Likely range from",
        "ci_upper": "to",
    },
    section="subgroups",
)

# %% [markdown]
# ### Range of motion
#
# In the courses of care that have ended, each measured movement is
# compared from its first to its latest measurement. A change smaller than
# the measurement error of the device cannot be told apart from error, so
# it is counted as "within".

# %%
rom = cohort.ended_courses(metrics.rom_change(window), window)

# %%
rom_table = reporting.rom_summary(rom, min_cell_size=disclosure)

# %%
reporting.table_or_note(
    rom_table,
    {
        "joint": "Joint",
        "series": "Movements measured",
        "improved": "Improved beyond error",
        "within": "Within error",
        "worse": "Worse beyond error",
        "not_compared": "Not compared yet",
    },
    section="rom_summary",
)

# %%
reporting.rom_device_note(rom, min_cell_size=disclosure)

# %% [markdown]
# ### Questionnaires
#
# In the courses of care that have ended: improvement in each
# questionnaire's own points (positive is better, whichever way the scale
# runs), and the share reaching its clinically important change.

# %%
proms = cohort.ended_courses(metrics.prom_change(window), window)

# %%
prom_table = reporting.prom_summary(proms, min_cell_size=disclosure)

# %%
reporting.table_or_note(
    prom_table,
    {
        "instrument": "Questionnaire",
        "episodes": "Courses of care",
        "with_follow_up": "With a follow-up",
        "mean_improvement": "Average improvement (points)",
        "assessable": "Assessed",
        "reached_mcid": "Important improvement",
        "share_reached_mcid": "Share",
        "ci_lower": "Likely range from",
        "ci_upper": "to",
    },
    section="prom_summary",
)

# %% [markdown]
# ### Pain at week 8 against the expected course
#
# How much pain had fallen by about eight weeks after the first visit,
# against how much it usually falls for patients like them: the *expected
# course* ("patients like you"), worked out from the pain scores of many
# courses of care allowing for the patients' starting pain and case mix.
# A positive difference means patients did better than expected. This is
# how commercial outcome systems (FOTO, NQF 0428) report a clinic's
# effectiveness; read the paragraph under the table for what it can and
# cannot show.

# %%
fixed_time = reporting.predicted_vs_actual(recovery, min_cell_size=disclosure)

# %%
reporting.table_or_note(
    fixed_time,
    {
        "courses": "Courses of care scored at week 8",
        "baseline": "Average starting pain",
        "observed": "Average pain at week 8",
        "expected": "Expected for patients like them",
        "mean_difference": "Difference (points, + is better)",
        "ci_lower": "95% range from",
        "ci_upper": "to",
    },
)

# %%
reporting.predicted_vs_actual_summary(recovery, min_cell_size=disclosure)

# %% [markdown]
# ## Session frequency and improvement
#
# Do patients seen more often in their first four weeks improve more? To
# compare fairly, only courses of care still under way after four weeks are
# used: their sessions in those four weeks are counted, and their pain about
# eight weeks after the first visit is compared with their pain at the start.
# The table relates that fall in pain to sessions per week, allowing for
# starting pain and how long symptoms had lasted. The chart shows the
# average fall in pain of each frequency band and the smoothed trend. Read
# the paragraph under it: this is an association in routine care, not proof
# of cause and effect.

# %%
frequency = metrics.analyze_frequency(window, rule=rule)

# %%
reporting.table_or_note(
    frequency.patient_level,
    {
        "term": "",
        "estimate": "Association with the fall in pain by week 8 (points)",
        "ci_lower": "95% CI from",
        "ci_upper": "to",
        "p_value": "p-value",
    },
    values={
        "term": {
            "Intercept": "Starting point (intercept)",
            "early_frequency": "Each extra session a week (first 4 weeks)",
            "baseline": "Each extra point of starting pain",
            "log_duration": "Longer-lasting symptoms (log of weeks + 1)",
        }
    },
    decimals=2,
)

# %%
reporting.chart_or_note(
    plots.plot_frequency_association,
    frequency.landmark,
    section="frequency",
    needs="early_frequency",
    min_cell_size=disclosure.min_cell_size,
    ylabel="Fall in pain by week 8 (points)",
)

# %%
reporting.frequency_paragraph(frequency)

# %% [markdown]
# ## Time to a clinically important improvement
#
# The share of assessed courses of care that had reached a clinically
# important improvement, by days since the first visit. A course counts
# once its pain met the rule at two scored visits in a row, or at its latest
# scored visit, so that one good day is not taken for an improvement.
# Patients who stopped coming count until their last visit. Improvement can
# only be seen at a visit, so courses seen more often show it sooner: the
# curve describes the clinic's records and is not used to compare how often
# patients were seen.

# %%
times = metrics.time_to_response(window, rule=rule, confirmed=True)

# %%
km = metrics.kaplan_meier(times, time="days", cluster="patient_id")

# %%
reporting.chart_or_note(
    plots.plot_time_to_response, km, section="time_to_response", min_cell_size=disclosure.min_cell_size
)

# %%
median = metrics.median_time(times, time="days", cluster="patient_id")

# %%
reporting.median_sentence(median)

# %% [markdown]
# ## Safety
#
# Adverse events per 100 treatments, with the range the true rate is likely
# to lie in, beside two published surveys of dry needling (Brady 2014:
# 7,629 treatments; Boyce 2020: 20,464 treatments). A clinic that records
# events carefully shows higher rates than one that does not. A rate built
# on fewer than 11 events is hidden; each significant or serious event is
# listed after the table.

# %%
rates = metrics.adverse_event_rates(window)

# %%
versus = metrics.compare_to_benchmarks(rates)

# %%
reporting.chart_or_note(
    plots.plot_adverse_event_rates, versus, section="safety", min_cell_size=disclosure.min_cell_size
)

# %%
safety = reporting.adverse_event_table(versus, min_cell_size=disclosure)

# %%
reporting.table_or_note(
    safety,
    {
        "event_type": "Event",
        "severity": "Severity",
        "events": "Events here",
        "rate_per_100": "Rate here per 100",
        "ci_lower": "Likely range from",
        "ci_upper": "to",
        "study": "Published study",
        "benchmark_rate_per_100": "Published rate per 100",
        "comparison": "Here compared with published",
    },
    values={
        "event_type": {"any": "any event"},
        "severity": {"major": "significant or serious"},
        "comparison": {
            "similar": "no clear difference",
            "above": "higher here",
            "below": "lower here",
            "not_recorded": "not recorded",
        },
    },
    section="safety",
    decimals=2,
)

# %%
reporting.safety_summary(safety)

# %% [markdown]
# ### Significant and serious events
#
# Each one, for the clinic's safety review (the notes are left out; look
# them up in the clinic's own records).

# %%
serious = metrics.serious_events(window)

# %%
serious = reporting.label_practitioners(serious, practitioners)

# %%
reporting.table_or_note(
    serious,
    {
        "session_date": "Session date",
        "practitioner_id": "Practitioner",
        "event_type": "Event",
        "severity": "Severity",
        "resolved_days": "Days to resolve",
    },
    section="serious_events",
    missing="not recorded",
)

# %% [markdown]
# ## Comparing practitioners fairly
#
# Each practitioner's results against the range that chance alone gives.
# Where the expected course ("patients like you", above) is available, the
# comparison is its difference at week 8, which allows for each
# practitioner's patients; otherwise it is the share of courses of care
# that improved. The paragraph before the chart says which. The curves
# show how far from the clinic's average a practitioner can be by chance
# alone; they narrow as the number of patients grows. Practitioners are
# not ranked, and those with too few courses of care are not shown, nor
# those whose dot would reveal fewer than 11 patients. A dot outside the
# curves is a prompt to look at the case mix and the records, not a
# verdict, and with many practitioners a few fall outside by chance alone.
# Practitioners who are not shown still count in the sentence under the
# chart, which says how many are outside the curves without saying who.
# The curves are widened for a spread between practitioners larger than
# chance only when at least 5 are compared. Practitioners are named as
# explained at the end of the report. Sessions with no practitioner
# recorded are left out of this comparison.

# %%
reporting.practitioner_recording(metrics.practitioner_recording(window))

# %%
funnel, spread = metrics.practitioner_comparison(window, rule=rule, min_episodes=settings.min_episodes, courses="ended")

# %%
comparison = reporting.practitioner_view(funnel, spread, recovery, labels=practitioners, min_cell_size=disclosure)

# %%
reporting.paragraph(comparison.intro)

# %%
reporting.chart_or_note(comparison.plot, comparison.shown, comparison.limits, section="funnel")

# %%
reporting.paragraph(comparison.summary)

# %% [markdown]
# ## Courses of care not on track
#
# Courses of care still under way whose pain is staying above the range
# expected for patients like them, so that the practitioner can review the
# plan. The clinic owner's internal report lists them; a shared report
# gives only how many.

# %%
reporting.not_on_track_summary(recovery, min_cell_size=disclosure)

# %%
not_on_track = reporting.not_on_track_table(recovery, practitioners, min_cell_size=disclosure)

# %%
reporting.table_or_note(
    not_on_track,
    {
        "patient_id": "Patient",
        "practitioner_id": "Practitioner",
        "n_sessions": "Sessions attended",
        "last_visit": "Last visit",
        "latest": "Latest pain",
        "expected": "Expected",
        "band": "Expected range (80%)",
    },
)

# %% [markdown]
# ## Attendance and self-discharge
#
# A course of care counts as *self-discharged* when the clinic recorded it
# so, or when the patient has not been seen for 30 days without being
# discharged. Patients who stop coming may have improved or given up, so
# outcomes measured only on those who stayed can look better or worse than
# they are. The attendance rate is attended / (attended + cancelled +
# missed): appointments still to come and past ones nobody marked are
# counted separately and left out of it.

# %%
attendance = reporting.attendance_table(courses, min_cell_size=disclosure)

# %%
reporting.table_or_note(
    attendance,
    {
        "booked": "Sessions booked",
        "attended": "Attended",
        "cancelled": "Cancelled",
        "no_show": "Missed",
        "unmarked": "Not marked",
        "upcoming": "Still to come",
        "attendance_rate": "Attendance rate",
        "episodes": "Courses of care",
        "self_discharged": "Self-discharged",
        "self_discharge_rate": "Self-discharge rate",
    },
)

# %% [markdown]
# ## About the figures
#
# ### The expected course ("patients like you")
#
# How the expected course used above was built and how well it predicted
# patients it had not seen. It is shown only when its 80% range held
# between 70% and 90% of those patients' scores.

# %%
reporting.recovery_validation_note(recovery)

# %% [markdown]
# ### Privacy

# %%
reporting.suppression_note(disclosure)

# %%
reporting.pseudonym_note(key_file=settings.practitioner_key_file, show_ids=settings.show_practitioner_ids)

# %% [markdown]
# ### Data quality

# %%
reporting.data_quality_note(clinic.quality)

# %%
summary = reporting.clinic_summary(
    disclosure=disclosure,
    month=month,
    months=12,
    as_of=window.as_of,
    rule=rule,
    responders=reporting.responder_figures(overall, cohort="ended", min_cell_size=disclosure),
    practitioner_counts=comparison.shown.attrs.get("practitioner_counts"),
    frequency=reporting.frequency_figures(frequency.patient_level),
    version=needling_analytics.__version__,
    recovery=reporting.recovery_figures(recovery, min_cell_size=disclosure),
    practitioner_comparison=comparison.kind,
)

# %%
written = reporting.write_results(
    results_dir,
    summary,
    {
        "activity": kpis,
        "responder_sensitivity": sensitivity_table,
        "outcomes_by_region": by_region,
        "range_of_motion": rom_table,
        "questionnaires": prom_table,
        "frequency": frequency.patient_level,
        "safety": safety,
        "serious_events": serious,
        "practitioners": comparison.shown,
        "fixed_time": fixed_time,
        "not_on_track": not_on_track,
        "attendance": attendance,
    },
)

# %%
reporting.report_footer(
    title="Monthly clinic report",
    clinic_name=settings.clinic_name,
    period=reporting.period_label(month),
    as_of=window.as_of,
    rule=rule,
    version=needling_analytics.__version__,
)
