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
    source_timezone: UTC      # the zone of timestamps written without an offset,
                              # when not the clinic's (a spreadsheet dropped the Z)
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

import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..errors import MappingError
from ..schema import TABLES

_READ_OPTIONS = ("delimiter", "decimal", "encoding", "date_format", "source_timezone")
_TOP_KEYS = {*_READ_OPTIONS, "tables", "extends", "source", "timezone", "dictionary", "password_env"}
_WHERE_KEYS = ("file", "sheet", "form", "event", "resource", "query")
_TABLE_KEYS = {*_READ_OPTIONS, *_WHERE_KEYS, "columns", "constants", "compute", "values", "measurements", "derive"}
_MEASUREMENT_KEYS = {"column", "table", "set", "columns"}
_DERIVE_KEYS = {"new_course_types", "type_column", "region_column", "gap_days", "discharge_after_days"}
#: Tests a `when` may make of a source column, besides a value or a list of values.
CONDITION_WORDS = ("set", "blank", "true", "false", "future", "past")
#: The column of a measurement's table that receives the cell's value, and the one that receives the date.
MEASURED = {
    "rom": ("degrees", "measured_on"),
    "proms": ("score", "completed_on"),
    "assessments": ("pain", "assessed_on"),
}
#: Where the shipped templates live.
TEMPLATE_DIR = Path(__file__).resolve().parents[1] / "templates"


@dataclass(frozen=True)
class Rule:
    """One ordered rule of a computed column: ``value`` when every test in ``when`` holds."""

    when: tuple[tuple[str, object], ...]
    value: object
    line: int | None = None


@dataclass(frozen=True)
class Computed:
    """How a canonical column is computed: ordered ``rules``, or a year from a date or an age."""

    rules: tuple[Rule, ...] = ()
    year_of: str | None = None
    age: str | None = None
    at: str | None = None
    line: int | None = None


@dataclass(frozen=True)
class Measurement:
    """A wide source column whose non-empty cells become rows of another table."""

    column: str
    table: str
    set: dict = field(default_factory=dict)
    columns: dict = field(default_factory=dict)
    line: int | None = None


@dataclass(frozen=True)
class EpisodeRule:
    """How courses of care are derived from the sessions (see :mod:`.episodes`)."""

    new_course_types: tuple[str, ...] = ()
    type_column: str | None = None
    region_column: str | None = None
    gap_days: int = 90
    discharge_after_days: int = 60

    def describe(self) -> str:
        """The rule in one sentence, for the quality report."""
        starts = f"after a gap of more than {self.gap_days} days without an appointment"
        if self.new_course_types:
            types = " or ".join(repr(t) for t in self.new_course_types)
            starts = f"at an appointment of type {types} ({self.type_column}), or {starts}"
        region = f", separately for each body region ({self.region_column})" if self.region_column else ""
        return (
            f"Courses of care were derived from the sessions: a new course starts {starts}{region}. "
            f"A course is discharged when no appointment was attended (or left unmarked) for more than "
            f"{self.discharge_after_days} days after its last one and none is booked, or a later course started; "
            "otherwise it is ongoing."
        )


@dataclass(frozen=True)
class TableMapping:
    """How one table is read, renamed, computed and unpivoted."""

    file: str | None = None
    sheet: str | int | None = None
    form: str | None = None
    event: str | tuple[str, ...] | None = None
    resource: str | None = None
    query: str | None = None
    delimiter: str | None = None
    decimal: str = "auto"
    encoding: str | None = None
    date_formats: tuple[str, ...] = ()
    #: the zone naive timestamps are written in, when not the clinic's (UTC times whose Z a spreadsheet dropped)
    source_timezone: str | None = None
    #: source column (casefolded) -> canonical columns it feeds
    columns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    constants: dict[str, str] = field(default_factory=dict)
    compute: dict[str, Computed] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    measurements: tuple[Measurement, ...] = ()
    derive: EpisodeRule | None = None
    #: where each entry was written: "columns.<source>" etc. -> (mapping file, line, from a template)
    origin: dict[str, tuple[str, int | None, bool]] = field(default_factory=dict)
    #: each source column (casefolded) as the mapping spells it, for messages
    spelled: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        # built in code, a column may name one target as text: {"Date": "session_date"}
        columns = {str(k).strip().casefold(): (v,) if isinstance(v, str) else tuple(v) for k, v in self.columns.items()}
        object.__setattr__(self, "columns", columns)

    def where(self, entry: str) -> str:
        """'mapping.yaml line 12' for an entry of this table's mapping, or ''."""
        path, line, _ = self.origin.get(entry, ("", None, False))
        return f"{Path(path).name} line {line}" if path and line else (Path(path).name if path else "")

    def from_template(self, entry: str) -> bool:
        return self.origin.get(entry, ("", None, False))[2]


@dataclass(frozen=True)
class Mapping:
    """A parsed mapping file: one :class:`TableMapping` per table."""

    tables: dict[str, TableMapping] = field(default_factory=dict)
    source: Path | None = None  # the mapping file read (None for a dict)
    kind: str | None = None  # the `source` key: folder, redcap, fhir, or a postgresql:// URL
    timezone: str | None = None
    dictionary: str | None = None
    password_env: str | None = None
    extends: tuple[str, ...] = ()  # the templates and files it builds on, outermost first

    def for_table(self, name: str) -> TableMapping:
        return self.tables.get(name, self.tables.get("*", TableMapping()))

    def with_timezone(self, timezone: str | None) -> Mapping:
        """A copy whose ``timezone`` is ``timezone`` (when given: a command-line option wins)."""
        if not timezone:
            return self
        from dataclasses import replace

        return replace(self, timezone=check_timezone(timezone, self.source))


# -- YAML with line numbers and no duplicate keys ---------------------------


class _Lined(dict):
    """A YAML mapping that remembers the line of each key."""

    lines: dict


class _Loader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> _Lined:
    loader.flatten_mapping(node)
    out, lines = _Lined(), {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, bool):  # `yes:` or `no:` as a label, not a truth value
            key = key_node.value
        if key in out:
            raise MappingError(
                f"line {key_node.start_mark.line + 1}: key {key!r} appears twice (first on line {lines[key]})",
                path=getattr(loader, "path", None),
                hint="keep one of them: YAML would silently use the last one.",
            )
        out[key] = loader.construct_object(value_node, deep=True)
        lines[key] = key_node.start_mark.line + 1
    out.lines = lines
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _line(node, key) -> int | None:
    return getattr(node, "lines", {}).get(key)


def _load_yaml(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _fail(path, "mapping file not found") from None
    loader = _Loader(text)
    loader.path = path
    try:
        raw = loader.get_single_data() or {}
    except yaml.YAMLError as exc:
        raise _fail(path, f"not valid YAML: {exc}") from None
    finally:
        loader.dispose()
    if not isinstance(raw, dict):
        raise _fail(path, "a mapping file must be a YAML mapping of options and `tables`")
    return raw


# -- parsing -----------------------------------------------------------------


def _fail(path, message: str, line: int | None = None) -> MappingError:
    return MappingError(
        f"line {line}: {message}" if line else message,
        path=path,
        hint="fix the mapping file; docs/data-dictionary.md describes its format.",
    )


def check_timezone(name: str, path=None, line: int | None = None) -> str:
    """``name`` when it is an IANA time zone (``Australia/Melbourne``), else a MappingError."""
    try:
        zoneinfo.ZoneInfo(str(name))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise _fail(
            path, f"`timezone` {name!r} is not a time zone; use an IANA name such as 'Australia/Melbourne'", line
        ) from None
    return str(name)


def _date_formats(value, path, where: str, line=None) -> tuple[str, ...]:
    if value is None:
        return ()
    formats = [value] if isinstance(value, str) else value
    if not isinstance(formats, list) or not all(isinstance(f, str) and "%" in f for f in formats):
        raise _fail(
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


class _Table:
    """Parses one table's mapping, with its file's path and lines for messages."""

    def __init__(self, name: str, spec: dict, path, template: bool):
        self.name, self.spec, self.path, self.template = name, spec, path, template
        self.canonical = TABLES[name].column_names if name in TABLES else []
        self.origin: dict[str, tuple[str, int | None, bool]] = {}
        self.spelled: dict[str, str] = {}

    def line(self, key, node=None):
        return _line(self.spec if node is None else node, key)

    def note(self, entry: str, line) -> None:
        self.origin[entry] = (str(self.path or ""), line, self.template)

    def fail(self, message: str, line=None) -> MappingError:
        return _fail(self.path, f"table {self.name!r}: {message}", line)

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
        return Rule(when=tuple(tests), value=_label(node["value"]), line=_line(node, "value") or line)

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
            line = _line(item, "column") or self.line("measurements")
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
        merged = {**defaults, **{k: v for k, v in self.spec.items() if k in _READ_OPTIONS}}
        decimal = str(merged.get("decimal", "auto"))
        if decimal not in (".", ",", "auto"):
            raise _fail(self.path, f"`decimal` must be '.', ',' or 'auto', got {decimal!r}", self.line("decimal"))
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


#: The mapping file a data folder may hold for itself, used when no other is given.
DEFAULT_MAPPING_NAME = "mapping.yaml"


def default_mapping(data_path: str | Path) -> Path | None:
    """``<data folder>/mapping.yaml`` when it exists (a folder's own mapping), else None."""
    candidate = Path(data_path) / DEFAULT_MAPPING_NAME
    return candidate if Path(data_path).is_dir() and candidate.is_file() else None


def mapping_fingerprint(path: str | Path | None) -> str:
    """A hash of a mapping file and of every file it extends: what it says, not where it is."""
    import hashlib

    if path is None:
        return ""
    digest = hashlib.sha256()
    for _, file, _ in _layers(_load_yaml(Path(path)), Path(path)):
        digest.update(Path(file).read_bytes())
    return digest.hexdigest()


def template_names() -> list[str]:
    """The templates shipped with the package (``extends: NAME``)."""
    return sorted(p.stem for p in TEMPLATE_DIR.glob("*.yaml"))


def _resolve_extends(name: str, path: Path | None, line) -> Path:
    if name in template_names():
        return TEMPLATE_DIR / f"{name}.yaml"
    base = (path.parent if path else Path.cwd()) / name
    if base.is_file():
        return base
    raise _fail(path, f"`extends: {name}` is neither a template ({', '.join(template_names())}) nor a file", line)


def _layers(raw: dict, path: Path | None, seen: tuple = ()) -> list[tuple[dict, Path | None, bool]]:
    """``raw`` and everything it extends, outermost template first: (content, file, is a template)."""
    if "extends" not in raw:
        return [(raw, path, False)]
    line = _line(raw, "extends")
    base_path = _resolve_extends(str(raw["extends"]), path, line)
    if base_path in seen:
        raise _fail(path, f"`extends` goes round in a circle through {base_path.name}", line)
    base = _layers(_load_yaml(base_path), base_path, (*seen, base_path))
    is_template = base_path.parent == TEMPLATE_DIR
    return [(c, p, t or is_template) for c, p, t in base] + [(raw, path, False)]


def read_mapping(path: str | Path | dict | None) -> Mapping:
    """Read a mapping file (or an already-parsed dict) into a :class:`Mapping`.

    Layers named by ``extends`` are applied first; each later layer
    overrides the earlier ones key by key (a table's ``columns``,
    ``constants``, ``compute`` and ``values`` are merged, anything else is
    replaced).

    Raises
    ------
    MappingError
        When the file cannot be parsed, has an unknown or duplicate key, or
        names unknown tables or columns; the message names the line.
    """
    if path is None:
        return Mapping()
    if isinstance(path, dict):
        raw, source = path, None
    else:
        source = Path(path)
        raw = _load_yaml(source)
    layers = _layers(raw, source)
    top: dict = {}
    tables: dict[str, list] = {}
    for content, file, template in layers:
        unknown = set(content) - _TOP_KEYS
        if unknown:
            key = sorted(unknown)[0]
            raise _fail(file, f"unknown top-level key {key!r}; allowed: {sorted(_TOP_KEYS)}", _line(content, key))
        for key, value in content.items():
            if key not in ("tables", "extends"):
                top[key] = (value, file, _line(content, key))
        node = content.get("tables") or {}
        if not isinstance(node, dict):
            raise _fail(file, "`tables` must map table names to their mappings", _line(content, "tables"))
        for name, spec in node.items():
            if name not in TABLES:
                raise _fail(file, f"unknown table {name!r}; tables are {list(TABLES)}", _line(node, name))
            if spec is not None and not isinstance(spec, dict):
                raise _fail(file, f"table {name!r} must be a mapping of keys", _line(node, name))
            tables.setdefault(name, []).append((spec or _Lined(), file, template))
    defaults = {k: v for k, (v, _, _) in top.items() if k in _READ_OPTIONS}
    built = {"*": _Table("*", {}, source, False).build(defaults)}
    for name, layered in tables.items():
        built[name] = _merge_layers(name, layered, defaults)
    timezone = top.get("timezone")
    return Mapping(
        tables=built,
        source=source,
        kind=str(top["source"][0]) if "source" in top else None,
        timezone=check_timezone(timezone[0], timezone[1], timezone[2]) if timezone else None,
        dictionary=str(top["dictionary"][0]) if "dictionary" in top else None,
        password_env=str(top["password_env"][0]) if "password_env" in top else None,
        extends=tuple(str(p) for _, p, t in layers[:-1]),
    )


_MERGED_KEYS = ("columns", "constants", "compute", "values")


def _merge_layers(name: str, layered: list, defaults: dict) -> TableMapping:
    """One table's mapping from its layers: each parsed in its own file (for lines), then merged."""
    parts = [_Table(name, spec, file, template) for spec, file, template in layered]
    built = [part.build(defaults, with_derive=i == 0) for i, part in enumerate(parts)]
    if len(built) == 1:
        return built[0]
    from dataclasses import replace

    result = built[0]
    derive = parts[0].spec.get("derive")
    for part, table in zip(parts[1:], built[1:], strict=True):
        changes = {}
        for key in _WHERE_KEYS + ("measurements",):
            if key in part.spec:
                changes[key] = getattr(table, key)
        if "derive" in part.spec:  # merged key by key; `derive: null` drops an inherited rule
            node = part.spec["derive"]
            derive = None if node is None else {**(derive or {}), **node}
            merged = _Table(name, _Lined(derive=derive), part.path, part.template)
            merged.spec.lines = {"derive": part.line("derive")}
            changes["derive"] = merged.derive()
        for key in _READ_OPTIONS:
            if key in part.spec:
                attribute = "date_formats" if key == "date_format" else key
                changes[attribute] = getattr(table, attribute)
        for key in _MERGED_KEYS:
            if key in part.spec:
                merged = dict(getattr(result, key))
                if key == "values":
                    for column, labels in table.values.items():
                        merged[column] = {**merged.get(column, {}), **labels}
                else:
                    merged.update(getattr(table, key))
                changes[key] = merged
        changes["origin"] = {**result.origin, **table.origin}
        changes["spelled"] = {**result.spelled, **table.spelled}
        result = replace(result, **changes)
    return result
