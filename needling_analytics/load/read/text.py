"""Delimited text (CSV, TSV): lines split into records, a broken record costing only itself.

The delimiter is sniffed from the header unless the mapping sets it. A
record whose quote is left open, or that the CSV reader refuses, is kept
as its first line alone with the reason, and reading resumes on the next
line, so later rows keep their values and line numbers.
"""

from __future__ import annotations

import csv
from collections import deque
from itertools import chain
from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import UnreadableFileError
from ..mapping import TableMapping
from .limits import MAX_FIELD_CHARS, MAX_LINE_BYTES, MAX_RECORD_LINES, cap_long_fields
from .lines import Transcoded, decoded_lines, physical_lines
from .sniff import check_encoding, check_not_binary, empty_file_error, has_utf16_bom, is_wide, line_ending
from .table import RawTable, unique_columns

_DELIMITERS = (",", ";", "\t", "|")
_CSV_ERRORS = {
    "new-line character seen in unquoted field": "a line break (carriage return) inside a field that is not quoted",
    "field larger than field limit": "a field longer than the CSV reader accepts",
}


class _OpenQuote(Exception):
    """A record's quoted field is still open where it should have ended."""


def read_csv(path: Path, name: str, mapping: TableMapping) -> RawTable:
    """Read a delimited text file, streaming it line by line."""
    check_encoding(mapping.encoding, path)
    head = check_not_binary(path, declared_wide=is_wide(mapping.encoding))
    notes: list[str] = []
    encoding = "utf-16" if has_utf16_bom(head) else mapping.encoding
    limit = csv.field_size_limit(2 * MAX_LINE_BYTES)
    try:
        with path.open("rb") as handle:
            stream = Transcoded(handle, encoding, path) if is_wide(encoding) else handle
            raw_lines = physical_lines(stream, line_ending(head))
            lines = decoded_lines(raw_lines, path, None if is_wide(encoding) else encoding, notes)
            header, rows, starts, malformed, long = _split_records(lines, path, mapping.delimiter, notes)
    finally:
        csv.field_size_limit(limit)
    if header is None:
        raise empty_file_error(path)
    _fit_to_header(rows, len(header), malformed)
    frame = pd.DataFrame(rows, columns=unique_columns(header, notes), dtype=object)
    if frame.empty:
        frame = pd.DataFrame(columns=frame.columns, dtype=object)
        notes.append("the file has a header but no rows.")
    raw = RawTable(name, path, frame, np.asarray(starts, dtype=np.int64), "line", notes, malformed)
    raw.cell_problems = cap_long_fields(raw.frame, long)
    _flag_cut_lines(long, raw)
    return raw


def _fit_to_header(rows: list[list[str]], width: int, malformed: dict[int, str]) -> None:
    """Pad or cut each record to ``width`` fields, in place; one with extra values is malformed."""
    for position, record in enumerate(rows):
        if len(record) != width:
            if len(record) > width and "".join(record[width:]).strip():
                malformed.setdefault(position, f"the record has {len(record)} fields but the header has {width}")
            rows[position] = (record + [""] * width)[:width]


def _flag_cut_lines(long: dict[int, int], raw: RawTable) -> None:
    """Mark malformed a record that lost bytes while read but has no single overlong field."""
    capped = {row for row, *_ in raw.cell_problems}
    for row, dropped in long.items():
        if dropped and row not in capped:
            reason = f"the line is longer than {MAX_LINE_BYTES:,} bytes; {dropped:,} bytes of it were not read"
            raw.malformed.setdefault(row, reason)


def _sniff_delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in _DELIMITERS}
    best = max(counts, key=counts.get)
    return best if counts[best] > 0 else ","


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


def _records(lines, delimiter: str):
    """Yield ``(first_line, fields, dropped, chars, problem)`` per CSV record.

    ``lines`` yields ``(number, text, dropped)``. ``dropped`` counts the
    bytes cut from a record's overlong lines, ``chars`` the characters of
    its lines as read; ``problem`` says why a record cannot be read (its
    ``fields`` are then those of its first line alone). A quote left open (to the end of the
    file, for more than :data:`~.limits.MAX_RECORD_LINES` lines, or over lines that
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
            first = taken[0]
            replay.extendleft(reversed(taken[1:]))
            yield first[0], _fields_of_line(first[1], delimiter), first[2], len(first[1]), _problem(exc, taken)
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


def _problem(exc: Exception, taken: list) -> str:
    """Why the record of lines ``taken`` cannot be read, in plain English."""
    first = taken[0][0]
    if isinstance(exc, _OpenQuote):
        return f'a quote (") opened on line {first} is not closed before {exc}; reading resumed on line {first + 1}'
    message = str(exc)
    problem = next((v for k, v in _CSV_ERRORS.items() if message.startswith(k)), message)
    return problem + (f"; reading resumed on line {first + 1}" if len(taken) > 1 else "")


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
