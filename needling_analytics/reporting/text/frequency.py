"""Session frequency and trajectory models in words: the landmark analysis, its caveats, and how a model was fitted."""

from __future__ import annotations

from collections.abc import Mapping

from .words import Paragraph

__all__ = ["fit_summary", "frequency_not_estimable", "frequency_paragraph", "trajectory_caveat"]


def _range(low: float, high: float, decimals: int = 1) -> str:
    return f"95% confidence interval {low:.{decimals}f} to {high:.{decimals}f}"


def frequency_paragraph(frequency) -> Paragraph:
    """How session frequency went with improvement, in plain words (a ``FrequencyAnalysis``).

    Describes the landmark design (courses still under way after four
    weeks; pain about eight weeks after the first visit), gives the
    association with its 95% interval only when it could be estimated,
    quotes the trajectory model only when it converged without warnings
    (otherwise one caveat sentence), and always ends on why this is an
    association, not cause and effect: confounding by indication, regression
    to the mean, and self-discharge.
    """
    table = frequency.patient_level
    attrs = table.attrs
    low, high = attrs.get("outcome_window", (42, 70))
    weeks = f"weeks {low / 7:g} and {high / 7:g}"
    in_care, scored = attrs.get("n_in_care_at_landmark", 0), attrs.get("n_with_outcome", 0)
    design = (
        f"To compare fairly, this looks only at courses of care still under way after four weeks "
        f"({in_care:,}), so that courses that ended early, often because the patient got better quickly, do not "
        "count as seen rarely. It counts each course's sessions in those first four weeks and compares its pain "
        f"about eight weeks after the first visit (the score nearest week 8, between {weeks}; {scored:,} of the "
        f"{in_care:,} courses had one) with its pain at the start. "
    )
    reason = attrs.get("reason")
    if attrs.get("estimable") is False and reason == "not_estimable":
        return Paragraph(
            "How session frequency relates to improvement cannot be estimated from these data: "
            f"{frequency_not_estimable(attrs)}. No figure is given for it."
        )
    if reason == "no_duration":
        return Paragraph(
            "How long symptoms had lasted before the first visit is not recorded in this clinic's data. The "
            "comparison of session frequency with improvement allows for it, so it cannot be made here."
        )
    if "early_frequency" not in table.index:
        return Paragraph(
            design + "Too few of them had a starting pain score, a score about eight weeks later and a recorded "
            "symptom duration to relate session frequency to improvement."
        )
    row = table.loc["early_frequency"]
    direction = "bigger" if row["estimate"] > 0 else "smaller"
    clear = row["ci_lower"] > 0 or row["ci_upper"] < 0
    verdict = (
        "a clear association"
        if clear
        else "the likely range includes no association at all, so these figures do not show which way it goes"
    )
    text = design + (
        f"Across the {attrs['n_episodes']:,} courses with everything needed, each extra session per week in the "
        f"first four weeks went with a fall in pain by week 8 {abs(row['estimate']):.1f} points {direction} "
        f"({_range(row['ci_lower'], row['ci_upper'])}), after allowing for starting pain and how long symptoms "
        f"had lasted: {verdict}. "
    )
    if attrs.get("cov_type") == "cluster":
        text += "The range allows for patients who had more than one course of care. "
    trajectory = frequency.trajectory
    caveat = trajectory_caveat(frequency)
    if caveat is not None:
        text += caveat + " "
    elif trajectory is not None and "weeks_by_early_frequency" in trajectory.fixed_effects.index:
        slope = trajectory.fixed_effects.loc["weeks_by_early_frequency"]
        faster = "faster" if slope["estimate"] < 0 else "slower"
        sign = -1.0 if slope["estimate"] < 0 else 1.0
        low_slope, high_slope = sorted([sign * slope["ci_lower"], sign * slope["ci_upper"]])
        text += (
            f"Over the course of care, pain fell {abs(slope['estimate']):.2f} points a week {faster} for each extra "
            f"early session per week ({_range(low_slope, high_slope, 2)}). "
        )
    sensitivity = frequency.sensitivity
    if len(sensitivity) == 2 and sensitivity["estimate"].notna().all():
        text += (
            "Leaving out courses of patients who stopped coming (recorded so, or not seen for 30 days) gives "
            f"{sensitivity['estimate'].iloc[1]:.1f} points instead of {sensitivity['estimate'].iloc[0]:.1f}. "
        )
    text += (
        "This is an association in routine care, not proof that more frequent sessions cause more improvement. "
        "Practitioners tend to see patients who are doing badly more often, and space out visits for those who "
        "improve, which can hide or reverse any benefit of more sessions. Pain is usually first scored near its "
        "worst, so it tends to fall anyway, whatever the number of sessions. Patients who stop coming may have "
        "improved or given up, which can bias these figures either way."
    )
    return Paragraph(text)


def trajectory_caveat(frequency) -> str | None:
    """The one sentence said instead of the week-by-week model when it cannot be quoted; None when it can.

    A model that could not be fitted (``trajectory_error``), did not converge,
    or warned (a variance on its boundary, a singular fit) is never quoted.
    """
    trajectory = frequency.trajectory
    if frequency.trajectory_error is not None:
        return "How fast pain fell week by week cannot be estimated from these data, so nothing is said about it."
    if trajectory is not None and (not trajectory.converged or trajectory.fit_warnings):
        return (
            "A model of how fast pain fell week by week could not be fitted reliably to these data, so nothing is "
            "said about it."
        )
    return None


def fit_summary(fit) -> Paragraph:
    """How a trajectory model was fitted (``TrajectoryResult``), in words, with its warnings."""
    text = (
        f"Fitted {fit.formula} by {fit.method} on {fit.n_observations:,} measurements from "
        f"{fit.n_subjects:,} subjects ({fit.n_dropped:,} rows left out for missing values). "
    )
    if getattr(fit, "grouping", None) == "patient":
        text += f"Subjects are nested in {fit.n_patients:,} patients, some of whom have several. "
    if getattr(fit, "time_model", None) == "piecewise" and fit.knots:
        text += f"Time is piecewise linear with a change of slope at {', '.join(f'{k:g}' for k in fit.knots)}. "
    elif getattr(fit, "time_model", None) == "spline":
        text += f"Time is a natural cubic spline with {fit.spline_df} degrees of freedom. "
    p_value = getattr(fit, "slope_lrt_p", float("nan"))
    if p_value == p_value:  # tested: not NaN
        kept = "kept" if fit.random_slope else "not kept"
        text += f"A random slope on time was {kept} (likelihood-ratio test, p = {p_value:.2g}). "
    text += (
        "The fit converged cleanly."
        if fit.converged
        else "The fit did not converge cleanly: treat the estimates with care."
    )
    if fit.fit_warnings:
        text += " Fitting reported: " + "; ".join(fit.fit_warnings) + "."
    return Paragraph(text)


def frequency_not_estimable(attrs: Mapping) -> str:
    """Why session frequency cannot be related to improvement, in plain words.

    ``attrs`` is ``FrequencyAnalysis.patient_level.attrs`` with ``reason``
    ``not_estimable``; its ``detail`` code (``same_frequency``,
    ``tied_to_covariates``, ``single_course``) is worded here.
    """
    detail = attrs.get("detail")
    if detail == "same_frequency":
        return (
            "every course of care had the same number of sessions in its first four weeks "
            f"({attrs['early_frequency']:.1f} a week), so there is nothing to compare"
        )
    if detail == "tied_to_covariates":
        return "session frequency is tied exactly to starting pain or symptom duration in these courses of care"
    return (
        "a single course of care alone determines part of the comparison (for example the only one seen at its "
        "frequency), so how uncertain the result is cannot be worked out"
    )
