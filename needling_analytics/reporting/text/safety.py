"""The safety section in words: adverse-event rates against the published surveys."""

from __future__ import annotations

import pandas as pd

from .words import Paragraph, label, plural

__all__ = ["safety_summary"]


def _event_words(event_type, severity) -> str:
    if event_type == "any":
        return "any significant or serious event" if severity == "major" else "any minor event"
    return label(event_type) + (" (significant or serious)" if severity == "major" else "")


def safety_summary(table: pd.DataFrame) -> Paragraph:
    """What the safety table's comparison column says, in one paragraph a clinic owner can read.

    ``table`` is :func:`~needling_analytics.reporting.adverse_event_table`
    (already protected: a hidden comparison, ``"*"``, is only counted).
    Names the event types higher and lower here than a published survey
    (an exact test at the 5% level), and those the clinic never records;
    says that "no clear difference" is not proof of equal rates, and that
    careful recording raises a clinic's rates.
    """
    if table is None or table.empty:
        return Paragraph("There are no adverse-event figures to compare with published rates.")

    def named(code):
        rows = table[table["comparison"] == code]
        grouped = rows.groupby(["event_type", "severity"], sort=False)["study"].agg(lambda s: " and ".join(s))
        return [f"{_event_words(t, v)} ({studies})" for (t, v), studies in grouped.items()]

    parts = []
    for code, words in (("above", "higher here than published"), ("below", "lower here than published")):
        found = named(code)
        if found:
            parts.append(f"{words} for {', '.join(found)}")
    text = (
        f"Compared with the published surveys, rates are {'; '.join(parts)}: further from the published rate than "
        "chance usually takes a clinic's figures. "
        if parts
        else "No rate here is clearly higher or lower than the published ones. "
    )
    text += (
        'Where the table reads "no clear difference", the rates may still differ: with events this rare, a real '
        "difference can go unseen. "
    )
    unrecorded = list(dict.fromkeys(_event_words(t, v) for t, v in table.loc[
        table["comparison"] == "not_recorded", ["event_type", "severity"]].itertuples(index=False)))  # fmt: skip
    if unrecorded:
        text += (
            f"{', '.join(unrecorded).capitalize()} {'is' if len(unrecorded) == 1 else 'are'} not recorded in this "
            "clinic's data, so no comparison is made (a rate of zero would only mean it is not written down). "
        )
    hidden = table.loc[table["comparison"].astype(str) == "*", ["event_type", "severity"]].drop_duplicates()
    if len(hidden):
        text += (
            f"{plural(len(hidden), 'event type rests', 'event types rest')} on too few events to show or compare, "
            "to protect patients' privacy. "
        )
    text += "A clinic that records every minor event carefully shows higher rates than one that does not."
    return Paragraph(text)
