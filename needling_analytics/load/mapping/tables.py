"""Parsing one table's mapping (``columns``, ``compute``, ``values``, ``measurements``, ``derive``)."""

from __future__ import annotations

from ...errors import MappingError
from ...schema import TABLES
from .model import (
    CONDITION_WORDS,
    MEASURED,
    Computed,
    EpisodeRule,
    Measurement,
    Rule,
    TableMapping,
    check_timezone,
    mapping_error,
)
from .yaml_lines import line_of

READ_OPTIONS = ("delimiter", "decimal", "encoding", "date_format", "source_timezone")
WHERE_KEYS = ("file", "sheet", "form", "event", "resource", "query")
_TABLE_KEYS = {*READ_OPTIONS, *WHERE_KEYS, "columns", "constants", "compute", "values", "measurements", "derive"}
_MEASUREMENT_KEYS = {"column", "table", "set", "columns"}
_DERIVE_KEYS = {"new_course_types", "type_column", "region_column", "gap_days", "discharge_after_days"}


def _date_formats(value, path, where: str, line=None) -> tuple[str, ...]:
    if value is None:
        return ()
    formats = [value] if isinstance(value, str) else value
    if not isinstance(formats, list) or not all(isinstance(f, str) and "%" in f for f in formats):
        raise mapping_error(
            path,
            f"`date_format` {where} must be a strptime format such as '%d/%m/%Y' or a list of them, got {value!r}",
            line,
        )
    return tuple(formats)


def _label(value) -> str:
    """A YAML scalar as the text a clinic would write (true -> 'true', 5 -> '5')."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class TableParser:
    """Parses one table's mapping, with its file's path and lines for messages."""

    def __init__(self, name: str, spec: dict, path, template: bool):
        self.name, self.spec, self.path, self.template = name, spec, path, template
        self.canonical = TABLES[name].column_names if name in TABLES else []
        self.origin: dict[str, tuple[str, int | None, bool]] = {}
        self.spelled: dict[str, str] = {}

    def line(self, key, node=None):
        return line_of(self.spec if node is None else node, key)

    def note(self, entry: str, line) -> None:
        self.origin[entry] = (str(self.path or ""), line, self.template)

    def fail(self, message: str, line=None) -> MappingError:
        return mapping_error(self.path, f"table {self.name!r}: {message}", line)

    def target(self, column, line, table=None, source=None) -> str:
        table = table or self.name
        canonical = TABLES[table].column_names if table in TABLES else self.canonical
        if canonical and column not in canonical:
            what = f"maps column {source!r} to {column!r}, which" if source is not None else f"{column!r}"
            raise self.fail(f"{what} is not a column of {table}; columns are {canonical}", line)
        return str(column)

    def columns(self) -> dict[str, tuple[str, ...]]:
        node = self.spec.get("columns") or {}
        if not isinstance(node, dict):
            raise self.fail("`columns` must map source columns to canonical columns", self.line("columns"))
        out = {}
        for source, targets in node.items():
            line = self.line(source, node)
            targets = targets if isinstance(targets, list) else [targets]
            out[str(source).strip().casefold()] = tuple(self.target(t, line, source=source) for t in targets)
            self.note(f"columns.{str(source).strip().casefold()}", line)
            self.spelled[str(source).strip().casefold()] = str(source)
        return out

    def constants(self) -> dict[str, str]:
        node = self.spec.get("constants") or {}
        if not isinstance(node, dict):
            raise self.fail("`constants` must map canonical columns to one value each", self.line("constants"))
        return {self.target(k, self.line(k, node)): _label(v) for k, v in node.items()}

    def computed(self) -> dict[str, Computed]:
        node = self.spec.get("compute") or {}
        if not isinstance(node, dict):
            raise self.fail("`compute` must map canonical columns to rules", self.line("compute"))
        out = {}
        for column, how in node.items():
            line = self.line(column, node)
            self.target(column, line)
            if isinstance(how, dict):
                unknown = set(how) - {"year_of", "age", "at"}
                if unknown or not (("year_of" in how) ^ ("age" in how and "at" in how)):
                    raise self.fail(
                        f"`compute.{column}` must be {{year_of: COLUMN}}, {{age: COLUMN, at: COLUMN}} or a list of rules",
                        line,
                    )
                if column != "birth_year":
                    raise self.fail(f"`year_of` and `age` compute birth_year, not {column!r}", line)
                out[column] = Computed(year_of=how.get("year_of"), age=how.get("age"), at=how.get("at"), line=line)
            elif isinstance(how, list) and how:
                out[column] = Computed(rules=tuple(self.rule(column, r, line) for r in how), line=line)
            else:
                raise self.fail(f"`compute.{column}` must be a list of rules (`when`, `value`)", line)
            self.note(f"compute.{column}", line)
        return out

    def rule(self, column, node, line) -> Rule:
        if not isinstance(node, dict) or "value" not in node or set(node) - {"when", "value"}:
            raise self.fail(f"each rule of `compute.{column}` needs `value` and may have `when`; got {node!r}", line)
        when = node.get("when") or {}
        if not isinstance(when, dict):
            raise self.fail(f"`when` in `compute.{column}` must map source columns to tests", line)
        tests = []
        for source, test in when.items():
            if isinstance(test, dict):
                raise self.fail(
                    f"test {test!r} on {source!r}: use {', '.join(CONDITION_WORDS)}, a value or a list of values", line
                )
            test = [_label(t) for t in test] if isinstance(test, list) else _label(test)
            tests.append((str(source), test))
        return Rule(when=tuple(tests), value=_label(node["value"]), line=line_of(node, "value") or line)

    def values(self) -> dict[str, dict[str, str]]:
        node = self.spec.get("values") or {}
        out = {}
        for column, labels in node.items():
            line = self.line(column, node)
            if self.canonical and column not in self.canonical:
                raise self.fail(f"maps values of {column!r}, which is not a column of {self.name}", line)
            if TABLES[self.name].column(column).kind == "id":
                raise self.fail(
                    f"`values` of {column!r}: identifiers are never relabelled (two patients could merge); "
                    "fix the IDs in the source instead",
                    line,
                )
            if not isinstance(labels, dict):
                raise self.fail(f"`values` of {column} must map source labels to values, got {labels!r}", line)
            out[column] = {_label(k).strip().casefold(): _label(v) for k, v in labels.items()}
        return out

    def measurements(self) -> tuple[Measurement, ...]:
        node = self.spec.get("measurements") or []
        if not isinstance(node, list):
            raise self.fail("`measurements` must be a list", self.line("measurements"))
        out = []
        for item in node:
            line = line_of(item, "column") or self.line("measurements")
            if not isinstance(item, dict) or set(item) - _MEASUREMENT_KEYS or not {"column", "table"} <= set(item):
                raise self.fail(
                    f"a measurement needs `column` and `table` (and may have `set`, `columns`): {item!r}", line
                )
            table = item["table"]
            if table not in MEASURED:
                raise self.fail(f"measurements go to {sorted(MEASURED)}, not {table!r}", line)
            sets = {self.target(k, line, table): _label(v) for k, v in (item.get("set") or {}).items()}
            cols = {
                str(k).strip().casefold(): self.target(v, line, table) for k, v in (item.get("columns") or {}).items()
            }
            out.append(Measurement(str(item["column"]), table, sets, cols, line))
            self.note(f"measurements.{str(item['column']).strip().casefold()}", line)
        return tuple(out)

    def derive(self) -> EpisodeRule | None:
        node = self.spec.get("derive")
        if node is None:
            return None
        line = self.line("derive")
        if self.name != "episodes":
            raise self.fail("only `episodes` can be derived", line)
        if not isinstance(node, dict) or set(node) - _DERIVE_KEYS:
            raise self.fail(f"`derive` takes {sorted(_DERIVE_KEYS)}; got {node!r}", line)
        types = node.get("new_course_types") or ()
        types = (types,) if isinstance(types, str) else tuple(str(t) for t in types)
        if types and not node.get("type_column"):
            raise self.fail("`derive.new_course_types` needs `type_column`: the sessions column holding the type", line)
        for key in ("gap_days", "discharge_after_days"):
            if key in node and (not isinstance(node[key], int) or node[key] < 1):
                raise self.fail(f"`derive.{key}` must be a whole number of days, got {node[key]!r}", line)
        return EpisodeRule(
            new_course_types=types,
            type_column=node.get("type_column"),
            region_column=node.get("region_column"),
            gap_days=node.get("gap_days", 90),
            discharge_after_days=node.get("discharge_after_days", 60),
        )

    def build(self, defaults: dict, with_derive: bool = True) -> TableMapping:
        """The parsed table mapping (``with_derive=False``: a layer whose `derive` is merged by the caller)."""
        unknown = set(self.spec) - _TABLE_KEYS
        if unknown:
            key = sorted(unknown)[0]
            raise self.fail(f"unknown key {key!r}; allowed: {sorted(_TABLE_KEYS)}", self.line(key))
        merged = {**defaults, **{k: v for k, v in self.spec.items() if k in READ_OPTIONS}}
        decimal = str(merged.get("decimal", "auto"))
        if decimal not in (".", ",", "auto"):
            raise mapping_error(
                self.path, f"`decimal` must be '.', ',' or 'auto', got {decimal!r}", self.line("decimal")
            )
        event = self.spec.get("event")
        written_in = merged.get("source_timezone")
        if written_in:
            check_timezone(written_in, self.path, self.line("source_timezone"))
        return TableMapping(
            file=self.spec.get("file"),
            sheet=self.spec.get("sheet"),
            form=self.spec.get("form"),
            event=tuple(event) if isinstance(event, list) else event,
            resource=self.spec.get("resource"),
            query=self.spec.get("query"),
            delimiter=merged.get("delimiter"),
            decimal=decimal,
            encoding=merged.get("encoding"),
            date_formats=_date_formats(
                merged.get("date_format"), self.path, f"for {self.name}", self.line("date_format")
            ),
            source_timezone=written_in,
            columns=self.columns(),
            constants=self.constants(),
            compute=self.computed(),
            values=self.values(),
            measurements=self.measurements(),
            derive=self.derive() if with_derive else None,
            origin=self.origin,
            spelled=self.spelled,
        )
