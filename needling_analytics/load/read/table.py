"""The raw table every reader returns, and its column names: made distinct, then canonical."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import MappingError
from ...schema import TABLES
from ..mapping import TableMapping
from .limits import PREVIEW_CHARS


@dataclass
class RawTable:
    """A table as read from its file, before typing and validation.

    ``frame`` holds the source values (text for CSV; numbers, dates or text
    for Excel and Parquet) under canonical column names where known;
    ``lines`` gives, for each row, its line in the CSV (or row in the sheet,
    or position in the Parquet file); ``malformed`` maps a row position to
    the reason its record could not be read whole; ``cell_problems``
    lists ``(row, column, value, reason)`` for cells refused as they were
    read (longer than :data:`~.limits.MAX_FIELD_CHARS`); ``where`` names the sheet read from a workbook.
    """

    name: str
    path: Path
    frame: pd.DataFrame
    lines: np.ndarray
    line_label: str = "line"
    notes: list[str] = field(default_factory=list)
    malformed: dict[int, str] = field(default_factory=dict)
    extra_columns: list[str] = field(default_factory=list)
    cell_problems: list[tuple[int, str, str, str]] = field(default_factory=list)
    where: str = ""
    #: for rows made from another table's wide columns: that table, and each row's position in it
    parent: str = ""
    parent_rows: np.ndarray | None = None

    def location(self, rows) -> np.ndarray:
        """Where each row of ``rows`` (positions) is, for messages: 'line 12', 'row 5 of sheet Visits'."""
        numbers = self.lines[np.asarray(rows, dtype=np.int64)].astype(str)
        sheet = self.where.split(" (sheets:")[0] if self.where.startswith("sheet ") else ""
        text = np.char.add(f"{self.line_label} ", numbers)
        return np.char.add(text, f" of {sheet}") if sheet else text


def unique_columns(header: list[str], notes: list[str]) -> list[str]:
    """Make duplicate column names distinct (``x``, ``x (2)``), with a note."""
    seen: dict[str, int] = {}
    out = []
    for column in header:
        column = column[:PREVIEW_CHARS] or "(blank)"
        key = column.casefold()
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1:
            notes.append(
                f"column {column!r} appears {seen[key]} times; copy {seen[key]} is read as {column + f' ({seen[key]})'!r}."
            )
            column = f"{column} ({seen[key]})"
        out.append(column)
    return out


def _normalise(column: str) -> str:
    return re.sub(r"[\s\-]+", "_", column.strip().casefold())


def rename_columns(raw: RawTable, mapping: TableMapping) -> dict[str, str]:
    """Rename source columns to canonical ones, in place on ``raw``; return the renaming.

    A column matches when the mapping names it, or when its name, ignoring
    case, spaces and hyphens, is a canonical column name.
    """
    canonical = TABLES[raw.name].column_names
    renamed, taken = {}, {}
    for column in raw.frame.columns:
        key = column.strip().casefold()
        target = mapping.columns.get(key)
        if target is None and _normalise(column) in canonical:
            target = _normalise(column)
        if target is None:
            raw.extra_columns.append(column)
            continue
        if target in taken:
            raise MappingError(
                f"columns {taken[target]!r} and {column!r} both become {target!r}",
                path=raw.path,
                hint="map only one of them to this column (see `columns` in the mapping).",
            )
        taken[target] = column
        renamed[column] = target
    raw.frame = raw.frame.rename(columns=renamed)
    raw.cell_problems = [(row, renamed.get(c, c), value, why) for row, c, value, why in raw.cell_problems]
    if raw.extra_columns:
        raw.notes.append(f"columns not in the data model were kept as they are: {raw.extra_columns}.")
    return renamed
