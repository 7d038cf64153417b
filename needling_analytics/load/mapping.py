"""Mapping files: how a clinic's own export maps onto the data model.

A mapping is a YAML file. Every key is optional; an unknown key, a
duplicate key, a column the file lacks or a value map on an ID column is
an error naming the line of the mapping. For example:

    extends: cliniko          # start from a shipped template (cliniko, jane,
                              # redcap, fhir) or another mapping file (path
                              # relative to this one); keys here override it,
                              # table by table and key by key
    source: folder            # folder (default), redcap, fhir, or a database
                              # URL postgresql://user@host:5432/db (password
                              # from `password_env` or ~/.pgpass, never here)
    password_env: CLINIC_DB_PASSWORD
    dictionary: DataDictionary.csv  # REDCap: the data dictionary beside the export
    timezone: Australia/Melbourne   # timestamps with an offset or Z are turned
                              # into the clinic's local time before the date
                              # is taken; naive ones are taken as local
    delimiter: ";"            # CSV field separator; sniffed when absent
    decimal: ","              # decimal mark "." or ","; the default "auto"
                              # reads both 7.5 and 7,5 as 7.5
    encoding: cp1252          # tried first; UTF-8 (with or without BOM) when absent
    date_format: "%d/%m/%Y"   # or a list of formats, tried first and in order;
                              # ISO dates (2026-03-09) are always accepted too
    tables:
      sessions:
        file: Appointments.csv   # where the rows come from: `file` (+ `sheet`)
                                 # in a folder, `form` (+ `event`) in REDCap,
                                 # `resource` in FHIR, `query` (SQL) in PostgreSQL
        sheet: Visits            # Excel sheet (first visible sheet when absent)
        columns:                 # source column -> canonical column(s)
          id: session_id
          starts_at: [session_date, session_time]   # one source, several targets
        constants:               # canonical column -> one value for every row
          twitch_response: "no"
        compute:                 # canonical column -> ordered rules, first match wins
          status:
            - when: {cancelled_at: set}        # tests on source columns:
              value: cancelled                 #   set, blank, true, false, future,
            - when: {did_not_arrive: true}     #   past, a value, or a list of values
              value: no_show                   #   (all tests of a `when` must hold)
            - when: {patient_arrived: true}
              value: attended
            - when: {starts_at: future}
              value: booked
            - value: unmarked                  # no `when`: otherwise
          # birth_year: {year_of: Date of Birth}          # year of a date column
          # birth_year: {age: Age, at: Date Registered}   # age at a reference date
        values:                  # canonical column -> {source label: value}
          status:
            Did not attend: no_show
        measurements:            # wide columns -> long rows of another table,
          - column: Knee flexion AROM (°)   # one row per non-empty cell; the new row
            table: rom                      # takes patient, episode, session and date
            set: {joint: knee, movement: flexion, mode: active, device: goniometer}
            columns: {Affected side: side}  # other source columns of the same row
          - column: NDI total
            table: proms
            set: {instrument: NDI}
        date_format: "%d.%m.%Y"  # any read option above can be set per table
      episodes:
        derive:                  # courses of care built from the sessions when
          new_course_types: [Initial Consultation]  # the source has none
          type_column: appointment_type_name  # source column of sessions holding the type
          region_column: Body region          # optional: courses per body region
          gap_days: 90           # a gap longer than this starts a new course
          discharge_after_days: 60  # ended (discharged) when no session follows
                                    # within this many days of the last attended
                                    # one and none is booked; else ongoing

Source labels and column names are matched without regard to case or to
surrounding spaces.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..errors import MappingError
from ..schema import TABLES

_READ_OPTIONS = ("delimiter", "decimal", "encoding", "date_format")
_TABLE_KEYS = {*_READ_OPTIONS, "file", "sheet", "columns", "values"}


@dataclass(frozen=True)
class TableMapping:
    """How one table is read and renamed."""

    file: str | None = None
    sheet: str | int | None = None
    form: str | None = None
    event: str | None = None
    resource: str | None = None
    query: str | None = None
    delimiter: str | None = None
    decimal: str = "auto"
    encoding: str | None = None
    date_formats: tuple[str, ...] = ()
    columns: dict[str, str] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Mapping:
    """A parsed mapping file: one :class:`TableMapping` per table."""

    tables: dict[str, TableMapping] = field(default_factory=dict)
    source: Path | None = None  # the mapping file read (None for a dict)
    kind: str | None = None  # the `source` key: folder, redcap, fhir, or a postgresql:// URL
    timezone: str | None = None
    dictionary: str | None = None
    password_env: str | None = None

    def for_table(self, name: str) -> TableMapping:
        return self.tables.get(name, self.tables.get("*", TableMapping()))


def _fail(path, message: str) -> MappingError:
    return MappingError(
        message,
        path=path,
        hint="fix the mapping file; docs/data-dictionary.md describes its format.",
    )


def _date_formats(value, path, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    formats = [value] if isinstance(value, str) else value
    if not isinstance(formats, list) or not all(isinstance(f, str) and "%" in f for f in formats):
        raise _fail(
            path, f"`date_format` {where} must be a strptime format such as '%d/%m/%Y' or a list of them, got {value!r}"
        )
    return tuple(formats)


def _table_mapping(name: str, spec: dict, defaults: dict, path) -> TableMapping:
    unknown = set(spec) - _TABLE_KEYS
    if unknown:
        raise _fail(path, f"table {name!r} has unknown keys {sorted(unknown)}; allowed: {sorted(_TABLE_KEYS)}")
    merged = {**defaults, **{k: v for k, v in spec.items() if k in _READ_OPTIONS}}
    canonical = TABLES[name].column_names if name in TABLES else []
    columns = {}
    for source, target in (spec.get("columns") or {}).items():
        if canonical and target not in canonical:
            raise _fail(
                path,
                f"table {name!r} maps column {source!r} to {target!r}, which is not a column of {name}; columns are {canonical}",
            )
        columns[str(source).strip().casefold()] = target
    values = {}
    for column, labels in (spec.get("values") or {}).items():
        if canonical and column not in canonical:
            raise _fail(path, f"table {name!r} maps values of {column!r}, which is not a column of {name}")
        if not isinstance(labels, dict):
            raise _fail(path, f"`values` of {name}.{column} must map source labels to values, got {labels!r}")
        values[column] = {str(k).strip().casefold(): str(v) for k, v in labels.items()}
    decimal = str(merged.get("decimal", "auto"))
    if decimal not in (".", ",", "auto"):
        raise _fail(path, f"`decimal` must be '.', ',' or 'auto', got {decimal!r}")
    return TableMapping(
        file=spec.get("file"),
        sheet=spec.get("sheet"),
        delimiter=merged.get("delimiter"),
        decimal=decimal,
        encoding=merged.get("encoding"),
        date_formats=_date_formats(merged.get("date_format"), path, f"for {name}"),
        columns=columns,
        values=values,
    )


def read_mapping(path: str | Path | dict | None) -> Mapping:
    """Read a mapping file (or an already-parsed dict) into a :class:`Mapping`.

    Raises
    ------
    MappingError
        When the file cannot be parsed or names unknown tables or columns.
    """
    if path is None:
        return Mapping()
    if isinstance(path, dict):
        raw, source = path, None
    else:
        source = Path(path)
        try:
            raw = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
        except FileNotFoundError:
            raise _fail(source, "mapping file not found") from None
        except yaml.YAMLError as exc:
            raise _fail(source, f"not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise _fail(source, "a mapping file must be a YAML mapping of options and `tables`")
    unknown = set(raw) - {*_READ_OPTIONS, "tables"}
    if unknown:
        raise _fail(source, f"unknown top-level keys {sorted(unknown)}; allowed: {sorted({*_READ_OPTIONS, 'tables'})}")
    defaults = {k: raw[k] for k in _READ_OPTIONS if k in raw}
    tables = {"*": _table_mapping("*", {}, defaults, source)}
    for name, spec in (raw.get("tables") or {}).items():
        if name not in TABLES:
            raise _fail(source, f"unknown table {name!r}; tables are {list(TABLES)}")
        tables[name] = _table_mapping(name, spec or {}, defaults, source)
    return Mapping(tables=tables, source=source)
