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
from collections import deque
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import MappingError, UnreadableFileError
from ..schema import TABLES
from .mapping import TableMapping

SUFFIXES = (".csv", ".tsv", ".txt", ".parquet", ".xlsx")
#: Longest field accepted (characters); longer ones are quarantined, cut short.
MAX_FIELD_CHARS = 100_000
#: Longest CSV line read whole (bytes); a longer one is cut while it is read,
#: so that a huge field never sits in memory.
MAX_LINE_BYTES = 1_000_000
#: Most lines one CSV record may span before its open quote is taken as a mistake.
MAX_RECORD_LINES = 100
_PREVIEW_CHARS = 200
_DELIMITERS = (",", ";", "\t", "|")


@dataclass
class RawTable:
    """A table as read from its file, before typing and validation.

    ``frame`` holds the source values (text for CSV; numbers, dates or text
    for Excel and Parquet) under canonical column names where known;
    ``lines`` gives, for each row, its line in the CSV (or row in the sheet,
    or position in the Parquet file); ``malformed`` maps a row position to
    the reason its record could not be split cleanly; ``cell_problems``
    lists ``(row, column, value, reason)`` for cells refused as they were
    read (too long); ``where`` names the sheet read from a workbook.
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
    if suffix in (".parquet", ".xlsx"):
        raw.cell_problems = _cap_long_fields(raw.frame)
    renamed = _rename_columns(raw, mapping)
    raw.cell_problems = [(row, renamed.get(c, c), value, why) for row, c, value, why in raw.cell_problems]
    return raw


# -- CSV -------------------------------------------------------------------


class _OpenQuote(Exception):
    """A record's quoted field is still open where it should have ended."""


class _Transcoded:
    """A binary stream that reads a UTF-16 or UTF-32 file as UTF-8 bytes."""

    def __init__(self, handle, encoding: str, path: Path):
        self.handle, self.path = handle, path
        self.decoder = codecs.getincrementaldecoder(encoding)()

    def read(self, size: int) -> bytes:
        while True:
            data = self.handle.read(size)
            try:
                text = self.decoder.decode(data, final=not data)
            except UnicodeDecodeError as exc:
                raise UnreadableFileError(
                    f"the file is not valid {exc.encoding} text ({exc.reason})",
                    path=self.path,
                    hint="save it as 'CSV UTF-8' and try again.",
                ) from None
            if text or not data:
                return text.encode("utf-8")


def _char_start(data: bytes, at: int) -> int:
    """``at`` moved back (at most 3 bytes) so as not to split a UTF-8 character."""
    for _ in range(3):
        if at <= 0 or at >= len(data) or data[at] & 0xC0 != 0x80:
            break
        at -= 1
    return at


class _Line:
    """A line read in pieces: kept whole while short, only its start and end once too long.

    ``dropped`` counts the bytes left out of the middle; ``quotes`` how many
    of them were quotes, so that the marker put in their place can keep the
    line's quotes balanced.
    """

    def __init__(self):
        self.head, self.tail, self.dropped, self.quotes, self.long = b"", b"", 0, 0, False

    def add(self, part: bytes) -> None:
        half = MAX_LINE_BYTES // 2
        if not self.long and len(self.head) + len(part) <= MAX_LINE_BYTES:
            self.head += part
            return
        if not self.long:
            line = self.head + part
            cut = _char_start(line, half)
            self.head, part, self.long = line[:cut], line[cut:], True
        window = self.tail + part
        cut = _char_start(window, len(window) - half) if len(window) > half else 0
        self.dropped += cut
        self.quotes += window.count(b'"', 0, cut)
        self.tail = window[cut:]

    def bytes(self) -> bytes:
        if not self.dropped:
            return self.head
        marker = f"[... {self.dropped} bytes not read ...]" + ('"' if self.quotes % 2 else "")
        return self.head + marker.encode("ascii") + self.tail


def _physical_lines(handle, newline: bytes):
    """Yield ``(line, dropped)`` for each line of a binary stream.

    A line longer than :data:`MAX_LINE_BYTES` keeps only its first and last
    half of that around a marker, ``dropped`` counting the bytes left out,
    so memory stays bounded whatever the line's length.
    """
    pending = _Line()
    for block in iter(lambda: handle.read(1 << 20), b""):
        *complete, rest = block.split(newline)
        for part in complete:
            if not pending.head and not pending.long and len(part) <= MAX_LINE_BYTES:
                yield part + newline, 0  # the common case: a whole line within the block
                continue
            pending.add(part)
            yield pending.bytes() + newline, pending.dropped
            pending = _Line()
        pending.add(rest)
    if pending.head:
        yield pending.bytes(), pending.dropped


def _decoded_lines(raw_lines, path: Path, encoding: str | None, notes: list[str]):
    """Yield ``(number, text, dropped)`` for each line.

    Without a configured encoding each line is decoded as UTF-8 and, failing
    that, as Windows-1252, so that a file mixing the two still reads.
    """
    fallback_lines = []
    for number, (raw, dropped) in enumerate(raw_lines, start=1):
        if number == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]
        if encoding:
            try:
                yield number, raw.decode(encoding), dropped
            except UnicodeDecodeError as exc:
                raise UnreadableFileError(
                    f"line {number} is not valid {encoding} ({exc.reason} at byte {exc.start})",
                    path=path,
                    hint="set the right `encoding` in the mapping, or remove it to let the loader detect it.",
                ) from None
            continue
        try:
            yield number, raw.decode("utf-8"), dropped
        except UnicodeDecodeError:
            fallback_lines.append(number)
            yield number, raw.decode("cp1252", errors="replace"), dropped
    if fallback_lines:
        shown = ", ".join(map(str, fallback_lines[:5])) + (" ..." if len(fallback_lines) > 5 else "")
        notes.append(f"{len(fallback_lines)} line(s) were not UTF-8 and were read as Windows-1252 (lines {shown}).")


def _looks_like_rows(lines: list, delimiter: str, width: int) -> bool:
    """True when any of ``lines`` would be a whole record of ``width`` fields by itself."""
    for _, text, _ in lines:
        if text.count(delimiter) >= width - 1:
            try:
                if len(next(csv.reader([text], delimiter=delimiter), [])) >= width:
                    return True
            except csv.Error:
                pass
    return False


def _fields_of_line(text: str, delimiter: str) -> list[str]:
    """The fields of one line read on its own (for showing a broken record)."""
    try:
        return next(csv.reader([text], delimiter=delimiter, strict=False), [])
    except csv.Error:
        return text.rstrip("\r\n").split(delimiter)


_CSV_ERRORS = {
    "new-line character seen in unquoted field": "a line break (carriage return) inside a field that is not quoted",
    "field larger than field limit": "a field longer than the CSV reader accepts",
}


def _records(lines, delimiter: str):
    """Yield ``(first_line, fields, dropped, chars, problem)`` per CSV record.

    ``lines`` yields ``(number, text, dropped)``. ``dropped`` counts the
    bytes cut from a record's overlong lines, ``chars`` the characters of
    its lines as read; ``problem`` says why a record cannot be read (its
    ``fields`` are then those of its first line alone). A quote left open (to the end of the
    file, for more than :data:`MAX_RECORD_LINES` lines, or over lines that
    each look like a row of their own) makes only the line that opened it a
    problem: reading resumes on the next line, so later rows are kept.
    """
    source = iter(lines)
    replay: deque = deque()
    taken: list = []
    width = 0

    def feed():
        while True:
            item = replay.popleft() if replay else next(source, None)
            if item is None:
                if taken:
                    raise _OpenQuote("the end of the file")
                return
            taken.append(item)
            if len(taken) > MAX_RECORD_LINES:
                raise _OpenQuote(f"line {item[0]}")
            yield item[1]

    reader = csv.reader(feed(), delimiter=delimiter, strict=False)
    while True:
        try:
            fields = next(reader)
            if len(taken) > 1 and width and _looks_like_rows(taken[1:], delimiter, width):
                raise _OpenQuote("the end of the line: the lines after it look like rows of their own")
        except StopIteration:
            return
        except (_OpenQuote, csv.Error) as exc:
            first = taken[0][0]
            if isinstance(exc, _OpenQuote):
                problem = f'a quote (") opened on line {first} is not closed before {exc}; reading resumed on line {first + 1}'
            else:
                message = str(exc)
                problem = next((v for k, v in _CSV_ERRORS.items() if message.startswith(k)), message)
                if len(taken) > 1:
                    problem += f"; reading resumed on line {first + 1}"
            replay.extendleft(reversed(taken[1:]))
            yield first, _fields_of_line(taken[0][1], delimiter), taken[0][2], len(taken[0][1]), problem
            taken.clear()
            reader = csv.reader(feed(), delimiter=delimiter, strict=False)
            continue
        if not width and "".join(fields).strip():
            width = len(fields)
        if len(taken) == 1:
            yield taken[0][0], fields, taken[0][2], len(taken[0][1]), ""
        else:
            yield taken[0][0], fields, sum(t[2] for t in taken), sum(len(t[1]) for t in taken), ""
        taken.clear()


def _sniff_delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in _DELIMITERS}
    best = max(counts, key=counts.get)
    return best if counts[best] > 0 else ","


_SIGNATURES = {
    b"PK\x03\x04": "a ZIP archive (an .xlsx workbook is one)",
    b"\xd0\xcf\x11\xe0": "an old-style Excel (.xls) or other Office file",
    b"\x89PNG": "a PNG image",
    b"%PDF": "a PDF document",
    b"\x1f\x8b": "a gzip archive",
}
#: Bytes that text never holds (vertical tab, form feed and DOS end-of-file aside).
_CONTROL = bytes(b for b in range(32) if b not in b"\t\n\r\x0b\x0c\x1a") + b"\x7f"


def _looks_like_utf16(head: bytes) -> bool:
    """True when every other byte is mostly NUL and the rest mostly not: UTF-16 text."""
    if len(head) < 8:
        return False
    zeros = sorted([head[0::2].count(0), head[1::2].count(0)])
    return zeros[1] > 0.7 * (len(head) // 2) and zeros[0] < 0.1 * (len(head) // 2)


def _empty(path: Path) -> UnreadableFileError:
    return UnreadableFileError(
        "the file is empty: not even a header row",
        path=path,
        hint="export the table again, or delete the file if the clinic has no such data.",
    )


def _check_not_binary(path: Path, declared_wide: bool = False) -> bytes:
    """The file's first bytes, after refusing an empty, binary or BOM-less UTF-16 file.

    ``declared_wide``: the mapping says the file is UTF-16 or UTF-32.
    """
    with path.open("rb") as handle:
        head = handle.read(8192)
    if not head.removeprefix(codecs.BOM_UTF8).strip():
        raise _empty(path)
    if declared_wide or head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return head
    kind = next((what for magic, what in _SIGNATURES.items() if head.startswith(magic)), None)
    if not kind and _looks_like_utf16(head):
        raise UnreadableFileError(
            "the file looks like UTF-16 text without a byte-order mark, which cannot be read reliably",
            path=path,
            hint="save it as 'CSV UTF-8' and try again.",
        )
    if kind or b"\x00" in head or len(head.translate(None, _CONTROL)) < 0.98 * len(head):
        raise UnreadableFileError(
            f"the file holds binary data, not text: it is {kind + ', not' if kind else 'not'} a CSV export",
            path=path,
            hint="export the table as CSV (a workbook can be given as .xlsx) and try again.",
        )
    return head


def _line_ending(head: bytes) -> bytes:
    """``\\r`` for a file whose lines end in a bare carriage return (old Mac), else ``\\n``."""
    return b"\r" if b"\r" in head and b"\n" not in head else b"\n"


def _is_wide(encoding: str | None) -> bool:
    """True for UTF-16 and UTF-32, which cannot be decoded line by line."""
    return bool(encoding) and codecs.lookup(encoding).name.startswith(("utf-16", "utf-32"))


def _read_csv(path: Path, name: str, mapping: TableMapping) -> RawTable:
    """Read a delimited text file, streaming it line by line."""
    _check_encoding(mapping.encoding, path)
    head = _check_not_binary(path, declared_wide=_is_wide(mapping.encoding))
    notes: list[str] = []
    encoding = mapping.encoding
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    limit = csv.field_size_limit(2 * MAX_LINE_BYTES)
    try:
        with path.open("rb") as handle:
            stream = _Transcoded(handle, encoding, path) if _is_wide(encoding) else handle
            raw_lines = _physical_lines(stream, _line_ending(head))
            lines = _decoded_lines(raw_lines, path, None if _is_wide(encoding) else encoding, notes)
            header, rows, starts, malformed, long = _split_records(lines, path, mapping.delimiter, notes)
    finally:
        csv.field_size_limit(limit)
    if header is None:
        raise _empty(path)
    width = len(header)
    for position, record in enumerate(rows):
        if len(record) != width:
            if len(record) > width and "".join(record[width:]).strip():
                malformed.setdefault(position, f"the record has {len(record)} fields but the header has {width}")
            rows[position] = (record + [""] * width)[:width]
    frame = pd.DataFrame(rows, columns=_unique(header, path, notes), dtype=object)
    if frame.empty:
        frame = pd.DataFrame(columns=frame.columns, dtype=object)
        notes.append("the file has a header but no rows.")
    raw = RawTable(name, path, frame, np.asarray(starts, dtype=np.int64), "line", notes, malformed)
    raw.cell_problems = _cap_long_fields(raw.frame, long)
    return raw


def _check_encoding(encoding: str | None, path: Path) -> None:
    """Refuse an encoding name Python does not know."""
    if encoding:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise UnreadableFileError(
                f"unknown encoding {encoding!r}",
                path=path,
                hint="set `encoding` in the mapping to one such as utf-8 or cp1252, or remove it.",
            ) from None


def _split_records(lines, path: Path, delimiter: str | None, notes: list[str]):
    """Split decoded lines into the header and the records.

    Returns the header, the records, each record's first line, ``{row:
    reason}`` for records that cannot be read, and ``{row: bytes dropped}``
    for records that may hold an overlong field.
    """
    lines = iter(lines)
    leading = []
    for item in lines:
        leading.append(item)
        if item[1].strip():
            break
    if not delimiter:
        delimiter = _sniff_delimiter(leading[-1][1] if leading else "")
        if delimiter != ",":
            notes.append(f"fields are separated by {delimiter!r}.")
    header, rows, starts, malformed, long = None, [], [], {}, {}
    for first, record, dropped, chars, problem in _records(chain(leading, lines), delimiter):
        if problem and header is None:
            raise UnreadableFileError(
                f"the header row (line {first}) cannot be read: {problem}",
                path=path,
                hint="export the table again, or fix the header in a text editor.",
            )
        if problem:
            malformed[len(rows)] = problem
        elif not "".join(record).strip():
            continue
        elif header is None:
            header = [cell.strip() for cell in record]
            continue
        if dropped or chars > MAX_FIELD_CHARS:
            long[len(rows)] = dropped
        rows.append(record)
        starts.append(first)
    return header, rows, starts, malformed, long


def _text_lengths(values: pd.Series) -> np.ndarray:
    """The length of each text cell (0 for numbers, dates and blanks)."""
    if pd.api.types.is_string_dtype(values) and not pd.api.types.is_object_dtype(values):
        return values.str.len().fillna(0).to_numpy(dtype=np.int64)
    if pd.api.types.is_object_dtype(values):
        return values.map(lambda v: len(v) if isinstance(v, str) else 0).to_numpy(dtype=np.int64)
    return np.zeros(len(values), dtype=np.int64)


def _cap_long_fields(frame: pd.DataFrame, suspects: dict[int, int] | None = None) -> list[tuple[int, str, str, str]]:
    """Cut text cells longer than :data:`MAX_FIELD_CHARS` to a short preview, in place.

    Only the rows in ``suspects`` (``{row: bytes dropped while reading}``)
    are looked at, or every row when it is None. Returns one ``(row,
    column, preview, reason)`` per cut cell, and a ``(whole record)`` one
    for a row that lost bytes but has no single overlong cell.
    """
    suspects = suspects if suspects is not None else dict.fromkeys(range(len(frame)), 0)
    rows = np.fromiter(suspects, dtype=np.int64, count=len(suspects))
    found = []
    for position, column in enumerate(frame.columns):
        values = frame[column].iloc[rows]
        lengths = _text_lengths(values)
        for i in np.flatnonzero(lengths > MAX_FIELD_CHARS):
            row = int(rows[i])
            preview = values.iat[i][:_PREVIEW_CHARS] + "..."
            about = int(lengths[i]) + suspects[row]
            reason = f"field longer than {MAX_FIELD_CHARS:,} characters (about {about:,}); only its first {_PREVIEW_CHARS} are kept"
            found.append((row, column, preview, reason))
            frame.iat[row, position] = preview
    flagged = {row for row, *_ in found}
    for row, dropped in suspects.items():
        if dropped and row not in flagged:
            reason = f"the line is longer than {MAX_LINE_BYTES:,} bytes; {dropped:,} bytes of it were not read"
            found.append((row, "(whole record)", "", reason))
    return found


def _unique(header: list[str], path: Path, notes: list[str]) -> list[str]:
    """Make duplicate column names distinct (``x``, ``x (2)``), with a note."""
    seen: dict[str, int] = {}
    out = []
    for column in header:
        column = column[:_PREVIEW_CHARS] or "(blank)"
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


def _check_workbook(path: Path) -> None:
    """Refuse a file named .xlsx that is not a ZIP-based workbook, saying what it is."""
    with path.open("rb") as handle:
        head = handle.read(8192)
    if head.startswith(b"PK\x03\x04"):
        return
    if not head.strip():
        what, hint = "empty", "export the table again."
    elif head.startswith(b"\xd0\xcf\x11\xe0"):
        what, hint = (
            "an old-style Excel (.xls) workbook, not .xlsx",
            "open it in Excel and save it as .xlsx, or export CSV.",
        )
    elif b"\x00" not in head:
        what, hint = "text, not an Excel workbook", "if it is a CSV export, rename it to .csv."
    else:
        what, hint = "not an Excel workbook", "open it in Excel and save it again as .xlsx, or export CSV."
    raise UnreadableFileError(f"the file is {what}", path=path, hint=hint)


def _pick_sheet(book, path: Path, wanted: str | int | None):
    """The worksheet to read: ``wanted`` (a name or a 0-based position) or the first visible one."""
    sheets = book.worksheets
    names = [s.title for s in sheets]
    if wanted is None and sheets:
        return next((s for s in sheets if s.sheet_state == "visible"), sheets[0])
    if isinstance(wanted, int) and 0 <= wanted < len(sheets):
        return sheets[wanted]
    if wanted in names:
        return sheets[names.index(wanted)]
    raise UnreadableFileError(
        f"has no sheet {wanted!r}; its sheets are {names}",
        path=path,
        hint="set `sheet` in the mapping to one of these names (or a position counted from 0).",
    )


def _fill_merged(sheet) -> list[str]:
    """Give every cell of a merged range the range's value, in place; return the ranges."""
    ranges = list(sheet.merged_cells.ranges)
    for merged in ranges:
        value = sheet.cell(merged.min_row, merged.min_col).value
        sheet.unmerge_cells(str(merged))
        for row in sheet.iter_rows(merged.min_row, merged.max_row, merged.min_col, merged.max_col):
            for cell in row:
                cell.value = value
    return [str(r) for r in ranges]


def _read_excel(path: Path, name: str, mapping: TableMapping) -> RawTable:
    from openpyxl import load_workbook

    _check_workbook(path)
    try:
        book = load_workbook(path, data_only=True)  # cached results of formulas, never their text
    except Exception as exc:  # openpyxl raises many types for a broken file
        raise UnreadableFileError(
            f"not a readable Excel workbook ({type(exc).__name__}: {exc})",
            path=path,
            hint="open it in Excel and save it again as .xlsx, or export CSV.",
        ) from None
    notes = []
    try:
        sheet = _pick_sheet(book, path, mapping.sheet)
        others = [s for s in book.sheetnames if s != sheet.title]
        notes.append(f"read sheet {sheet.title!r}" + (f"; other sheets ignored: {others}." if others else "."))
        merged = _fill_merged(sheet)
        if merged:
            shown = f"{merged[:5]}" + (f" and {len(merged) - 5} more" if len(merged) > 5 else "")
            notes.append(f"merged cells {shown} were read as their value repeated in every cell.")
        header, rows, numbers = None, [], []
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
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
        raise UnreadableFileError(
            f"sheet {sheet.title!r} is empty: not even a header row",
            path=path,
            hint="put the table on the first visible sheet, or name its sheet with `sheet` in a mapping.",
        )
    while header and not header[-1]:
        header.pop()
    width = len(header)
    rows = [(r + [None] * width)[:width] for r in rows]
    frame = pd.DataFrame(rows, columns=_unique(header, path, notes), dtype=object)
    raw = RawTable(name, path, frame, np.asarray(numbers, dtype=np.int64), "row", notes)
    raw.where = f"sheet {sheet.title!r} (sheets: {book.sheetnames})"
    return raw


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


def _rename_columns(raw: RawTable, mapping: TableMapping) -> dict[str, str]:
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
    if raw.extra_columns:
        raw.notes.append(f"columns not in the data model were kept as they are: {raw.extra_columns}.")
    return renamed
