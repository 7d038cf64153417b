"""Small-cell suppression, the counting core: which counts to hide, as numbers, for tables and charts.

(About 450 lines, on purpose: the rule, the policy every function takes and the ways of applying it read together.)

The CMS cell-size rule (DOMAIN.md, Privacy): no count from 1 to 10 may be
shown, or be derivable from other cells (zero may be shown). This module
makes the decisions, as booleans and pool numbers, with numpy and pandas
only, so that the plots can use them as well as the reports. Tables show a
hidden count as ``"<11"`` and a cell hidden to protect it as ``"*"``
(:func:`~needling_analytics.reporting.suppression.suppress_small_counts`,
which also writes the note under a table); charts leave such a value out,
pool it with its neighbours, or draw a hatched "hidden" mark instead:

- :func:`small_count_mask`: the cells a table hides (primary and
  complementary suppression);
- :func:`pool_bands`: neighbouring histogram bands pooled until none holds
  1 to 10;
- :func:`keep_steps`: the points of a cumulative curve that can be drawn
  without a step of 1 to 10;
- :func:`is_small` and :func:`check_min_cell_size`: the rule itself.

The clinic report's own policies (which monthly counts and which funnel
points it protects) are in :mod:`needling_analytics.privacy.policies`.

Every function takes ``min_cell_size``, the smallest count that may be shown
(11 under the CMS rule), or a :class:`Disclosure` policy: who the report is
for (``owner``: nothing hidden; ``staff`` or ``public``: the rule above) and
how small counts are protected (``suppress``: primary and complementary
suppression; ``round``: small counts hidden, every other count rounded to
the nearest 5, shares built on a hidden count shown as bands, see
:func:`round_counts` and :func:`share_band`). docs/privacy.md compares them.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import pandas as pd

#: Marker of a cell hidden to protect another (complementary suppression).
COMPLEMENT = "*"


#: Who a clinic report is for: the owner (internal), staff, or anyone (published).
AUDIENCES = ("owner", "staff", "public")
#: How a report for staff or the public protects small counts.
METHODS = ("suppress", "round")
#: Counts shown under ``method="round"`` are multiples of this (ONS/ABS "round to base 5").
ROUNDING_BASE = 5


@dataclass(frozen=True)
class Disclosure:
    """Who a report is for and how it protects small counts: pass it wherever a ``min_cell_size`` is taken.

    Parameters
    ----------
    audience : {"public", "staff", "owner"}
        ``owner``: the clinic owner's internal report; the owner holds every
        record already, so no count is hidden (DOMAIN.md, "Disclosure control
        that keeps information"). ``staff`` and ``public``: shared reports,
        protected by ``method``.
    method : {"suppress", "round"}
        For shared reports. ``suppress``: counts from 1 to ``threshold - 1``
        hidden, and every cell that would give one away (complementary
        suppression). ``round``: counts from 1 to ``threshold - 1`` hidden,
        every other count rounded to the nearest 5, no complementary
        suppression; a share built on a hidden count is shown as a band.
        Ignored for the owner.
    threshold : int
        Smallest count a shared report may show (CMS: 11; the run
        configuration's ``min_cell_size``). Functions and plots take
        :attr:`min_cell_size` or the policy itself, never this field: it is
        the rule of shared reports, also for the owner's report, whose
        :attr:`min_cell_size` is None.

    Examples
    --------
    >>> Disclosure("owner").cutoff, Disclosure("public").cutoff
    (1, 11)
    >>> Disclosure("staff", "round").min_cell_size
    11
    """

    audience: str = "public"
    method: str = "suppress"
    threshold: int = 11

    def __post_init__(self):
        if self.audience not in AUDIENCES:
            raise ValueError(
                f"`audience` must be 'owner' (the clinic owner's internal report, nothing hidden), 'staff' or "
                f"'public' (shared: small counts protected), got {self.audience!r}"
            )
        if self.method not in METHODS:
            raise ValueError(
                f"`disclosure` must be 'suppress' (hide small counts and the cells that give them away) or 'round' "
                f"(hide small counts, round the others to the nearest {ROUNDING_BASE}), got {self.method!r}"
            )
        if isinstance(self.threshold, bool) or not isinstance(self.threshold, (int, np.integer)) or self.threshold < 1:
            raise ValueError(f"`min_cell_size` must be a whole number, 1 or more, got {self.threshold!r}")
        object.__setattr__(self, "threshold", int(self.threshold))

    @property
    def shared(self) -> bool:
        """Whether the report is for staff or the public (small counts protected)."""
        return self.audience != "owner"

    @property
    def cutoff(self) -> int:
        """The smallest count shown: ``threshold`` in a shared report, 1 (every count) for the owner."""
        return self.threshold if self.shared else 1

    @property
    def rounds(self) -> bool:
        """Whether counts are rounded to the nearest :data:`ROUNDING_BASE` (shared report, ``method="round"``)."""
        return self.shared and self.method == "round"

    @property
    def complementary(self) -> bool:
        """Whether cells that would give a small count away are hidden too (shared report, ``method="suppress"``)."""
        return self.shared and self.method == "suppress"

    @property
    def min_cell_size(self) -> int | None:
        """What the ``plot_*`` functions take as ``min_cell_size``: None (draw everything) for the owner."""
        return self.threshold if self.shared else None

    def to_dict(self) -> dict:
        """``{"audience", "method", "threshold"}``, for the run's cache."""
        return {"audience": self.audience, "method": self.method, "threshold": self.threshold}


def as_disclosure(min_cell_size) -> Disclosure:
    """A :class:`Disclosure` as is, or a whole-number ``min_cell_size`` as today's public rule (suppression at it)."""
    if isinstance(min_cell_size, Disclosure):
        return min_cell_size
    return Disclosure("public", "suppress", check_min_cell_size(min_cell_size))


def check_min_cell_size(min_cell_size) -> int:
    """``min_cell_size`` as an int, or a ValueError naming it when it is not a whole number of at least 1.

    A :class:`Disclosure` gives its :attr:`~Disclosure.cutoff` (1 for the owner: nothing is small).
    """
    if isinstance(min_cell_size, Disclosure):
        return min_cell_size.cutoff
    if isinstance(min_cell_size, bool) or not isinstance(min_cell_size, (int, np.integer)) or min_cell_size < 1:
        raise ValueError(f"`min_cell_size` must be a whole number, 1 or more, got {min_cell_size!r}")
    return int(min_cell_size)


def round_counts(counts, *, base: int = ROUNDING_BASE) -> np.ndarray:
    """Counts rounded to the nearest multiple of ``base`` (missing stays missing).

    For whole numbers and base 5 no count lies half-way (remainders are 0
    to 4), so 12 -> 10 and 13 -> 15. Used for counts of at least the
    min_cell_size only: smaller ones are hidden, not rounded.

    Examples
    --------
    >>> round_counts([0, 2, 3, 11, 12, 13, 17, 18]).tolist()
    [0.0, 0.0, 5.0, 10.0, 10.0, 15.0, 15.0, 20.0]
    """
    values = np.asarray(counts, dtype=float)
    return np.floor(values / base + 0.5) * base


def share_band(
    numerator: float,
    complement: float,
    *,
    hidden_numerator: int = 0,
    hidden_complement: int = 0,
    min_cell_size: int = 11,
) -> tuple[float, float] | None:
    """A band of whole tens of percent that holds the share whatever the hidden counts are, or None.

    The share is numerator / (numerator + complement). ``numerator`` and
    ``complement`` are the sums of the cells that are shown (their true
    values); ``hidden_numerator`` and ``hidden_complement`` count the cells
    hidden as small on each side, each of which may be anything from 1 to
    ``min_cell_size - 1``. The band is [lower, upper] with the share strictly
    above ``lower`` and strictly below ``upper`` (or equal to 1, or 0) for
    *every* possible value of the hidden cells. The band therefore depends
    only on the shown counts, never on a hidden one: it tells a reader
    nothing about a hidden count that the "<11" beside it does not.

    For example, 95 of 100 improved (5 not improved, hidden): whatever 1 to
    10 did not improve, the share lies between 95/105 = 90.5% and 95/96, so
    the band is "over 90%". With 85 of 90 (also 5 hidden) the share could be
    85/95 = 89.5%, so the band is "over 80%": "over 90%" would say that
    fewer than 10 did not improve.

    Returns
    -------
    tuple of float or None
        ``(lower, upper)``, multiples of 0.1 with ``0 <= lower < upper <= 1``;
        both equal to the share when it is the same whatever the hidden
        counts (100% when the complement is 0, 0% when the numerator is);
        None when the band would be 0 to 100% (it says nothing) or the share
        cannot be formed.
    """
    top = check_min_cell_size(min_cell_size) - 1
    n, c = Fraction(round(float(numerator))), Fraction(round(float(complement)))
    low_den = n + hidden_numerator + c + top * hidden_complement
    high_den = n + top * hidden_numerator + c + hidden_complement
    if low_den <= 0 or high_den <= 0:
        return None
    lowest = (n + hidden_numerator) / low_den
    highest = (n + top * hidden_numerator) / high_den
    lower = max(math.ceil(lowest * 10) - 1, 0) / 10
    upper = min(math.floor(highest * 10) + 1, 10) / 10
    if lowest == highest:  # 0% or 100% whatever the hidden counts: the share itself tells nothing more
        return float(lowest), float(highest)
    if lower <= 0 and upper >= 1:
        return None
    return lower, upper


def is_small(counts, min_cell_size: int) -> np.ndarray:
    """Whether each count lies from 1 to ``min_cell_size - 1`` (a count that must not be shown; none for the owner)."""
    min_cell_size = check_min_cell_size(min_cell_size)
    values = np.asarray(counts, dtype=float)
    return (values >= 1) & (values < min_cell_size)


def _pinned(hidden_sum: float, n_primary: int, n_complement: int, min_cell_size: int) -> bool:
    """Whether a reader who knows the sum of a group's hidden cells can pin one of them down exactly.

    Primary cells lie in 1..min_cell_size-1, complementary ones at min_cell_size or
    more (zeros are never hidden). The sum pins every cell when it is the
    smallest possible (all at their minimum) or, without complementary
    cells, the largest possible; one hidden cell is always pinned.
    """
    if n_primary + n_complement < 2:
        return True
    if np.isclose(hidden_sum, n_primary + n_complement * min_cell_size):
        return True
    return n_complement == 0 and bool(np.isclose(hidden_sum, n_primary * (min_cell_size - 1)))


def _hidden_cells(
    table: pd.DataFrame,
    count_columns: list[str],
    min_cell_size: int,
    totals: dict[str, list[str]],
    total_row: Hashable | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Primary and complementary cells of ``table[count_columns]`` (boolean arrays).

    The rule is described under
    :func:`~needling_analytics.reporting.suppression.suppress_small_counts`.
    """
    unknown = sorted(
        {c for c in [*count_columns, *totals, *[p for ps in totals.values() for p in ps]]} - set(table.columns)
    )
    if unknown:
        raise ValueError(f"columns {unknown!r} are not in `table`; its columns are {list(table.columns)}")
    outside = sorted({c for c in [*totals, *[p for ps in totals.values() for p in ps]] if c not in count_columns})
    if outside:
        raise ValueError(f"`totals` must use count columns only; {outside!r} are not in `count_columns`")
    if total_row is not None and total_row not in table.index:
        raise ValueError(f"`total_row` {total_row!r} is not a row label of `table`; its labels are {list(table.index)}")
    values = table[count_columns].to_numpy(dtype=float, na_value=np.nan)
    if np.any(values[np.isfinite(values)] < 0):
        raise ValueError("`count_columns` must hold counts (0 or more); found a negative value")
    primary = is_small(values, min_cell_size)
    complement = np.zeros_like(primary)
    col = {c: j for j, c in enumerate(count_columns)}
    groups = [((i, col[t]), [(i, col[p]) for p in parts]) for t, parts in totals.items() for i in range(len(table))]
    if total_row is not None:
        r = table.index.get_loc(total_row)
        groups += [((r, j), [(i, j) for i in range(len(table)) if i != r]) for j in range(len(count_columns))]
    changed = True
    while changed:
        changed = False
        for total, parts in groups:
            hidden = primary | complement
            if hidden[total] or not np.isfinite(values[total]):
                continue
            gone = [p for p in parts if hidden[p]]
            if not gone:
                continue
            shown = sum(values[p] for p in parts if not hidden[p] and np.isfinite(values[p]))
            n_primary = sum(bool(primary[p]) for p in gone)
            if not _pinned(values[total] - shown, n_primary, len(gone) - n_primary, min_cell_size):
                continue
            candidates = [p for p in parts if not hidden[p] and np.isfinite(values[p]) and values[p] > 0]
            chosen = min(candidates, key=lambda p: values[p]) if candidates else total
            complement[chosen] = True
            changed = True
    return primary, complement


def small_count_mask(
    table: pd.DataFrame,
    count_columns: Sequence[str],
    *,
    min_cell_size: int = 11,
    totals: Mapping[str, Sequence[str]] | None = None,
    total_row: Hashable | None = None,
) -> pd.DataFrame:
    """The cells ``suppress_small_counts`` hides, as booleans: for charts drawn from the same counts.

    Same rule and arguments as
    :func:`~needling_analytics.reporting.suppression.suppress_small_counts` (primary
    suppression of 1 to ``min_cell_size - 1``, then complementary suppression
    for the declared ``totals`` and ``total_row``), without formatting.
    With a :class:`Disclosure`: nothing for the owner; primary cells only
    under ``method="round"``.

    Returns
    -------
    DataFrame
        ``count_columns`` as booleans (True: hidden), ``table``'s index.
        ``attrs``: ``threshold``, ``suppressed`` (primary cells),
        ``complementary`` (cells hidden to protect them).

    Examples
    --------
    >>> t = pd.DataFrame({"booked": [30, 25], "attended": [25, 25], "missed": [5, 0]})
    >>> small_count_mask(t, ["booked", "attended", "missed"], totals={"booked": ["attended", "missed"]})
       booked  attended  missed
    0   False      True    True
    1   False     False   False
    """
    policy = as_disclosure(min_cell_size)
    min_cell_size = policy.cutoff
    count_columns = [count_columns] if isinstance(count_columns, str) else list(count_columns)
    totals = {t: list(parts) for t, parts in (totals or {}).items()}
    primary, complement = _hidden_cells(table, count_columns, min_cell_size, totals, total_row)
    if not policy.complementary:  # rounding protects totals instead; the owner sees everything
        complement = np.zeros_like(complement)
    out = pd.DataFrame(primary | complement, index=table.index, columns=count_columns)
    out.attrs.update(threshold=min_cell_size, suppressed=int(primary.sum()), complementary=int(complement.sum()))
    return out


def pool_bands(counts, *, min_cell_size: int = 11) -> np.ndarray:
    """Pool neighbouring bands of a histogram until no pooled band holds 1 to ``min_cell_size - 1``.

    Left to right, bands are added to the current pool until it holds at
    least ``min_cell_size``; a run of empty bands stays a pool of its own (zero
    may be shown). A small remainder at the right end joins the pool before
    it. When all the bands together hold 1 to ``min_cell_size - 1``, they form
    one pool, which must be hidden (check with :func:`is_small`).

    Parameters
    ----------
    counts : array-like of int
        Counts of consecutive bands, in order.

    Returns
    -------
    ndarray of int
        The pool of each band, numbered 0, 1, ... from the left.

    Examples
    --------
    >>> pool_bands([2, 0, 12, 3, 9, 20, 1], min_cell_size=11).tolist()
    [0, 0, 0, 1, 1, 2, 2]
    """
    min_cell_size = check_min_cell_size(min_cell_size)
    counts = np.asarray(counts, dtype=float)
    pools = np.zeros(len(counts), dtype=int)
    pool, held = 0, 0.0
    for i, count in enumerate(counts):
        if i and (held >= min_cell_size or (held == 0 and count > 0)):
            pool, held = pool + 1, 0.0
        pools[i] = pool
        held += count
    while pool > 0 and is_small(counts[pools == pool].sum(), min_cell_size):
        pools[pools == pool] = pool - 1  # a small remainder joins the pools before it
        pool -= 1
    return pools


def keep_steps(cumulative, *, min_cell_size: int = 11, start: float = 0, anchors: Sequence[int] = ()) -> np.ndarray:
    """The points of a cumulative count that a curve can show without revealing 1 to ``min_cell_size - 1``.

    A cumulative curve (patients improved by at least x%, responses by day
    t) shows each point's count and, by difference, the count between two
    points. Walking from the first point, a point is kept when its count
    and its difference from the last kept point (at first, from ``start``)
    are each 0 or at least ``min_cell_size``. Between kept points every
    difference is then 0 or at least ``min_cell_size`` too.

    Parameters
    ----------
    cumulative : array-like of int
        The curve's counts in drawing order (rising or falling).
    start : float
        The count before the first point: 0 for a rising count (events so
        far), the total for a falling one (patients improved by at least x%).
    anchors : sequence of int
        Positions of points to keep in preference (e.g. labelled guides),
        whenever the rule allows: they are chosen first, among themselves,
        and the other points only where they keep every difference to the
        next anchor kept allowed too.

    Returns
    -------
    ndarray of bool
        True where the point can be drawn.

    Examples
    --------
    >>> keep_steps([40, 35, 28, 20, 9, 0], min_cell_size=11, start=40).tolist()
    [True, False, True, False, False, True]
    >>> keep_steps([40, 35, 28, 20, 9, 0], min_cell_size=11, start=40, anchors=[3]).tolist()
    [True, False, False, True, False, True]
    """
    min_cell_size = check_min_cell_size(min_cell_size)
    counts = np.asarray(cumulative, dtype=float)
    preferred = np.zeros(len(counts), dtype=bool)
    preferred[list(anchors)] = True
    fixed = _walk(counts, preferred, np.zeros(len(counts), dtype=bool), start, min_cell_size)
    return _walk(counts, ~fixed, fixed, start, min_cell_size)


def _walk(
    counts: np.ndarray, candidates: np.ndarray, fixed: np.ndarray, start: float, min_cell_size: int
) -> np.ndarray:
    """:func:`keep_steps` in one pass: ``fixed`` points are kept; a candidate when it keeps every difference allowed."""
    keep = fixed.copy()
    following = np.full(len(counts), np.nan)  # the count of the next fixed point after each position
    upcoming = np.nan
    for i in range(len(counts) - 1, -1, -1):
        following[i] = upcoming
        if fixed[i]:
            upcoming = counts[i]
    last = float(start)
    for i, count in enumerate(counts):
        if fixed[i]:
            last = count
            continue
        if not candidates[i] or not np.isfinite(count):
            continue
        gaps = [count, abs(last - count)] + ([abs(count - following[i])] if np.isfinite(following[i]) else [])
        if not is_small(gaps, min_cell_size).any():
            keep[i] = True
            last = count
    return keep
