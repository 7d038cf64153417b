"""Mapping files: how a clinic's own export maps onto the data model.

A mapping is a YAML file, for example:

    # defaults for every table, each optional
    delimiter: ";"            # CSV field separator; sniffed when absent
    decimal: ","              # decimal mark "." or ","; the default "auto"
                              # reads both 7.5 and 7,5 as 7.5
    encoding: cp1252          # tried first; UTF-8 (with or without BOM) when absent
    date_format: "%d/%m/%Y"   # or a list of formats, tried first and in order;
                              # ISO dates (2026-03-09) are always accepted too
    tables:
      sessions:
        file: Appointments.csv   # file name in the data folder
        sheet: Visits            # Excel sheet (first sheet when absent)
        columns:                 # source column -> canonical column
          Appointment ID: session_id
          Client: patient_id
        values:                  # canonical column -> {source label: value}
          status:
            Did not attend: no_show
        date_format: "%d.%m.%Y"  # any default above can be set per table

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
    source: Path | None = None

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
