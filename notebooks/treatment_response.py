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

# %% [markdown]
# # Treatment response: trajectories, session frequency and subgroups
#
# For researchers working in JupyterLab. Choose a cohort in the parameters
# cell, then run top to bottom: a linear mixed model of the chosen outcome
# over weeks of care, its diagnostics, the session-frequency analysis (an
# association in routine care, never a dose-response effect), the
# expected-recovery model with the covariates you choose (its summary,
# temporal validation and calibration) and responder rates by body region.
# Definitions: `docs/metrics.md`; the functions used return tidy DataFrames
# you can take further below.

# %%
import warnings

from IPython.display import display

import needling_analytics
from needling_analytics import cohort, metrics, plots, reporting

warnings.filterwarnings("ignore")
plots.set_theme()

# %% tags=["parameters"]
cache_dir: str = ""  # the run's metrics cache, with the run's responder rule; empty: load the clinic from data_dir
data_dir: str = "data/demo"  # the clinic's data folder, read only when cache_dir is empty
as_of: str = ""  # date the data is complete to (YYYY-MM-DD), only when loading data_dir; empty: today
body_regions: list[str] = []  # body regions to include, e.g. ["neck", "shoulder"]; empty: all
start_from: str = ""  # earliest episode start date included (YYYY-MM-DD); empty: no limit
start_to: str = ""  # latest episode start date included (YYYY-MM-DD); empty: no limit
practitioners: list[str] = []  # practitioner IDs (episode attributed by most sessions), e.g. ["PR01"]; empty: all
min_baseline: float = 0.0  # least first pain score included (0-10)
max_baseline: float = 10.0  # greatest first pain score included (0-10)
outcome: str = "pain_pre"  # "pain_pre", or a range-of-motion movement "joint:movement", e.g. "cervical_spine:rotation"
random_slope: object = "auto"  # vary the weekly slope by subject: True, False, or "auto" (when a test supports it)
abs_threshold: float = 2.0  # without cache_dir only (a cache holds the run's rule): least fall in pain, points
pct_threshold: float = 30.0  # without cache_dir only: least fall in pain, percent of the first score
require: str = "both"  # without cache_dir only: the rule needs "both" thresholds, or "either"
recovery_outcome: str = "pain"  # expected-recovery model of "pain", "NDI", "ODI", "PSFS", "LEFS" or "QuickDASH"
recovery_covariates: list[str] = ["baseline", "body_region", "duration_band", "age_band", "sex"]  # its case mix

# %%
clinic = reporting.open_clinic(cache_dir=cache_dir, data_dir=data_dir, as_of=as_of)

# %%
settings = reporting.run_settings(
    cache_dir=cache_dir,
    rule=metrics.ResponderRule(abs_threshold=abs_threshold, pct_threshold=pct_threshold, require=require),
)

# %%
rule = settings.rule

# %% [markdown]
# ## Cohort

# %%
selected = cohort.select_cohort(
    clinic,
    rule=rule,
    body_regions=body_regions,
    start_from=start_from,
    start_to=start_to,
    practitioners=practitioners,
    min_baseline=min_baseline,
    max_baseline=max_baseline,
)

# %%
display(selected)

# %%
outcomes = cohort.episode_outcomes(selected, rule=rule)

# %%
metrics.summarize_responders(outcomes)

# %% [markdown]
# ## Outcome trajectory
#
# A linear mixed model: the outcome against weeks since the episode start
# (time restarts every course), with a random intercept per subject (episode
# for pain; episode, side and mode for a range-of-motion movement), nested in
# patients when some have several, and a random slope when `random_slope`
# says so ("auto": when a likelihood-ratio test supports it). Time is
# piecewise linear with a change of slope at week 7, where pain usually
# levels off: `weeks_since_start` is the weekly change up to week 7,
# `weeks_since_start_after_7` how much that changes after it. For pain a
# negative weekly estimate is improvement; for range of motion a positive
# one.

# %%
series = cohort.outcome_series(selected, outcome)

# %%
fit = metrics.fit_trajectory(
    series, outcome="value", time="weeks_since_start", subject="subject", random_slope=random_slope
)

# %%
reporting.fit_summary(fit)

# %%
display(fit.fixed_effects)

# %%
display(fit.variance_components)

# %% [markdown]
# ### Diagnostics
#
# Residuals by fifth of the fitted values: a mean residual far from 0 in
# some bands suggests a curved trajectory; very different SDs, unequal
# variance.

# %%
metrics.residual_table(fit)

# %% [markdown]
# ## Session frequency and improvement
#
# Landmark design: the cohort is the courses of care still in care at day
# 28; exposure is attended sessions per week in days 0-27; outcome is the
# fall in pain from baseline to the reading nearest day 56 within days
# 42-70 (after the exposure window). Courses that ended before day 28 are
# left out, not counted as low frequency. Three views: a course-level
# regression (errors clustered by patient when a patient has several
# courses, else HC3) with a sensitivity table without self-discharged
# courses, a mixed model with one trajectory per course and a weeks x
# frequency interaction, and Kaplan-Meier time to a confirmed response (the
# rule met at two scored visits in a row, or at the latest) by frequency
# band among the same cohort. All are associations: slow responders are
# seen more often (confounding by indication), pain first scored near its
# worst tends to fall anyway (regression to the mean), and self-discharge
# is informative dropout. The curves by band are descriptive and not tested
# against each other: response is detected at visits, so courses seen more
# often are found to improve sooner.

# %%
frequency = metrics.analyze_frequency(selected, rule=rule, random_slope=random_slope)

# %%
reporting.frequency_paragraph(frequency)

# %%
display(frequency.patient_level)

# %%
display(frequency.sensitivity)

# %%
reporting.chart_or_note(
    plots.plot_frequency_association,
    frequency.landmark,
    section="frequency",
    needs="early_frequency",
    ylabel="Fall in pain by week 8 (points)",
)

# %%
reporting.chart_or_note(
    plots.plot_time_to_response, frequency.time_to_response, section="time_to_response", by="frequency_band"
)

# %% [markdown]
# ## Expected recovery ("patients like you")
#
# The model the reports use for the expected course of care
# (`docs/metrics.md`, "Expected recovery"), fitted here on the cohort with
# the outcome and case mix chosen in the parameters cell: a mixed model of
# every follow-up score on a logit scale of the outcome (so bands stay
# inside the scale), with the baseline, the chosen covariates, a
# piecewise-linear trend over days since the course started and a random
# intercept per course of care. A covariate the data lack, or with one
# level, is dropped and listed with its reason. Fixed effects are on the
# logit (z) scale: a negative `week` for pain is improvement. The model is
# usable in reports only when its temporal validation (fit on the earlier
# 75% of courses, predict every score of the later ones from their earlier
# scores only) finds its 80% band covering 70-90% of the scores.

# %%
recovery = metrics.fit_expected_recovery(selected, outcome=recovery_outcome, covariates=tuple(recovery_covariates))

# %%
model_summary = metrics.recovery_summary(recovery)

# %%
display(model_summary[model_summary["part"] != "validation"])

# %% [markdown]
# ### Temporal validation
#
# `coverage`: share of the later courses' scores inside the band (near 0.8
# for an 80% band); `mae_model`: mean absolute error of the expected score,
# in points, beside `mae_carry_forward`, the error of assuming no change
# from the first score.

# %%
display(model_summary[model_summary["part"] == "validation"])

# %% [markdown]
# ### Calibration by decile
#
# The validation's predictions (of courses the model did not see) sorted
# by expected score and cut into tenths: in a calibrated model the observed
# scores of each tenth sit on the dashed line, and about 80% of them inside
# the band (`coverage`). The expected score is a median, so on skewed
# scores it is closer to the median observed than to the mean.

# %%
calibration = metrics.calibration_table(recovery.validation_predictions)

# %%
display(calibration)

# %%
reporting.chart_or_note(plots.plot_calibration, calibration, section="calibration")

# %% [markdown]
# ## Responder rates by body region
#
# Exact (Clopper-Pearson) 95% intervals. Episodes that cannot be assessed
# are counted by reason, never as non-responders.

# %%
metrics.summarize_responders(outcomes, by="body_region")

# %%
reporting.report_footer(
    title="Treatment response",
    clinic_name="",
    period=reporting.date_range(start_from, start_to),
    as_of=selected.as_of,
    rule=rule,
    version=needling_analytics.__version__,
)
