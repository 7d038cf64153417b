"""Applying a table's mapping to its raw rows: rename, repair, compute, unpivot.

:func:`apply_mapping` takes a :class:`~.read.RawTable` with the source's
own column names and returns it under canonical names, plus one more raw
table for each wide measurement column it unpivots. Values stay as written
(text from CSV, cells from Excel); typing and judging come later
(:mod:`.coerce`, :mod:`.rules`), so every problem is still reported
against the value the clinic wrote. Nothing is changed without a note:
repaired spreadsheet cells, skipped template columns and timestamps whose
day depends on the time zone are all counted in ``RawTable.notes``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import MappingError
from ..schema import TABLES
from .coerce import MISSING_TOKENS, as_text, parse_dates, parse_timestamps
from .mapping import MEASURED, Computed, Measurement, TableMapping
from .read import RawTable

#: How a spreadsheet keeps text: ="0012" (any cell), and '0012 (an identifier, number or date: one token).
_FORMULA_TEXT = r'^="(.*)"$'
_APOSTROPHE_TOKEN = r"^'[A-Za-z0-9][A-Za-z0-9_\-./:+]*$"
#: Truth values as exports write them, Excel's localised TRUE/FALSE included (German, French, Spanish, Dutch, Italian).
TRUE_WORDS = frozenset({"true", "yes", "y", "1", "t", "x", "wahr", "vrai", "verdadero", "waar", "vero"})
FALSE_WORDS = frozenset({"false", "no", "n", "0", "f", "falsch", "faux", "falso", "onwaar"})


def _normalise(column: str) -> str:
    return re.sub(r"[\s\-]+", "_", column.strip().casefold())


def repair_spreadsheet_text(raw: RawTable) -> int:
    """Strip the marks spreadsheets use to keep text from the cells of ``raw``, in place; count the cells.

    ``="0012"`` becomes ``0012`` in any cell. A leading apostrophe is
    removed only from a single token such as ``'0012`` or ``'2026-03-09``,
    so that a note beginning with an apostrophe keeps it.
    """
    repaired = 0
    for column in raw.frame.columns:
        values = raw.frame[column]
        if pd.api.types.infer_dtype(values, skipna=True) != "string":
            if not (pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)):
                continue
            values = values.where(values.map(lambda v: isinstance(v, str)))  # text cells of a workbook column
        text = values.astype("string")
        marked = text.str.startswith(("=", "'")).fillna(False)
        if not marked.any():
            continue
        formula = marked & text.str.match(_FORMULA_TEXT).fillna(False)
        apostrophe = marked & text.str.match(_APOSTROPHE_TOKEN).fillna(False)
        hit = formula | apostrophe
        if hit.any():
            fixed = text.where(~formula, text.str.replace(_FORMULA_TEXT, r"\1", regex=True))
            fixed = fixed.where(~apostrophe, text.str[1:])
            column_values = raw.frame[column].astype(object).copy()
            column_values[hit] = fixed[hit].astype(object)
            raw.frame[column] = column_values
            repaired += int(hit.sum())
    if repaired:
        raw.notes.append(
            f'{repaired:,} cell(s) written as ="..." or with a leading apostrophe (how spreadsheets keep text) '
            "were read without those marks."
        )
    return repaired


class _Columns:
    """The source columns of a raw table, found regardless of case and surrounding spaces."""

    def __init__(self, raw: RawTable, mapping: TableMapping):
        self.raw, self.mapping, self.frame = raw, mapping, raw.frame  # the source's frame, before renaming
        self.by_key = {str(c).strip().casefold(): c for c in raw.frame.columns}
        self.missing: set[str] = set()

    def get(self, name: str, entry: str) -> pd.Series | None:
        """The column ``name`` of the file; a MappingError (or a note, for a template's entry) when absent."""
        column = self.by_key.get(str(name).strip().casefold())
        if column is not None:
            return self.frame[column]
        if self.mapping.from_template(entry):
            if name not in self.missing:
                self.missing.add(name)
                what = entry.split(".", 1)[0]
                self.raw.notes.append(
                    f"the template's `{what}` uses column {name!r}, which the file does not have: "
                    + ("its rules testing that column never match." if what == "compute" else "it was skipped.")
                )
            return None
        where = self.mapping.where(entry)
        name = self.mapping.spelled.get(str(name).strip().casefold(), name)
        raise MappingError(
            f"{where + ': ' if where else ''}the mapping names column {name!r} of table {self.raw.name!r}, "
            f"but {self.raw.path.name} has no such column; it has {list(self.raw.frame.columns)}",
            path=self.raw.path,
            hint="correct the column name in the mapping (case and surrounding spaces do not matter).",
        )


def _filled(values: pd.Series) -> pd.Series:
    text = as_text(values)
    return text.notna() & ~text.str.casefold().isin(MISSING_TOKENS).fillna(False)


def _test(values: pd.Series, test, mapping: TableMapping, timezone: str | None, as_of: pd.Timestamp) -> pd.Series:
    """Rows where ``values`` passes one test of a rule's ``when``."""
    if isinstance(test, list):
        wanted = {str(t).strip().casefold() for t in test}
        return as_text(values).str.casefold().isin(wanted).fillna(False).astype(bool)
    if test == "set":
        return _filled(values)
    if test == "blank":
        return ~_filled(values)
    if test in ("true", "false"):
        words = TRUE_WORDS if test == "true" else FALSE_WORDS
        return as_text(values).str.casefold().isin(words).fillna(False).astype(bool)
    if test in ("future", "past"):
        stamps, _ = parse_timestamps(values, mapping.date_formats, timezone, mapping.source_timezone)
        after = stamps.dt.normalize() > as_of
        return (after if test == "future" else ~after) & stamps.notna()
    return (as_text(values).str.casefold() == str(test).strip().casefold()).fillna(False).astype(bool)


def _compute(
    target: str, how: Computed, columns: _Columns, mapping: TableMapping, timezone, as_of, index
) -> pd.Series | None:
    """The values of a computed column, as text (NA where no rule matched)."""
    entry = f"compute.{target}"
    if how.year_of:
        source = columns.get(how.year_of, entry)
        if source is None:
            return None
        dates, bad = parse_dates(source, mapping.date_formats, timezone, mapping.source_timezone)
        years = dates.dt.year.astype("Int64").astype("string")
        return years.where(~bad, as_text(source))  # an unreadable date stays as written, to be reported
    if how.age:
        age, at = columns.get(how.age, entry), columns.get(how.at, entry)
        if age is None or at is None:
            return None
        dates, _ = parse_dates(at, mapping.date_formats, timezone, mapping.source_timezone)
        years = pd.to_numeric(as_text(age), errors="coerce")
        born = (dates.dt.year - np.floor(years)).astype("Int64").astype("string")
        return born.where(born.notna(), as_text(age))
    result = pd.Series(pd.NA, index=index, dtype="string")
    for rule in how.rules:
        hit = pd.Series(True, index=index)
        for name, test in rule.when:
            values = columns.get(name, entry)
            if values is None:
                hit &= False
                continue
            hit &= _test(values, test, mapping, timezone, as_of)
        result = result.mask(hit & result.isna(), rule.value)
    return result


def _offset_note(raw: RawTable, column: str, timezone: str | None) -> None:
    """Say how many timestamps carry a UTC offset when the clinic's time zone is unknown."""
    if timezone or column not in raw.frame or TABLES[raw.name].column(column).kind != "date":
        return
    text = as_text(raw.frame[column])
    offset = text.str.contains(r"(?:Z|[+-]\d{2}:?\d{2})$", regex=True).fillna(False) & (text.str.len() > 10)
    n = int(offset.sum())
    if not n:
        return
    local = _machine_timezone()
    changed = ""
    if local:
        utc = pd.to_datetime(text[offset], format="ISO8601", errors="coerce", utc=True)
        written = pd.to_datetime(
            text[offset].str.replace(r"(?:Z|[+-]\d{2}:?\d{2})$", "", regex=True), format="ISO8601", errors="coerce"
        )
        moved = (utc.dt.tz_convert(local).dt.tz_localize(None).dt.normalize() != written.dt.normalize()).sum()
        changed = f" Under this computer's time zone ({local}) {int(moved):,} of them would fall on another day."
    raw.notes.append(
        f"{n:,} value(s) of {column} carry a UTC offset or Z and no `timezone` is set: each was dated as written "
        f"in its own offset.{changed} Set `timezone: Area/City` in the mapping (or --timezone) to date them in "
        "the clinic's local time."
    )


def _machine_timezone() -> str | None:
    """The IANA name of this computer's time zone, when it is known and not UTC."""
    link = Path("/etc/localtime")
    try:
        target = str(link.resolve())
    except OSError:
        return None
    name = target.split("zoneinfo/", 1)[1] if "zoneinfo/" in target else None
    return None if name in (None, "UTC", "Etc/UTC", "Universal", "Zulu") else name


def _rename(raw: RawTable, mapping: TableMapping, columns: _Columns) -> dict[str, pd.Series]:
    """Canonical columns from the mapping's ``columns`` and from names that already are canonical."""
    canonical = TABLES[raw.name].column_names
    out: dict[str, pd.Series] = {}
    taken: dict[str, str] = {}

    def take(target: str, source: str, values: pd.Series) -> None:
        if target in taken:
            raise MappingError(
                f"columns {taken[target]!r} and {source!r} both become {target!r}",
                path=raw.path,
                hint="map only one of them to this column (see `columns` in the mapping).",
            )
        taken[target] = source
        out[target] = values

    for key, targets in mapping.columns.items():
        values = columns.get(key, f"columns.{key}")
        for target in targets if values is not None else ():
            take(target, mapping.spelled.get(key, key), values)
    for column in raw.frame.columns:
        if str(column).strip().casefold() in mapping.columns:
            continue
        target = _normalise(str(column))
        if target in canonical and target not in mapping.constants and target not in mapping.compute:
            take(target, str(column), raw.frame[column])
        else:
            raw.extra_columns.append(column)
    return out


def mapping_uses(mapping: TableMapping) -> set[str]:
    """The source columns (casefolded) a table's mapping reads beyond its canonical ones.

    Rows that differ in one of them are different rows, even when their
    canonical columns agree (two readings in a wide column, two appointment
    types): duplicate detection compares them too, and no unmapped extra.
    """
    used = {m.column.strip().casefold() for m in mapping.measurements}
    used |= {source.strip().casefold() for m in mapping.measurements for source in m.columns}
    used |= {name.strip().casefold() for how in mapping.compute.values() for rule in how.rules for name, _ in rule.when}
    used |= {c.strip().casefold() for how in mapping.compute.values() for c in (how.year_of, how.age, how.at) if c}
    return used


def apply_mapping(
    raw: RawTable, mapping: TableMapping, *, timezone: str | None = None, as_of: pd.Timestamp | None = None
) -> list[RawTable]:
    """``raw`` under canonical column names, followed by the raw tables its measurements make.

    The returned table keeps the source's unmapped columns (as extras) and
    its line numbers; computed and constant columns are text, as if the
    clinic had written them. A mapped column the file lacks is a
    :class:`~needling_analytics.errors.MappingError` naming the mapping's
    line (a template's column is skipped with a note instead).
    """
    as_of = pd.Timestamp.today().normalize() if as_of is None else as_of
    repair_spreadsheet_text(raw)
    columns = _Columns(raw, mapping)
    index = raw.frame.index
    out = _rename(raw, mapping, columns)
    for target, value in mapping.constants.items():
        out[target] = pd.Series(value, index=index, dtype="string")
    for target, how in mapping.compute.items():
        values = _compute(target, how, columns, mapping, timezone, as_of, index)
        if values is not None:
            out[target] = values
    extras = {c: raw.frame[c] for c in raw.extra_columns if c not in out}
    first_target = {}
    for target, values in out.items():
        first_target.setdefault(values.name, target)
    raw.cell_problems = [(row, first_target.get(c, c), value, why) for row, c, value, why in raw.cell_problems]
    raw.frame = pd.DataFrame({**out, **extras}, index=index)
    used = [c for c in raw.extra_columns if str(c).strip().casefold() in mapping_uses(mapping)]
    kept = [c for c in raw.extra_columns if c not in used]
    if used:
        raw.notes.append(f"columns read by the mapping's rules and measurements: {used}.")
    if kept:
        raw.notes.append(f"columns not in the data model were kept as they are: {kept}.")
    for column in list(out):
        _offset_note(raw, column, timezone)
    parts = [raw]
    for measurement in mapping.measurements:
        part = _unpivot(raw, measurement, columns, mapping)
        if part is not None:
            parts.append(part)
    return parts


#: The columns a row made from a measurement inherits from its parent row.
_INHERITED = ("patient_id", "episode_id", "session_id")


def _unpivot(parent: RawTable, measurement: Measurement, columns: _Columns, mapping: TableMapping) -> RawTable | None:
    """One raw row of ``measurement.table`` per non-empty cell of the measurement's column."""
    entry = f"measurements.{measurement.column.strip().casefold()}"
    cells = columns.get(measurement.column, entry)
    if cells is None:
        return None
    rows = np.flatnonzero(_filled(cells).to_numpy())
    value_column, date_column = MEASURED[measurement.table]
    parent_spec = TABLES[parent.name]
    parent_date = next((c.name for c in parent_spec.columns if c.kind == "date" and c.required), None)
    frame = pd.DataFrame(index=pd.RangeIndex(len(rows)))
    target_columns = TABLES[measurement.table].column_names
    for column in _INHERITED:
        if column in target_columns and column in parent.frame:
            frame[column] = parent.frame[column].to_numpy()[rows]
    if parent_date and parent_date in parent.frame:
        frame[date_column] = parent.frame[parent_date].to_numpy()[rows]
    frame[value_column] = cells.to_numpy()[rows]
    for source, target in measurement.columns.items():
        values = columns.get(source, entry)
        if values is not None:
            frame[target] = values.to_numpy()[rows]
    for target, value in measurement.set.items():
        frame[target] = value
    part = RawTable(
        measurement.table,
        parent.path,
        frame,
        parent.lines[rows],
        parent.line_label,
        [f"{len(rows):,} {measurement.table} row(s) from column {measurement.column!r} of {parent.path.name}."],
        where=parent.where,
        parent=parent.name,
        parent_rows=rows,
        origin=f"column {measurement.column!r}",
    )
    return part
