"""Typing raw values: text to dates, numbers, times and canonical categories.

Each parser takes a Series of raw values (text from CSV; numbers, dates and
text from Excel or Parquet) and returns the typed Series plus a boolean
mask of the cells that held something but could not be read. Nothing here
decides whether a row is kept; :mod:`.rules` turns the masks into problems.
"""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd

from ..schema import ColumnSpec, TableSpec
from .mapping import TableMapping

#: Cell contents read as "no value" in typed (non-text) columns.
MISSING_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "-", "--", "#n/a", "nat"})

#: Labels common in clinic exports, recognised without a mapping.
SYNONYMS: dict[str, dict[str, str]] = {
    "sex": {"female": "F", "woman": "F", "male": "M", "man": "M", "other": "X", "unknown": "U", "not_stated": "U"},
    "status": {
        "dna": "no_show",
        "did_not_attend": "no_show",
        "noshow": "no_show",
        "missed": "no_show",
        "canceled": "cancelled",
        "cancelled_by_patient": "cancelled",
        "cancelled_by_clinic": "cancelled",
        "completed": "attended",
        "arrived": "attended",
        "seen": "attended",
    },  # fmt: skip
    "twitch_response": {"y": "yes", "n": "no", "true": "yes", "false": "no", "1": "yes", "0": "no"},
    "side": {"l": "left", "r": "right", "left_side": "left", "right_side": "right", "midline": "none"},
    "joint": {
        "neck": "cervical_spine",
        "cervical": "cervical_spine",
        "lumbar": "lumbar_spine",
        "thoracic": "thoracic_spine",
    },
}

#: Characters that cannot be seen: trimmed from every cell, removed from IDs.
_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"
#: Whitespace (Unicode's, non-breaking spaces included) and invisible characters.
_BLANK_CHARS = "".join(c for c in map(chr, range(0x3001)) if c.isspace()) + _INVISIBLE

_TIME = re.compile(r"^([01]?\d|2[0-3])[:.]([0-5]\d)(?::[0-5]\d)?$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([ T].*)?$")
_UTC_OFFSET = r"(?:Z|[+-]\d{2}:?\d{2})$"
_DECIMAL_COMMA = re.compile(r"^[+-]?\d*,\d+$")


def _cell_text(value) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    return str(value)


def as_text(values: pd.Series) -> pd.Series:
    """Values as text (``string`` dtype) trimmed of whitespace and invisible characters, blanks as NA.

    Whole numbers stored as floats (as Excel does) lose their ``.0``.
    """
    if _has_objects(values):
        values = values.map(_cell_text)
    text = values.astype("string").str.strip(_BLANK_CHARS)
    return text.mask(text == "")


def as_id(values: pd.Series) -> pd.Series:
    """Identifiers as :func:`as_text`, in Unicode NFC and without invisible characters.

    So that ``Zoë`` typed on a Mac (decomposed) or with a zero-width space
    pasted in still matches the same ID elsewhere.
    """
    text = as_text(values)
    if text.str.isascii().all():
        return text
    text = text.str.normalize("NFC").str.replace(f"[{_INVISIBLE}]", "", regex=True)
    return text.mask(text == "")


#: An identifier a spreadsheet turned into a rounded number, as Excel shows it: 1.41784E+18, 1,41784E+18, 1E+18.
_ROUNDED_ID = r"\d(?:[.,]\d+)?E\+\d{2}"
#: Numbers above this cannot be exact identifiers once a spreadsheet held them (15 significant digits).
_EXACT_DIGITS_LIMIT = 1e15


def rounded_ids(values: pd.Series) -> pd.Series:
    """Cells of an ID column that a spreadsheet rounded: scientific notation, or a float beyond 15 digits."""
    mask = pd.Series(False, index=values.index)
    if pd.api.types.is_float_dtype(values) or _has_objects(values):
        numbers = pd.to_numeric(values.where(values.map(lambda v: isinstance(v, float))), errors="coerce")
        mask |= (numbers.abs() >= _EXACT_DIGITS_LIMIT).fillna(False).astype(bool)
    text = values.astype("string") if not _has_objects(values) else values.map(_cell_text).astype("string")
    mask |= text.str.strip().str.fullmatch(_ROUNDED_ID).fillna(False).astype(bool)
    return mask


def is_in(values: pd.Series, options) -> pd.Series:
    """Membership by hashing, fast on long text columns (NA is never in)."""
    found = pd.Index(list(options), dtype=object).get_indexer(values.to_numpy(dtype=object, na_value=None)) >= 0
    return pd.Series(found, index=values.index) & values.notna()


def _blank(text: pd.Series) -> pd.Series:
    codes, uniques = pd.factorize(text)
    blank = np.array([u.casefold() in MISSING_TOKENS for u in uniques] + [True], dtype=bool)
    return pd.Series(blank[codes], index=text.index)


def _has_objects(values: pd.Series) -> bool:
    """True when ``values`` holds something other than text (as Excel cells do)."""
    return pd.api.types.infer_dtype(values, skipna=True) not in ("string", "empty")


def parse_numbers(values: pd.Series, decimal: str = "auto") -> tuple[pd.Series, pd.Series]:
    """Numbers as float64 and the mask of non-blank cells that are not numbers.

    ``decimal=","`` reads ``7,5`` as 7.5; ``"auto"`` does so for any value
    that is digits, one comma and digits (a decimal comma, since thousands
    separators do not occur in clinical scores).
    """
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return values.astype("float64"), pd.Series(False, index=values.index)
    text = as_text(values)
    blank = _blank(text)
    if decimal == ",":
        text = text.str.replace(",", ".", regex=False)
    elif decimal == "auto":
        text = text.where(
            ~text.str.fullmatch(_DECIMAL_COMMA.pattern).fillna(False), text.str.replace(",", ".", regex=False)
        )
    numbers = pd.to_numeric(text.mask(blank), errors="coerce").astype("float64")
    return numbers, numbers.isna() & ~blank


#: A value holding a time of day somewhere (``09:30``), as a timestamp does.
_HAS_TIME = r"\d{1,2}:\d{2}"
#: Excel's day 0 for serial numbers (1900 date system, after its leap-year bug).
_EXCEL_EPOCH = pd.Timestamp("1899-12-30")
#: Serial numbers read as dates: 1950-01-01 to 2100-01-01.
_EXCEL_SERIALS = (18264, 73051)


def _local(stamps: pd.Series, timezone: str | None) -> pd.Series:
    """Tz-aware timestamps as naive local wall time: in ``timezone``, else in their own offset."""
    if timezone:
        stamps = stamps.dt.tz_convert(timezone)
    return stamps.dt.tz_localize(None).astype("datetime64[ns]")


def _iso_timestamps(text: pd.Series, timezone: str | None) -> tuple[pd.Series, pd.Series]:
    """ISO 8601 text as naive ``datetime64[ns]`` (NaT where unreadable), and which had an offset.

    A value with ``Z`` or an offset is the instant it names: in the clinic's
    ``timezone`` when given, else the wall time as written. A value without
    one is returned as written.
    """
    result = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
    offset = text.str.contains(_UTC_OFFSET, regex=True).fillna(False) & (text.str.len() > 10)
    if offset.any():
        if timezone:
            stamps = pd.to_datetime(text.where(offset), format="ISO8601", errors="coerce", utc=True)
            result[offset] = _local(stamps, timezone)[offset]
        else:
            written = text.where(offset).str.replace(_UTC_OFFSET, "", regex=True)
            result[offset] = pd.to_datetime(written, format="ISO8601", errors="coerce").astype("datetime64[ns]")[offset]
    naive = text.notna() & ~offset
    if naive.any():
        parsed = pd.to_datetime(text.where(naive), format="ISO8601", errors="coerce").astype("datetime64[ns]")
        result[naive] = parsed[naive]
    return result, offset.astype(bool)


def parse_timestamps(
    values: pd.Series, formats: tuple[str, ...] = (), timezone: str | None = None, written_in: str | None = None
) -> tuple[pd.Series, pd.Series]:
    """Date-times as naive local ``datetime64[ns]`` and the mask of non-blank cells that are not one.

    ``formats`` are tried first, in order; ISO 8601 (``2026-03-09``,
    ``2026-03-09T03:45:00Z``, ``... +11:00``) is always accepted. A value
    that names an instant (``Z``, an offset, a tz-aware cell) is converted
    to the clinic's ``timezone``. A value without one is taken as written
    in ``written_in`` (a spreadsheet that dropped the ``Z`` of UTC times)
    and converted from it, else as local already. Date cells from Excel and
    Parquet are taken as they are; a whole number between 18264 and 73051
    is an Excel serial date (1950 to 2100), as a workbook saved as CSV
    writes it.
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        if getattr(values.dt, "tz", None):
            return _local(values, timezone), pd.Series(False, index=values.index)
        naive = values.astype("datetime64[ns]")
        timed = naive != naive.dt.normalize()
        return naive.where(~timed, _from(naive, written_in, timezone)), pd.Series(False, index=values.index)
    result = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    absolute = pd.Series(False, index=values.index)
    is_date = pd.Series(False, index=values.index)
    if _has_objects(values):
        is_date = values.map(lambda v: isinstance(v, (dt.date, pd.Timestamp)))
    if is_date.any():
        stamps = values[is_date].map(pd.Timestamp)
        aware = stamps.map(lambda t: t.tzinfo is not None)
        stamps = stamps.map(
            lambda t: (t.tz_convert(timezone) if timezone else t).tz_localize(None) if t.tzinfo is not None else t
        )
        result[is_date] = pd.to_datetime(stamps)
        absolute[aware[aware].index] = True
    text = as_text(values.mask(is_date))
    blank = _blank(text)
    todo = ~blank & ~is_date
    for fmt in formats:
        parsed = pd.to_datetime(text.where(todo & result.isna()), format=fmt, errors="coerce")
        result = result.fillna(parsed.astype("datetime64[ns]"))
    iso = todo & result.isna() & text.str.match(_ISO_DATE.pattern).fillna(False)
    if iso.any():
        stamps, offset = _iso_timestamps(text.where(iso), timezone)
        result = result.fillna(stamps)
        absolute |= offset
    serial = todo & result.isna() & text.str.fullmatch(r"\d{5}(?:\.\d+)?").fillna(False)
    if serial.any():
        days = pd.to_numeric(text.where(serial), errors="coerce")
        days = days.where(days.between(*_EXCEL_SERIALS))
        result = result.fillna((_EXCEL_EPOCH + pd.to_timedelta(days, unit="D")).astype("datetime64[ns]"))
    timed = text.str.contains(_HAS_TIME, regex=True).fillna(False) | (is_date & (result != result.dt.normalize()))
    result = result.where(absolute | ~timed, _from(result, written_in, timezone))
    return result, result.isna() & todo


def _from(naive: pd.Series, written_in: str | None, timezone: str | None) -> pd.Series:
    """Naive wall times written in ``written_in`` as wall times in ``timezone`` (unchanged without both).

    A wall time the clocks skipped is moved forward to the first that
    exists; one they repeated is taken as the earlier of the two instants.
    """
    if not written_in or not timezone or written_in == timezone or naive.isna().all():
        return naive
    earlier = np.ones(len(naive), dtype=bool)
    aware = naive.dt.tz_localize(written_in, ambiguous=earlier, nonexistent="shift_forward")
    return _local(aware, timezone)


def parse_dates(
    values: pd.Series, formats: tuple[str, ...] = (), timezone: str | None = None, written_in: str | None = None
) -> tuple[pd.Series, pd.Series]:
    """Dates as ``datetime64[ns]`` (time of day dropped) and the unreadable mask.

    The date is the clinic's local calendar day: see :func:`parse_timestamps`.
    Without ``formats`` day and month can never be swapped silently.
    """
    stamps, bad = parse_timestamps(values, formats, timezone, written_in)
    return stamps.dt.normalize(), bad


def parse_times(
    values: pd.Series, formats: tuple[str, ...] = (), timezone: str | None = None, written_in: str | None = None
) -> tuple[pd.Series, pd.Series]:
    """Times of day as ``HH:MM`` text and the unreadable mask.

    A time alone (``9:30``, ``14.30``, a time cell) is taken as it is. A
    whole timestamp (``2026-03-09T03:45:00Z``, ``06/11/2025 04:00`` with a
    matching ``date_format``) gives its local time of day, converted like
    :func:`parse_timestamps`, so one source column can feed both a date and
    a time.
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        stamps, _ = parse_timestamps(values, formats, timezone, written_in)
        return stamps.dt.strftime("%H:%M").astype("string"), pd.Series(False, index=values.index)
    is_time = pd.Series(False, index=values.index)
    if _has_objects(values):
        is_time = values.map(lambda v: isinstance(v, dt.time))
        values = values.map(lambda v: v.strftime("%H:%M") if isinstance(v, dt.time) else v)
    stamped = values.map(lambda v: isinstance(v, (dt.datetime, pd.Timestamp))) if _has_objects(values) else is_time
    text = as_text(values.mask(stamped))
    blank = _blank(text) & ~stamped
    parts = text.str.extract(_TIME)
    times = (parts[0].str.zfill(2) + ":" + parts[1]).astype("string")
    whole = (times.isna() & text.str.contains(_HAS_TIME, regex=True).fillna(False)) | stamped
    if whole.any():
        stamps, _ = parse_timestamps(values.where(whole), formats, timezone, written_in)
        times = times.fillna(stamps.dt.strftime("%H:%M").astype("string"))
    bad = times.isna() & ~blank & ~is_time
    return times.mask(blank), bad


def parse_categories(values: pd.Series, spec: ColumnSpec, labels: dict[str, str]) -> pd.Series:
    """Labels mapped to the column's allowed values where recognised.

    A label is recognised, in order, through the mapping's ``values``, the
    built-in :data:`SYNONYMS`, or by matching an allowed value regardless of
    case, spaces and hyphens. Unrecognised labels are returned unchanged so
    that validation can report them as written. Work is done once per
    distinct label, so long columns cost little.
    """
    codes, uniques = pd.factorize(as_text(values))
    canonical = {re.sub(r"[\s\-/]+", "_", v.casefold()): v for v in spec.allowed or ()}
    synonyms = {**SYNONYMS.get(spec.name, {}), **canonical}

    def recognise(label: str):
        if label.casefold() in MISSING_TOKENS:
            return spec.default
        key = re.sub(r"[\s\-/]+", "_", label.casefold())
        return labels.get(label.casefold(), synonyms.get(key, label))

    recognised = np.array([recognise(u) for u in uniques] + [spec.default], dtype=object)
    return pd.Series(recognised[codes], index=values.index, dtype="string")


def coerce_table(
    frame: pd.DataFrame, spec: TableSpec, mapping: TableMapping, timezone: str | None = None
) -> tuple[pd.DataFrame, dict[str, pd.Series]]:
    """Type every canonical column of ``frame``.

    Returns
    -------
    typed : DataFrame
        Every canonical column of ``spec`` (absent optional ones as blanks or
        their default), typed, then any extra columns as text. Category
        columns are still text here.
    unreadable : dict of str to Series
        For each typed column, the mask of cells that could not be read; the
        rule is ``not_a_number``, ``not_a_whole_number``, ``not_a_date`` or
        ``not_a_time`` according to the column's kind, ``id_rounded`` for an
        identifier a spreadsheet rounded (which is then blank).
    """
    typed, unreadable = {}, {}
    for column in spec.columns:
        values = frame[column.name] if column.name in frame else pd.Series(None, index=frame.index, dtype=object)
        if column.kind == "id":
            rounded = rounded_ids(values)
            typed[column.name] = as_id(values).mask(rounded)
            unreadable[column.name] = rounded
        elif column.kind == "text":
            typed[column.name] = as_text(values)
        elif column.kind == "category":
            typed[column.name] = parse_categories(values, column, mapping.values.get(column.name, {}))
        elif column.kind == "date":
            typed[column.name], unreadable[column.name] = parse_dates(
                values, mapping.date_formats, timezone, mapping.source_timezone
            )
        elif column.kind == "time":
            typed[column.name], unreadable[column.name] = parse_times(
                values, mapping.date_formats, timezone, mapping.source_timezone
            )
        else:
            numbers, bad = parse_numbers(values, mapping.decimal)
            if column.kind == "integer":
                fraction = numbers.notna() & (numbers % 1 != 0) & np.isfinite(numbers)
                unreadable[column.name] = bad | fraction
                numbers = numbers.mask(fraction).round().astype("Int64")
            else:
                unreadable[column.name] = bad
            typed[column.name] = numbers
    extras = {c: as_text(frame[c]) for c in frame.columns if c not in spec.column_names}
    return pd.DataFrame({**typed, **extras}, index=frame.index), unreadable
