"""Writing tables that are safe to open in a spreadsheet.

A text cell beginning with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return is run as a formula by Excel and LibreOffice (CSV injection). Every
CSV the tool writes goes through :func:`neutralise_formulas`, which prefixes
such text with an apostrophe, the spreadsheet convention for "this is
text". Genuine numbers such as ``-3`` or ``+2.5`` are left alone.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells cannot run as spreadsheet formulas.

    Only text columns change; number, date and boolean columns are returned
    as they were.
    """
    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if not (pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)):
            continue
        text = values.astype("string")
        risky = text.str.startswith(_TRIGGERS).fillna(False) & ~text.str.fullmatch(_NUMBER).fillna(False)
        if risky.any():
            out[column] = values.astype(object).where(~risky, "'" + text[risky].astype(object))
    return out


def write_csv(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write ``frame`` as UTF-8 CSV with formulas neutralised; return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    neutralise_formulas(frame).to_csv(path, index=False, date_format="%Y-%m-%d")
    return path
