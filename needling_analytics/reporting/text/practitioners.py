"""The clinic report's practitioner sentences: whether they are recorded, case mix, and the funnel plot in words."""

from __future__ import annotations

import math

import pandas as pd

from .words import UNAVAILABLE, Paragraph, is_missing, plural

__all__ = ["case_mix_sentence", "funnel_summary", "practitioner_recording"]


def practitioner_recording(recording: pd.DataFrame) -> Paragraph:
    """Whether practitioners are recorded, for the practitioner sections of the clinic report.

    ``recording`` is :func:`~needling_analytics.metrics.practitioner_recording`.
    No practitioner at all: "Practitioners are not recorded in this
    clinic's data, ..."; some sessions without one: "12 sessions have no
    practitioner recorded; ..."; every session has one: an empty paragraph.
    """
    row = recording.iloc[0] if len(recording) else pd.Series({"recorded": False, "without_practitioner": 0})
    if not bool(row["recorded"]):
        return Paragraph(
            "Practitioners are not recorded in this clinic's data, so they cannot be compared "
            "and no practitioner is named in this report."
        )
    missing = int(row["without_practitioner"])
    if not missing:
        return Paragraph("")
    verb = "session has" if missing == 1 else "sessions have"
    return Paragraph(
        f"{missing:,} attended {verb} no practitioner recorded; "
        f"{'it is' if missing == 1 else 'they are'} left out of the practitioner comparison."
    )


def _about(value: float) -> str:
    """0.2 -> '0.2', 1.0 -> '1', 12.5 -> '12' (an expected count, in words)."""
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}".removesuffix(".0")


def _and(words: list[str]) -> str:
    """['a', 'b', 'c'] -> 'a, b and c'."""
    return ", ".join(words[:-1]) + (" and " if len(words) > 1 else "") + words[-1] if words else ""


def case_mix_sentence(funnel: pd.DataFrame) -> str:
    """Whether the practitioner comparison allows for differences in patients, in one plain sentence.

    ``funnel`` is :func:`~needling_analytics.metrics.practitioner_comparison`'s
    funnel (its ``attrs``: ``adjusted``, ``covariates``,
    ``dropped_covariates``, ``adjustment_problems``). Names the factors
    allowed for, or says why none could be ("could not allow for
    differences in patients ... because ..."). An empty string for a funnel
    that never tried (plain :func:`~needling_analytics.metrics.practitioner_funnel`)
    or when nobody was compared.
    """
    from ...metrics.case_mix import COVARIATES

    attrs = funnel.attrs
    if "adjusted" not in attrs:
        return ""
    if attrs["adjusted"]:
        used = [COVARIATES[c] for c in attrs.get("covariates", []) if c in COVARIATES]
        if not used:
            return (
                "This comparison could not allow for differences in patients between practitioners, because "
                f"{_and(list(COVARIATES.values()))} were not recorded or the same for every patient."
            )
        return (
            f"This comparison allows for differences in the patients each practitioner sees ({_and(used)}): "
            "each practitioner's rate is set against what the clinic's average practitioner would achieve "
            "with the same patients."
        )
    problems = list(attrs.get("adjustment_problems", []))
    if not problems:
        return ""
    return (
        "This comparison could not allow for differences in patients between practitioners, because "
        f"{'; and '.join(problems)}; it compares their plain rates."
    )


def funnel_summary(funnel: pd.DataFrame, spread: pd.DataFrame) -> Paragraph:
    """What the funnel plot shows, in words: who is shown, how many are outside the limits, overdispersion.

    ``funnel`` is the funnel as drawn (usually
    :func:`~needling_analytics.reporting.protect_funnel` output);
    ``spread`` is :func:`~needling_analytics.metrics.overdispersion`. The
    verdict is counted over **every** compared practitioner, including
    those hidden for privacy (``attrs["practitioner_counts"]``, from
    :func:`~needling_analytics.metrics.funnel_counts` on the unprotected
    funnel; without it, ``funnel`` itself with nobody hidden). Shown
    practitioners outside a limit are named; hidden ones only counted ("1
    practitioner not shown for privacy is below the 95% limit"). The
    paragraph says whether the comparison allows for case mix
    (:func:`case_mix_sentence`), how many practitioners chance alone would put outside
    the 95% limits, and never reads a result within the limits, or a
    non-significant overdispersion test, as proof that practitioners do not
    differ.
    """
    from ...metrics.funnel import MIN_PRACTITIONERS_FOR_WIDENING, funnel_counts

    excluded = int(funnel.attrs.get("excluded_practitioners", 0))
    minimum = funnel.attrs.get("min_episodes", 10)
    counts = funnel.attrs.get("practitioner_counts")
    if counts is None:
        counts = funnel_counts(funnel) if len(funnel) else {"practitioners": 0}
    compared = int(counts["practitioners"])
    few = f"; {excluded} with fewer {'are' if excluded != 1 else 'is'} left out because so few cases say little"
    if not compared:
        return Paragraph(UNAVAILABLE["funnel"][:-1] + f" (at least {minimum} are needed).")
    shown, hidden = int(counts["shown"]), int(counts["hidden"])
    if shown:
        text = plural(shown, "practitioner", "practitioners") + f" with at least {minimum} assessed courses of care "
        text += "are shown" if shown != 1 else "is shown"
        if hidden:
            text += (
                f"; {hidden} more {'are' if hidden != 1 else 'is'} compared but not shown, to protect patients' privacy"
            )
    else:
        text = (
            f"{plural(compared, 'practitioner has', 'practitioners have')} at least {minimum} assessed courses of care, "
            "but none can be shown without revealing small numbers of patients"
        )
    text += (few if excluded else "") + "."
    allowed = case_mix_sentence(funnel)
    text += f" {allowed}" if allowed else ""

    outside = int(counts["above_95"]) + int(counts["below_95"])
    everyone = "Every practitioner compared" if compared > 1 else "The practitioner compared"
    if not outside:
        text += (
            f" {everyone}{', including those not shown,' if hidden else ''} is within the 95% limits. "
            "That does not show that they get the same results: with these numbers, real differences "
            "can stay within the limits."
        )
    else:
        verb = "is" if outside == 1 else "are"
        who = "The practitioner compared" if compared == 1 else f"{outside} of the {compared} practitioners compared"
        text += f" {who} {verb} outside the 95% limits."
        named = funnel[funnel["flag"].astype(str) != "within"] if "flag" in funnel else funnel.iloc[0:0]
        if len(named):
            text += " Shown: " + "; ".join(f"{r.practitioner_id} ({r.flag} limit)" for r in named.itertuples()) + "."
        for flag, n in counts.get("hidden_outside", {}).items():
            side, level = str(flag).split(" ", 1)
            text += f" {plural(n, 'practitioner', 'practitioners')} not shown for privacy "
            text += f"{'is' if n == 1 else 'are'} {side} the {level} limit."
        text += " This is a prompt to look at the case mix and the records, not a verdict."
    expected = float(counts.get("expected_outside_95", 0.05 * compared))
    text += (
        " Even if every practitioner had the same underlying rate, chance alone would put about 1 practitioner "
        f"in 20 outside the 95% limits: about {_about(expected)} of the {compared} compared here."
    )

    row = spread.iloc[0] if len(spread) else None
    if row is not None and not is_missing(row["p_value"]):
        least = int(spread.attrs.get("min_practitioners", MIN_PRACTITIONERS_FOR_WIDENING))
        inflation = float(row["inflation"])
        if bool(row["overdispersed"]) and inflation > 1:
            text += (
                " Practitioners vary more than chance allows, so the limits have been widened "
                f"(by a factor of {math.sqrt(inflation):.2f})."
            )
        elif bool(row["overdispersed"]) and int(row["practitioners"]) < least:
            text += (
                " Practitioners vary more than chance alone would usually give, but with fewer than "
                f"{least} practitioners that cannot be told apart from one unusual practitioner, "
                "so the limits are not widened."
            )
        elif bool(row["overdispersed"]):
            text += (
                " Practitioners vary more than chance alone would usually give, but not once the most extreme "
                "are set aside, so the limits are not widened."
            )
        else:
            text += (
                " The differences between practitioners are not clearly larger than chance would give "
                "(which does not show that they are equal), so the limits are not widened."
            )
    return Paragraph(text)
