"""Reading one table's file (CSV, Excel or Parquet) into a raw frame.

Nothing is typed or judged here: every value is kept as it was written so
that a rejected row can be quarantined exactly as the clinic sent it. What
this module does is find the file, decode it, split it into rows, remember
the line (or sheet row) each record came from, and rename the columns to
the canonical names.
"""

from __future__ import annotations

import codecs
import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import MappingError, UnreadableFileError
from ..schema import TABLES
from .mapping import TableMapping

SUFFIXES = (".csv", ".tsv", ".txt", ".parquet", ".xlsx")
#: Longest field accepted in a CSV (characters); longer ones are quarantined.
MAX_FIELD_CHARS = 100_000
_DELIMITERS = (",", ";", "\t", "|")


@dataclass
class RawTable:
    """A table as read from its file, before typing and validation.

    ``frame`` holds the source values (text for CSV; numbers, dates or text
    for Excel and Parquet) under canonical column names where known;
    ``lines`` gives, for each row, its line in the CSV (or row in the sheet,
    or position in the Parquet file); ``malformed`` maps a row position to
    the reason its record could not be split cleanly.
    """

    name: str
    path: Path
    frame: pd.DataFrame
    lines: np.ndarray
    line_label: str = "line"
    notes: list[str] = field(default_factory=list)
    malformed: dict[int, str] = field(default_factory=dict)
    extra_columns: list[str] = field(default_factory=list)


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
    """Read ``path`` as table ``name`` and rename its columns.

    Raises
    ------
    UnreadableFileError
        When the file is empty, binary, or cannot be parsed as a table.
    """
    suffix = path.suffix.casefold()
    if suffix == ".parquet":
        raw = _read_parquet(path, name)
    elif suffix == ".xlsx":
        raw = _read_excel(path, name, mapping)
    else:
        raw = _read_csv(path, name, mapping)
    _rename_columns(raw, mapping)
    return raw


# -- CSV -------------------------------------------------------------------


def _decoded_lines(path: Path, encoding: str | None, notes: list[str]):
    """Yield the file's lines as text.

    Without a configured encoding each line is decoded as UTF-8 and, failing
    that, as Windows-1252, so that a file mixing the two still reads.
    """
    fallback_lines = []
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if number == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8) :]
            if encoding:
                try:
                    yield raw.decode(encoding)
                except UnicodeDecodeError as exc:
                    raise UnreadableFileError(
                        f"line {number} is not valid {encoding} ({exc.reason} at byte {exc.start})",
                        path=path,
                        hint="set the right `encoding` in the mapping, or remove it to let the loader detect it.",
                    ) from None
                continue
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError:
                fallback_lines.append(number)
                yield raw.decode("cp1252", errors="replace")
    if fallback_lines:
        shown = ", ".join(map(str, fallback_lines[:5])) + (" ..." if len(fallback_lines) > 5 else "")
        notes.append(f"{len(fallback_lines)} line(s) were not UTF-8 and were read as Windows-1252 (lines {shown}).")


def _sniff_delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in _DELIMITERS}
    best = max(counts, key=counts.get)
    return best if counts[best] > 0 else ","


def _check_not_binary(path: Path) -> bytes:
    with path.open("rb") as handle:
        head = handle.read(8192)
    if not head.strip():
        raise UnreadableFileError(
            "the file is empty: not even a header row",
            path=path,
            hint="export the table again, or delete the file if the clinic has no such data.",
        )
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return head
    if b"\x00" in head:
        raise UnreadableFileError(
            "the file holds binary data, not text: it is not a CSV export",
            path=path,
            hint="export the table as CSV (or save it as .xlsx) and try again.",
        )
    return head


def _read_csv(path: Path, name: str, mapping: TableMapping) -> RawTable:
    head = _check_not_binary(path)
    notes: list[str] = []
    encoding = mapping.encoding
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    if encoding == "utf-16":
        text = path.read_text(encoding="utf-16")
        lines = iter(text.splitlines(keepends=True))
    else:
        lines = _decoded_lines(path, encoding, notes)
    first = next(lines, "")
    delimiter = mapping.delimiter or _sniff_delimiter(first)

    def all_lines():
        yield first
        yield from lines

    reader = csv.reader(all_lines(), delimiter=delimiter, strict=False)
    csv.field_size_limit(MAX_FIELD_CHARS)
    header, rows, starts, malformed = None, [], [], {}
    previous_end = 0
    while True:
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            start = previous_end + 1
            previous_end = reader.line_num
            if header is None:
                raise UnreadableFileError(f"the header row cannot be read: {exc}", path=path) from None
            malformed[len(rows)] = (
                f"the record could not be read ({exc}); fields longer than {MAX_FIELD_CHARS:,} characters are refused"
            )
            rows.append([])
            starts.append(start)
            continue
        start, previous_end = previous_end + 1, reader.line_num
        if not "".join(record).strip():
            continue
        if header is None:
            header = [cell.strip() for cell in record]
            continue
        if reader.line_num - start > 50:
            malformed[len(rows)] = (
                f'this record runs from line {start} to line {reader.line_num}: probably a quote (") that is never closed'
            )
        rows.append(record)
        starts.append(start)
    if header is None:
        raise UnreadableFileError("the file has no header row", path=path)
    width = len(header)
    for position, record in enumerate(rows):
        if len(record) != width:
            if len(record) > width and "".join(record[width:]).strip():
                malformed.setdefault(position, f"the record has {len(record)} fields but the header has {width}")
            rows[position] = (record + [""] * width)[:width]
    frame = pd.DataFrame(rows, columns=_unique(header, path, notes), dtype=object)
    if frame.empty:
        frame = pd.DataFrame(columns=frame.columns, dtype=object)
    if delimiter != ",":
        notes.append(f"fields are separated by {delimiter!r}.")
    return RawTable(name, path, frame, np.asarray(starts, dtype=np.int64), "line", notes, malformed)


def _unique(header: list[str], path: Path, notes: list[str]) -> list[str]:
    """Make duplicate column names distinct (``x``, ``x (2)``), with a note."""
    seen: dict[str, int] = {}
    out = []
    for column in header:
        column = column or "(blank)"
        key = column.casefold()
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1:
            notes.append(
                f"column {column!r} appears {seen[key]} times; copy {seen[key]} is read as {column + f' ({seen[key]})'!r}."
            )
            column = f"{column} ({seen[key]})"
        out.append(column)
    return out


# -- Excel and Parquet ----------------------------------------------------


def _read_excel(path: Path, name: str, mapping: TableMapping) -> RawTable:
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a broken file
        raise UnreadableFileError(
            f"not a readable Excel workbook ({type(exc).__name__}: {exc})",
            path=path,
            hint="open it in Excel and save it again as .xlsx, or export CSV.",
        ) from None
    notes = []
    try:
        sheet_names = book.sheetnames
        wanted = mapping.sheet if mapping.sheet is not None else sheet_names[0]
        if isinstance(wanted, int):
            wanted = sheet_names[wanted]
        if wanted not in sheet_names:
            raise UnreadableFileError(
                f"has no sheet {wanted!r}; its sheets are {sheet_names}",
                path=path,
                hint="set `sheet` in the mapping to one of these.",
            )
        others = [s for s in sheet_names if s != wanted]
        if others:
            notes.append(f"read sheet {wanted!r}; other sheets ignored: {others}.")
        header, rows, numbers = None, [], []
        for number, values in enumerate(book[wanted].iter_rows(values_only=True), start=1):
            if not any(v is not None and str(v).strip() for v in values):
                continue
            if header is None:
                header = [str(v).strip() if v is not None else "" for v in values]
                continue
            rows.append(list(values))
            numbers.append(number)
    finally:
        book.close()
    if header is None:
        raise UnreadableFileError(f"sheet {wanted!r} is empty: not even a header row", path=path)
    while header and not header[-1]:
        header.pop()
    width = len(header)
    rows = [(r + [None] * width)[:width] for r in rows]
    frame = pd.DataFrame(rows, columns=_unique(header, path, notes), dtype=object)
    return RawTable(name, path, frame, np.asarray(numbers, dtype=np.int64), "row", notes)


def _read_parquet(path: Path, name: str) -> RawTable:
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for a broken file
        raise UnreadableFileError(
            f"not a readable Parquet file ({type(exc).__name__}: {exc})",
            path=path,
            hint="write the table again, or export CSV.",
        ) from None
    frame = frame.reset_index(drop=True)
    frame.columns = [str(c) for c in frame.columns]
    return RawTable(name, path, frame, np.arange(1, len(frame) + 1, dtype=np.int64), "row")


# -- Column names ---------------------------------------------------------


def _normalise(column: str) -> str:
    return re.sub(r"[\s\-]+", "_", column.strip().casefold())


def _rename_columns(raw: RawTable, mapping: TableMapping) -> None:
    """Rename source columns to canonical ones, in place on ``raw``.

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
    if raw.extra_columns:
        raw.notes.append(f"columns not in the data model were kept as they are: {raw.extra_columns}.")
