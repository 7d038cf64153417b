"""Parquet files: read whole with pandas, values kept with the types they were written with."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .sniff import unparsable_error
from .table import RawTable


def read_parquet(path: Path, name: str) -> RawTable:
    """Read a Parquet file; each row's "line" is its position, counted from 1."""
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for a broken file
        raise unparsable_error(path, "Parquet file", exc, "write the table again, or export CSV.") from None
    frame = frame.reset_index(drop=True)
    frame.columns = [str(c) for c in frame.columns]
    return RawTable(name, path, frame, np.arange(1, len(frame) + 1, dtype=np.int64), "row")
