"""The raw table every reader returns, and its column names made distinct."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

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
    #: where such rows come from, in words: "column 'Knee flexion' of appointments.csv"
    origin: str = ""

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
