"""Reading one table's file (CSV, Excel or Parquet) into a raw frame.

Nothing is typed or judged here: every value is kept as it was written so
that a rejected row can be quarantined exactly as the clinic sent it. What
this package does is find the file, decode it, split it into rows, remember
the line (or sheet row) each record came from; the columns keep the names
the file gives them (the mapping renames them later). One module per concern:

- :mod:`.sniff`: what a file is from its first bytes (empty, binary, UTF-16, workbook) and its encoding;
- :mod:`.lines`: a text file as numbered, decoded lines, over-long lines cut while read;
- :mod:`.text`: delimited text split into records, a broken record costing only itself;
- :mod:`.excel` and :mod:`.parquet`: the other two formats;
- :mod:`.limits`: the size limits and the capping of over-long fields;
- :mod:`.table`: :class:`RawTable` (renaming is the mapping's: :mod:`..transform`).
"""

from __future__ import annotations

from pathlib import Path

from ...errors import UnreadableFileError
from ..mapping import TableMapping
from .excel import read_excel
from .limits import MAX_FIELD_CHARS, MAX_LINE_BYTES, MAX_RECORD_LINES, cap_long_fields
from .parquet import read_parquet
from .table import RawTable
from .text import read_csv

__all__ = [
    "MAX_FIELD_CHARS",
    "MAX_LINE_BYTES",
    "MAX_RECORD_LINES",
    "SUFFIXES",
    "RawTable",
    "find_table_file",
    "read_table",
]

SUFFIXES = (".csv", ".tsv", ".txt", ".parquet", ".xlsx")


def find_table_file(data_dir: Path, name: str, mapping: TableMapping) -> Path | None:
    """The file holding table ``name`` in ``data_dir``, or None.

    Raises
    ------
    UnreadableFileError
        When a mapped file is missing or several files could be the table.
    """
    if mapping.file:
        path = data_dir / mapping.file
        if not path.is_file():
            raise UnreadableFileError(
                f"the mapping says table {name!r} is in {mapping.file!r}, but there is no such file",
                path=data_dir,
                hint="correct `file` in the mapping or add the file.",
            )
        return path
    candidates = sorted(
        p for p in data_dir.iterdir() if p.is_file() and p.stem.casefold() == name and p.suffix.casefold() in SUFFIXES
    )
    if len(candidates) > 1:
        raise UnreadableFileError(
            f"several files could hold table {name!r}: {[p.name for p in candidates]}",
            path=data_dir,
            hint="keep one of them, or name the right one with `file` in a mapping.",
        )
    return candidates[0] if candidates else None


def read_table(path: Path, name: str, mapping: TableMapping) -> RawTable:
    """Read ``path`` as table ``name``, columns as the file names them.

    Raises
    ------
    UnreadableFileError
        When the file is empty, binary, or cannot be parsed as a table.
    """
    suffix = path.suffix.casefold()
    if suffix == ".parquet":
        raw = read_parquet(path, name)
    elif suffix == ".xlsx":
        raw = read_excel(path, name, mapping)
    else:
        raw = read_csv(path, name, mapping)
    if suffix in (".parquet", ".xlsx"):
        raw.cell_problems = cap_long_fields(raw.frame)
    return raw
