"""The clinic report's expected-recovery sentences: predicted versus actual, the adjusted funnel, courses not on track.

Each function takes the report's
:class:`~needling_analytics.reporting.recovery.ClinicRecovery` (or a table
made from it) and returns a :class:`Paragraph` or :class:`Html`. When the
model is not available every one of them says so, and why, instead of
giving a number (:func:`recovery_unavailable`).
"""

from __future__ import annotations

import html
import math

import pandas as pd

from ...privacy.suppression import Disclosure, as_disclosure
from .words import Html, Paragraph, format_count, format_date, format_points, is_missing, plural

__all__ = [
    "adjusted_funnel_intro",
    "adjusted_funnel_summary",
    "not_on_track_summary",
    "predicted_vs_actual_summary",
    "recovery_unavailable",
    "recovery_validation_note",
    "responder_funnel_intro",
]

#: The model's covariates in words, in the model's order.
COVARIATE_WORDS = {
    "baseline": "starting pain",
    "body_region": "body region",
    "duration_band": "how long symptoms had lasted",
    "age_band": "age",
    "sex": "sex",
}


def _and(words: list[str]) -> str:
    return ", ".join(words[:-1]) + (" and " if len(words) > 1 else "") + words[-1] if words else ""


def _covariates(model) -> str:
    """The case mix the model allows for, in words ("starting pain, body region and age")."""
    used = [w for name, w in COVARIATE_WORDS.items() if name == "baseline" and "baseline" in model.names]
    used += [COVARIATE_WORDS[name] for name in COVARIATE_WORDS if name in getattr(model, "levels", {})]
    return _and(used) or "nothing about the patients (no case mix was recorded)"


def _why(model) -> str:
    """Why the expected course is not available, in plain words."""
    code = (model.reason or "").split(":")[0]
    validation = model.validation or {}
    if code == "too_few_courses":
        return (
            f"only {model.n_courses:,} courses of care have a pain score after the first visit, "
            "and at least 50 are needed to work out how patients usually recover"
        )
    if code == "not_validated":
        return (
            "there are too few courses of care to check the expected course on patients it was not built from "
            f"({validation.get('n_courses_train', 0):,} earlier and {validation.get('n_courses_test', 0):,} later "
            "courses; 50 and 20 are needed)"
        )
    if code == "poor_coverage":
        coverage = validation.get("coverage")
        level = float(validation.get("level", model.level))
        held = "" if coverage is None else f" held {100 * coverage:.0f}% of their scores, "
        return (
            f"when it was checked on later patients it was not built from, its {100 * level:.0f}% range{held}"
            f"outside the {100 * level - 10:.0f}-{100 * level + 10:.0f}% that would make it trustworthy"
        )
    return "the model of the expected course could not be built from these records"


def recovery_unavailable(model) -> Paragraph:
    """ "The expected course ... is not available in this report, because ..." (no numbers of the model)."""
    return Paragraph(
        'The expected course ("patients like you") is not available in this report, because ' + _why(model) + "."
    )


def _signed(value: float) -> str:
    return format_points(abs(value))


def _honesty(source: str) -> str:
    if source == "saved":
        return (
            " The expected course comes from a model built beforehand (for example on the pooled records of a group "
            "of clinics), so this compares the clinic's patients with the patients that model was built from. "
            "It is an observational comparison, not proof of better or worse care: differences between patients "
            "that the model does not know about show up here too."
        )
    return (
        " The expected course was built from this clinic's own records, so the clinic is being compared with "
        "itself: a clinic exactly like its own patients would come out close to 0, and the difference mostly shows "
        "who is still being scored at week 8. Patients who recover quickly often stop coming early and have no "
        "week-8 score, so those who do tend to be the slower ones, and the clinic looks worse than expected for "
        "that reason alone. Read this figure as a baseline to follow from month to month and to compare "
        "practitioners against (below), not as a verdict on the clinic."
    )


def predicted_vs_actual_summary(recovery, *, min_cell_size: int | Disclosure = 11) -> Paragraph | Html:
    """Observed pain at week 8 against the expectation for the same patients, and the effectiveness, in words.

    ``recovery`` is :func:`~needling_analytics.reporting.clinic_recovery`.
    Says which courses are counted, the average observed and expected
    pain, the mean difference and its 95% range ("on average, patients
    improved 0.5 points less than expected for patients like them"), and
    what the comparison can and cannot show (a clinic compared with a
    model built from its own records is close to 0 by construction), as
    two paragraphs of :class:`Html`. Not
    available, no course scored, or (shared report) fewer than
    ``min_cell_size`` courses: one sentence saying so, without numbers.
    """
    from ..recovery import predicted_vs_actual

    if not recovery.available:
        return recovery_unavailable(recovery.model)
    policy = as_disclosure(min_cell_size)
    fixed = recovery.fixed
    waiting = int(fixed.attrs.get("still_open", 0))
    later = (
        f" {plural(waiting, 'course', 'courses')} still inside that window "
        f"{'is' if waiting == 1 else 'are'} left for a later report."
        if waiting and not (policy.shared and waiting < policy.cutoff)
        else ""
    )
    if fixed.empty:
        return Paragraph(
            "No course of care that started in these 12 months has a pain score at about week 8 "
            "(days 42 to 70 after the first visit) yet, so observed and expected pain cannot be compared." + later
        )
    table = predicted_vs_actual(recovery, min_cell_size=policy)
    if table.empty:
        return Paragraph(
            f"{format_count(len(fixed), min_cell_size=policy).capitalize()} courses of care have a pain score at "
            "about week 8, too few to compare observed and expected pain without revealing small numbers of patients."
        )
    row = table.iloc[0]
    n = format_count(len(fixed), min_cell_size=policy)
    text = (
        f"{n[0].upper() + n[1:]} courses of care that started in these 12 months had a pain score at about week 8 "
        f"(the score nearest day 56, between days 42 and 70), whether or not the course has ended: a score read at "
        f"the same time for every course is not an interim result.{later} Their average pain then was "
        f"{format_points(row['observed'])}, against {format_points(row['expected'])} expected for patients like "
        f"them (allowing for {_covariates(recovery.model)})."
    )
    diff, low, high = float(row["mean_difference"]), float(row["ci_lower"]), float(row["ci_upper"])
    if math.isfinite(low) and math.isfinite(high):
        word = "more" if diff > 0 else "less"
        rng = f"95% range {format_points(low)} to {format_points(high)} points".replace("-", "−")
        if format_points(abs(diff)) == "0":
            text += f" On average, patients improved about as much as expected for patients like them ({rng})."
        else:
            text += (
                f" On average, patients improved {_signed(diff)} points {word} than expected for patients like them "
                f"({rng}; positive is better than expected)."
            )
        if low <= 0 <= high:
            text += " The range includes 0: these figures are consistent with recovery just as expected."
        else:
            text += " The range does not include 0."
    return Html(f"<p>{html.escape(text)}</p><p>{html.escape(_honesty(recovery.source).strip())}</p>")


def responder_funnel_intro(recovery) -> Paragraph:
    """What a dot of the responder-rate funnel is, and why the adjusted comparison is not shown instead."""
    text = (
        "Each dot is a practitioner: the share of their assessed courses of care that improved, against how many "
        "they assessed. Only courses of care that have ended are counted, as above. Where it can be done reliably, "
        "the share allows for the patients each practitioner sees (pain at the start, how long they had had the "
        "problem, age, sex and body region): it is set against what the clinic's average practitioner would achieve "
        "with the same patients, so nobody looks worse for seeing harder cases."
    )
    if not recovery.available:
        text += (
            " The comparison with the expected course for each practitioner's patients is not available, because "
            + _why(recovery.model)
            + "."
        )
    return Paragraph(text)


def adjusted_funnel_intro(recovery) -> Paragraph:
    """What a dot of the adjusted (observed minus expected) funnel is."""
    return Paragraph(
        "Each dot is a practitioner: how much more (above the line) or less (below it) their patients' pain had "
        "fallen by about week 8 than expected for patients like them, on average, against how many of their courses "
        f"of care were scored then. The expectation allows for {_covariates(recovery.model)}, so nobody looks worse "
        "for seeing harder cases. The courses are those of the comparison above (scored between days 42 and 70, "
        "ended or not), each counted for the practitioner who gave most of its sessions. The solid line is the "
        "clinic's average; practitioners are compared with it, not with 0, because the clinic's own average is not "
        "0 (see above)."
    )


def _counts(shown: pd.DataFrame) -> dict:
    from ...metrics.funnel import funnel_counts

    counts = shown.attrs.get("practitioner_counts")
    if counts is None:
        counts = funnel_counts(shown) if len(shown) else {"practitioners": 0}
    return counts


def adjusted_funnel_summary(shown: pd.DataFrame, spread: pd.DataFrame, recovery) -> Paragraph:
    """The adjusted funnel in words: who is shown, who is outside the limits (hidden ones counted, not named).

    ``shown`` is :func:`~needling_analytics.reporting.protect_difference_funnel`
    output, labelled; ``spread`` its :func:`~needling_analytics.metrics.overdispersion`.
    The verdict is counted over every compared practitioner, shown or not.
    """
    if not recovery.available:
        return recovery_unavailable(recovery.model)
    attrs = shown.attrs
    minimum = attrs.get("min_episodes", 10)
    excluded = int(attrs.get("excluded_practitioners", 0))
    counts = _counts(shown)
    compared = int(counts.get("practitioners", 0))
    if not compared:
        return Paragraph(
            f"No practitioner has at least {minimum} courses of care scored at about week 8 in this period, "
            "so practitioners are not compared with the expected course."
        )
    n_shown, hidden = int(counts["shown"]), int(counts["hidden"])
    if n_shown:
        text = f"{plural(n_shown, 'practitioner', 'practitioners')} with at least {minimum} courses of care scored "
        text += f"at about week 8 {'are' if n_shown != 1 else 'is'} shown"
        if hidden:
            text += f"; {hidden} more {'are' if hidden != 1 else 'is'} compared but not shown, to protect privacy"
    else:
        text = (
            f"{plural(compared, 'practitioner has', 'practitioners have')} at least {minimum} courses of care scored "
            "at about week 8, but none can be shown without revealing small numbers of patients"
        )
    if excluded:
        text += f"; {excluded} with fewer {'are' if excluded != 1 else 'is'} left out because so few cases say little"
    text += "."
    outside = int(counts.get("above_95", 0)) + int(counts.get("below_95", 0))
    if not outside:
        everyone = "Every practitioner compared" if compared > 1 else "The practitioner compared"
        text += (
            f" {everyone}{', including those not shown,' if hidden else ''} is within the 95% limits around the "
            "clinic's average. That does not show that their patients recover equally well: with these numbers, "
            "real differences can stay within the limits."
        )
    else:
        who = "The practitioner compared" if compared == 1 else f"{outside} of the {compared} practitioners compared"
        text += f" {who} {'is' if outside == 1 else 'are'} outside the 95% limits (above: better than expected)."
        named = shown[shown["flag"].astype(str) != "within"] if "flag" in shown else shown.iloc[0:0]
        if len(named):
            text += " Shown: " + "; ".join(f"{r.practitioner_id} ({r.flag} limit)" for r in named.itertuples()) + "."
        for flag, k in counts.get("hidden_outside", {}).items():
            side, level = str(flag).split(" ", 1)
            text += f" {plural(k, 'practitioner', 'practitioners')} not shown for privacy "
            text += f"{'is' if k == 1 else 'are'} {side} the {level} limit."
        text += " This is a prompt to look at the case mix and the records, not a verdict."
    expected = float(counts.get("expected_outside_95", 0.05 * compared))
    text += (
        f" Chance alone would put about 1 practitioner in 20 outside the 95% limits: about {expected:.1f}".rstrip(
            "0"
        ).rstrip(".")
        + f" of the {compared} compared here."
    )
    row = spread.iloc[0] if len(spread) else None
    if row is not None and not is_missing(row["p_value"]):
        if float(row["inflation"]) > 1:
            text += (
                " Practitioners vary more than chance allows, so the limits have been widened "
                f"(by a factor of {math.sqrt(float(row['inflation'])):.2f})."
            )
        elif bool(row["overdispersed"]):
            text += (
                " Practitioners vary more than chance alone would usually give, but with so few practitioners, or "
                "once the most extreme are set aside, that is not clear enough to widen the limits."
            )
    return Paragraph(text)


def not_on_track_summary(recovery, *, min_cell_size: int | Disclosure = 11) -> Paragraph:
    """How many courses of care under way are not on track; the owner's report adds that they are listed below.

    A course is not on track when its last two pain scores were both worse
    than the range expected for it at those visits. Shared reports give
    the count only, protected ("fewer than 11").
    """
    if not recovery.available:
        return recovery_unavailable(recovery.model)
    policy = as_disclosure(min_cell_size)
    n = len(recovery.not_on_track)
    rule = (
        "A course of care still under way is not on track when its last two pain scores were both worse than the "
        "range expected for it at those visits (each judged from the scores before it), a prompt to review the plan "
        "with the patient (technique, how often they come, exercises or other therapies)."
    )
    if n == 0:
        return Paragraph(f"{rule} No course of care that started in these 12 months is not on track now.")
    count = format_count(n, min_cell_size=policy)
    verb = "is" if n == 1 and count == "1" else "are"
    text = (
        f"{rule} {count[0].upper() + count[1:]} {'course' if count == '1' else 'courses'} of care {verb} not on track."
    )
    one = n == 1 and not policy.shared
    if policy.shared:
        text += " They are listed only in the clinic owner's internal report."
    else:
        text += (
            f" {'It is' if one else 'They are'} listed below{'' if one else ', the longest since the last visit first'}"
            "; this list names patients: do not share it."
        )
    return Paragraph(text)


def recovery_validation_note(recovery) -> Html:
    """The appendix: how the expected course was built and checked, in plain words and figures (or why it is not available)."""
    model = recovery.model
    if not model.fitted and not model.available:
        return Html(f"<p>{html.escape(recovery_unavailable(model))}</p>")
    validation = model.validation or {}
    where = (
        "a model saved beforehand (for example on a group of clinics' pooled records)"
        if recovery.source == "saved"
        else "this clinic's own records, once for this run"
    )
    items = [
        f"Built from {where}: {model.n_courses:,} courses of care with {model.n_observations:,} pain scores after "
        f"the first visit, allowing for {_covariates(model)}.",
    ]
    if validation.get("coverage") is not None:
        level = float(validation.get("level", model.level))
        items += [
            f"Checked on patients it was not built from: built again on the {validation['n_courses_train']:,} "
            f"courses that started before {format_date(validation['cutoff'])}, it predicted the "
            f"{validation['n_predictions']:,} later scores of the {validation['n_courses_test']:,} courses that "
            "started on or after that day, one visit ahead.",
            f"Its {100 * level:.0f}% range held {100 * float(validation['coverage']):.0f}% of those scores "
            f"({100 * level - 10:.0f}-{100 * level + 10:.0f}% is needed for the report to show it).",
            f"Typical error: {format_points(validation['mae_model'], decimals=2)} points from the expected score, "
            f"against {format_points(validation['mae_carry_forward'], decimals=2)} points when assuming no change "
            "from the first visit.",
        ]
    body = "".join(f"<li>{html.escape(item)}</li>" for item in items)
    tail = "" if model.available else f"<p>{html.escape(recovery_unavailable(model))}</p>"
    return Html(f"<ul>{body}</ul>{tail}")
