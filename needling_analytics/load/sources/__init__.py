"""Where a clinic's tables come from: a folder of files, a REDCap export, FHIR, PostgreSQL.

A *source* hands the loader one :class:`~needling_analytics.load.read.RawTable`
per table it holds, with the source's **own** column names and values as
written (nothing renamed, typed or judged). The mapping then renames,
computes and unpivots (:mod:`needling_analytics.load.mapping`), and the
same validation and quarantine apply to every source.

Every source implements :class:`Source`:

- ``kind``: ``"folder"``, ``"redcap"``, ``"fhir"`` or ``"postgresql"``;
- ``location``: what to name in messages (a folder, a file, a server);
- ``read(name, table_mapping)``: the raw rows for canonical table ``name``
  (``patients``, ``sessions``, ...), or ``None`` when the source does not
  hold that table. Where the rows come from is the table mapping's
  ``file`` (folder; ``sheet`` for a workbook), ``form`` (REDCap: an
  instrument, optionally ``event``), ``resource`` (FHIR) or ``query``
  (PostgreSQL); a source that knows a default for a table (FHIR's
  ``Encounter`` for sessions) uses it when the mapping names none.
  ``RawTable.lines`` numbers each row for messages and ``line_label``
  says what the number is (``line``, ``row``, ``entry``).

:func:`open_source` picks the source from the mapping's ``source`` key or,
when absent, from the content of the path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from ..mapping import Mapping, TableMapping
from ..read import RawTable


class Source(Protocol):
    """What every source offers the loader."""

    kind: str
    location: str

    def read(self, name: str, mapping: TableMapping) -> RawTable | None: ...


#: Source modules of this package, in the order their ``detect`` is tried.
_MODULES = ("fhir", "redcap", "folder")

SUPPORTED = (
    "a folder of CSV, Excel (.xlsx) or Parquet files (one per table, or as a mapping names them); "
    "a FHIR R4 Bundle (.json) or Bulk Data NDJSON files; a REDCap flat CSV export with its data dictionary; "
    "a PostgreSQL database named by `source: postgresql://...` in a mapping"
)


def _module(kind: str):
    import importlib

    return importlib.import_module(f".{kind}", __name__)


def source_kind(path: Path, mapping: Mapping) -> str:
    """The kind of source at ``path``: the mapping's ``source``, else detected from the content."""
    kind = (mapping.kind or "").strip()
    if kind.startswith(("postgresql://", "postgres://", "postgresql+")):
        return "postgresql"
    if kind:
        if kind not in _MODULES:
            from ...errors import MappingError

            raise MappingError(
                f"unknown source {kind!r}",
                path=mapping.source,
                hint="use folder, redcap, fhir or a postgresql://user@host/db URL for `source`.",
            )
        return kind
    for name in _MODULES:
        if _module(name).detect(path):
            return name
    from ...errors import UnreadableFileError

    raise UnreadableFileError(
        "not a format needling-analytics can read",
        path=path,
        hint=f"give one of: {SUPPORTED}.",
    )


def open_source(path: str | Path, mapping: Mapping) -> Source:
    """The :class:`Source` for ``path`` (a folder, a file or, with a database URL, ignored)."""
    path = Path(path)
    kind = source_kind(path, mapping)
    return _module(kind).open_source(path, mapping)
