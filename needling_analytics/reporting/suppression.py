"""Small-cell suppression as readers see it: hidden counts as text in tables, and the note under them.

The rule and the decisions are explained in
:mod:`needling_analytics.privacy.suppression`; this module turns them into
the text a report shows: :func:`suppress_small_counts` (``"<11"``, ``"*"``,
bands such as ``"over 90%"``), :func:`suppression_note`,
:func:`format_band` and :func:`is_hidden_text`.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import numpy as np
import pandas as pd

from ..privacy.suppression import (
    COMPLEMENT,
    ROUNDING_BASE,
    Disclosure,
    as_disclosure,
    is_small,
    round_counts,
    share_band,
    small_count_mask,
)
from .text import Paragraph

__all__ = [
    "SUPPRESSION_NOTE",
    "format_band",
    "is_hidden_text",
    "suppress_small_counts",
    "suppression_note",
]


def suppression_note(min_cell_size: int | Disclosure = 11) -> Paragraph:
    """The sentences a report prints under its suppressed tables and charts: the rule its audience gets."""
    policy = as_disclosure(min_cell_size)
    min_cell_size = policy.threshold
    if not policy.shared:
        return Paragraph(
            "This report is for the clinic owner, who already holds every record: no count is hidden, small ones "
            "included. Do not share it as it is: a report for staff or for sharing (audience staff or public) "
            f"hides counts from 1 to {min_cell_size - 1}."
        )
    charts = (
        "Charts follow the same rule: such a value is left out, pooled with its neighbours, "
        f'or drawn as a hatched mark labelled "<{min_cell_size}".'
    )
    if policy.rounds:
        return Paragraph(
            f"To protect patients' privacy, counts from 1 to {min_cell_size - 1} are shown as "
            f'"<{min_cell_size}" (zero is shown), and every other count is rounded to the nearest {ROUNDING_BASE} '
            f"(so {min_cell_size} shows as {int(round_counts(min_cell_size))}), so that no small count can be "
            "worked out exactly from a total; rounded figures may not add up to their total. A share built on a "
            'hidden count is shown as a range that holds whatever the hidden count is ("over 80%"); other figures '
            f'built on it are marked "{COMPLEMENT}". Charts are drawn from the exact counts, so they hide more: such '
            f'a value is left out, pooled with its neighbours, or drawn as a hatched mark labelled "<{min_cell_size}".'
        )
    return Paragraph(
        f"To protect patients' privacy, counts from 1 to {min_cell_size - 1} are shown as "
        f'"<{min_cell_size}" (zero is shown), and cells marked "{COMPLEMENT}" are hidden too, so that a small count '
        "cannot be worked out from a total or from a rate. " + charts
    )


def format_band(band: tuple[float, float] | None) -> str:
    """A :func:`share_band` in words: ``"over 90%"``, ``"under 20%"``, ``"between 30% and 60%"``; None -> ``"*"``."""
    if band is None:
        return COMPLEMENT
    lower, upper = band
    if lower == upper:
        return f"{lower:.0%}"
    if upper >= 1:
        return f"over {lower:.0%}"
    if lower <= 0:
        return f"under {upper:.0%}"
    return f"between {lower:.0%} and {upper:.0%}"


def is_hidden_text(cell) -> bool:
    """Whether a table cell is hidden or only a band (``"<11"``, ``"*"``, ``"over 90%"``...): no exact figure."""
    text = str(cell)
    return text == COMPLEMENT or text.startswith(("<", "over ", "under ", "between "))


#: :func:`suppression_note` for the CMS threshold of 11.
SUPPRESSION_NOTE = suppression_note(11)


def suppress_small_counts(
    table: pd.DataFrame,
    count_columns: Sequence[str],
    *,
    min_cell_size: int | Disclosure = 11,
    rate_columns: Sequence[str] | Mapping[str, str | Sequence[str]] = (),
    totals: Mapping[str, Sequence[str]] | None = None,
    total_row: Hashable | None = None,
    rate_format: str | Mapping[str, str] = "{:.1f}",
    bands: Mapping[str, tuple[Sequence[str], Sequence[str]]] | None = None,
) -> pd.DataFrame:
    """Hide small counts (CMS cell-size rule) and the cells from which they could be worked out.

    What is implemented, exactly:

    1. **Primary suppression**: a count from 1 to ``min_cell_size - 1`` is
       shown as ``"<11"`` (for the default threshold). Zero is shown (the
       CMS rule allows it); missing counts are blank.
    2. **Complementary suppression**, for the totals you declare:
       ``totals={"booked": ["attended", "cancelled", "no_show"]}`` says that
       in every row ``booked`` is the sum of those columns; ``total_row``
       names the row (index label) whose counts are the sums of all other
       rows. In each such group whose total is shown, a reader can work
       out the sum of the hidden cells. While that sum pins a hidden cell
       down exactly (one hidden cell; or every hidden cell at its smallest
       possible value, e.g. two hidden cells summing to 2; or, with only
       small cells hidden, at their largest), the smallest shown non-zero
       part is hidden too and marked ``"*"`` (when no part is left, the
       total itself). This repeats until no group pins a cell. Zeros are
       never used as complements (hiding a 0 next to a small cell would
       give both away).
    3. **Rates**: a rate (or mean) column is hidden (``"*"``) in every row
       where a count it is derived from is hidden (``rate_columns`` as a dict
       ``{rate: counts}``; as a list, a rate depends on every count column).
    4. **Audience and method** (``min_cell_size`` as a
       :class:`~needling_analytics.privacy.suppression.Disclosure`): for the owner
       nothing is hidden. Under ``method="round"`` only step 1 hides cells
       (no complementary suppression); every other count is shown rounded
       to the nearest 5 (:func:`round_counts`), and a share named in
       ``bands`` whose counts include a hidden one is shown as a band
       (:func:`share_band`, e.g. ``"over 90%"``) instead of ``"*"``.

    Limits: each declared total is protected on its own. A reader who solves
    row and column totals together (a linear program) may still narrow a
    hidden cell to a range; a guarantee needs a full audit (e.g. with
    tau-ARGUS). Counts shown in other tables, or in earlier months' reports
    (differencing), are not taken into account; totals not declared are not
    protected. Columns needed only to declare a total (e.g. "not
    responders") can be included and dropped afterwards.

    Parameters
    ----------
    table : DataFrame
        Counts (whole numbers) and rates, one row per group.
    count_columns : sequence of str
        Columns holding counts of people, episodes, sessions or events.
    min_cell_size : int or Disclosure
        Smallest count that may be shown (CMS: 11), or the report's
        disclosure policy.
    rate_columns : list, or dict of rate column to the count column(s) it is derived from
    totals : dict of total column to its part columns, optional
    total_row : index label, optional
        The row holding each count column's total.
    rate_format : str or dict of str
        Format of shown rates (``"{:.1f}"``; ``"{:.0%}"`` for fractions).
    bands : dict, optional
        ``{share: (numerator columns, complement columns)}``: shares (as
        fractions) that ``method="round"`` shows as a band when one of
        their counts is hidden.

    Returns
    -------
    DataFrame
        A copy with count and rate columns as text; other columns unchanged.
        ``attrs``: ``threshold``, ``suppressed`` (primary cells),
        ``complementary`` (cells hidden to protect them), ``audience``,
        ``method``.

    Examples
    --------
    >>> t = pd.DataFrame({"booked": [30, 25], "attended": [25, 25], "missed": [5, 0]})
    >>> suppress_small_counts(t, ["booked", "attended", "missed"], totals={"booked": ["attended", "missed"]})
      booked attended missed
    0     30        *    <11
    1     25       25      0
    >>> suppress_small_counts(t, ["booked", "attended", "missed"], min_cell_size=Disclosure("staff", "round"),
    ...                       totals={"booked": ["attended", "missed"]})
      booked attended missed
    0     30       25    <11
    1     25       25      0
    """
    policy = as_disclosure(min_cell_size)
    min_cell_size = policy.cutoff
    count_columns = [count_columns] if isinstance(count_columns, str) else list(count_columns)
    totals = {t: list(parts) for t, parts in (totals or {}).items()}
    rates = (
        {r: [s] if isinstance(s, str) else list(s) for r, s in rate_columns.items()}
        if isinstance(rate_columns, Mapping)
        else {r: count_columns for r in rate_columns}
    )
    named = [*rates, *[s for sources in rates.values() for s in sources]]
    unknown = sorted({c for c in named if c not in table.columns})
    if unknown:
        raise ValueError(f"columns {unknown!r} are not in `table`; its columns are {list(table.columns)}")
    bands = {
        r: ([n] if isinstance(n, str) else list(n), [c] if isinstance(c, str) else list(c))
        for r, (n, c) in (bands or {}).items()
    }
    unbanded = sorted({c for parts in bands.values() for side in parts for c in side} - set(count_columns))
    if unbanded:
        raise ValueError(f"`bands` must use count columns only; {unbanded!r} are not in `count_columns`")
    hidden = small_count_mask(table, count_columns, min_cell_size=policy, totals=totals, total_row=total_row).to_numpy()
    values = table[count_columns].to_numpy(dtype=float, na_value=np.nan)
    primary = is_small(values, min_cell_size)
    complement = hidden & ~primary
    shown_values = round_counts(values) if policy.rounds else values
    col = {c: j for j, c in enumerate(count_columns)}

    out = table.copy()
    for j, column in enumerate(count_columns):
        cells = [
            f"<{min_cell_size}"
            if primary[i, j]
            else COMPLEMENT
            if complement[i, j]
            else ""
            if not np.isfinite(v)
            else f"{int(v):,}"
            for i, v in enumerate(shown_values[:, j])
        ]
        out[column] = pd.Series(cells, index=out.index, dtype=object)
    for rate, sources in rates.items():
        fmt = rate_format.get(rate, "{:.1f}") if isinstance(rate_format, Mapping) else rate_format
        blocked = hidden[:, [col[s] for s in sources if s in col]].any(axis=1)
        numbers = table[rate].to_numpy(dtype=float, na_value=np.nan)
        cells = [
            COMPLEMENT if b else "" if not np.isfinite(v) else fmt.format(v)
            for b, v in zip(blocked, numbers, strict=True)
        ]
        if policy.rounds and rate in bands:
            cells = [
                _band_cell(values[i], primary[i], bands[rate], col, min_cell_size) if b else cell
                for i, (b, cell) in enumerate(zip(blocked, cells, strict=True))
            ]
        out[rate] = pd.Series(cells, index=out.index, dtype=object)
    out.attrs.update(
        threshold=int(policy.threshold),
        suppressed=int(primary.sum()),
        complementary=int(complement.sum()),
        audience=policy.audience,
        method=policy.method,
    )
    return out


def _band_cell(row: np.ndarray, hidden: np.ndarray, parts, col: Mapping[str, int], min_cell_size: int) -> str:
    """One row's share as a :func:`share_band`, from the shown counts and the number hidden on each side."""
    sides = []
    for side in parts:
        j = [col[c] for c in side]
        sides.append((float(np.nansum([row[k] for k in j if not hidden[k]])), int(sum(bool(hidden[k]) for k in j))))
    (numerator, hidden_numerator), (complement, hidden_complement) = sides
    band = share_band(
        numerator,
        complement,
        hidden_numerator=hidden_numerator,
        hidden_complement=hidden_complement,
        min_cell_size=min_cell_size,
    )
    return format_band(band)
