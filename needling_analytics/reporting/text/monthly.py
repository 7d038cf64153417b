"""The month-by-month control charts in words: which months fall outside their limits."""

from __future__ import annotations

import pandas as pd

from .words import Paragraph, period_label, plural

__all__ = ["control_chart_summary"]


#: What a monthly control chart shows, in words (see :func:`control_chart_summary`).
_CHART_WORDS = {"p": "the share improved", "u": "the adverse-event rate"}


def control_chart_summary(chart: pd.DataFrame) -> Paragraph:
    """The sentence under a monthly control chart: which months fall outside the limits, if any.

    ``chart`` is the chart as drawn (usually
    :func:`~needling_analytics.reporting.protect_control_chart`
    output). Shown months outside the limits are named; hidden ones only
    counted ("1 month not shown for privacy is below the limits"). The
    paragraph says that points within the limits are normal month-to-month
    variation, and never reads them as proof that nothing changed.
    """
    kind = chart.attrs.get("kind", "p")
    what = _CHART_WORDS.get(kind, "the rate")
    shown = chart[~chart["hidden"].astype(bool)] if "hidden" in chart else chart
    shown = shown[shown["rate"].notna()]
    hidden = int(chart.attrs.get("hidden_months", 0))
    if shown.empty and not hidden:
        return Paragraph(f"No month has figures to chart {what}.")
    above = [period_label(m) for m in shown.loc[shown["outside"] & (shown["rate"] > shown["upper"]), "month"]]
    below = [period_label(m) for m in shown.loc[shown["outside"] & (shown["rate"] < shown["lower"]), "month"]]
    parts = [f"above the limits in {', '.join(above)}"] if above else []
    parts += [f"below {'them' if above else 'the limits'} in {', '.join(below)}"] if below else []
    if parts:
        text = (
            f"{what[0].upper()}{what[1:]} was {' and '.join(parts)}: further from the average than month-to-month "
            "chance usually takes it, so worth a look at what was different."
        )
    elif len(shown):
        text = "No month shown is outside the limits."
    else:
        text = "No month can be shown without revealing small numbers of patients."
    secret = chart.attrs.get("hidden_outside", {})
    for side, words in (("above", "above the limits"), ("below", "below the limits")):
        n = int(secret.get(side, 0))
        if n:
            text += f" {plural(n, 'month', 'months')} not shown for privacy {'is' if n == 1 else 'are'} {words}."
    if hidden:
        text += (
            f" {plural(hidden, 'month is', 'months are')} not drawn, to protect patients' privacy "
            "(a point would reveal a small number of patients or events)."
        )
    text += (
        " A point within the limits is normal month-to-month variation. That does not show that nothing changed: "
        "with these numbers, a real change can stay within the limits."
    )
    return Paragraph(text)
