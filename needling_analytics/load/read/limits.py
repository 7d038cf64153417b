"""The size limits that keep hostile input bounded, and the capping of over-long fields."""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Longest field accepted (characters); longer ones are quarantined, cut short.
MAX_FIELD_CHARS = 100_000
#: Longest CSV line read whole (bytes); a longer one is cut while it is read,
#: so that a huge field never sits in memory.
MAX_LINE_BYTES = 1_000_000
#: Most lines one CSV record may span before its open quote is taken as a mistake.
MAX_RECORD_LINES = 100
#: Characters kept of a field that is cut short, or of a column name.
PREVIEW_CHARS = 200


def _text_lengths(values: pd.Series) -> np.ndarray:
    """The length of each text cell (0 for numbers, dates and blanks)."""
    if pd.api.types.is_string_dtype(values) and not pd.api.types.is_object_dtype(values):
        return values.str.len().fillna(0).to_numpy(dtype=np.int64)
    if pd.api.types.is_object_dtype(values):
        return values.map(lambda v: len(v) if isinstance(v, str) else 0).to_numpy(dtype=np.int64)
    return np.zeros(len(values), dtype=np.int64)


def cap_long_fields(frame: pd.DataFrame, suspects: dict[int, int] | None = None) -> list[tuple[int, str, str, str]]:
    """Cut text cells longer than :data:`MAX_FIELD_CHARS` to a short preview, in place.

    Only the rows in ``suspects`` (``{row: bytes dropped while reading}``)
    are looked at, or every row when it is None. Returns one ``(row,
    column, preview, reason)`` per cut cell.
    """
    suspects = suspects if suspects is not None else dict.fromkeys(range(len(frame)), 0)
    rows = np.fromiter(suspects, dtype=np.int64, count=len(suspects))
    found = []
    for position, column in enumerate(frame.columns):
        values = frame[column].iloc[rows]
        lengths = _text_lengths(values)
        for i in np.flatnonzero(lengths > MAX_FIELD_CHARS):
            row = int(rows[i])
            preview = values.iat[i][:PREVIEW_CHARS] + "..."
            about = int(lengths[i]) + suspects[row]
            reason = f"field longer than {MAX_FIELD_CHARS:,} characters (about {about:,}); only its first {PREVIEW_CHARS} are kept"
            found.append((row, column, preview, reason))
            frame.iat[row, position] = preview
    return found
