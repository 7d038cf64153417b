"""What a parsed mapping holds: one :class:`TableMapping` per table, and the error its mistakes raise."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path

from ...errors import MappingError

#: Tests a `when` may make of a source column, besides a value or a list of values.
CONDITION_WORDS = ("set", "blank", "true", "false", "future", "past")
#: The column of a measurement's table that receives the cell's value, and the one that receives the date.
MEASURED = {
    "rom": ("degrees", "measured_on"),
    "proms": ("score", "completed_on"),
    "assessments": ("pain", "assessed_on"),
}


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
    """How courses of care are derived from the sessions (see :mod:`needling_analytics.load.episodes`)."""

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


def mapping_error(path, message: str, line: int | None = None) -> MappingError:
    """The error for a mistake in mapping file ``path`` (at ``line``), pointing at the format's docs."""
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
        raise mapping_error(
            path, f"`timezone` {name!r} is not a time zone; use an IANA name such as 'Australia/Melbourne'", line
        ) from None
    return str(name)
