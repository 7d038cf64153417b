"""A folder of files, one per table (CSV, Excel or Parquet)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ...errors import InputError
from ..mapping import Mapping, TableMapping
from ..read import RawTable, find_table_file, read_table


def detect(path: Path) -> bool:
    """A folder is read as a folder of table files."""
    return path.is_dir()


@dataclass
class FolderSource:
    """Tables read from the files of ``folder`` (see :func:`~..read.find_table_file`)."""

    folder: Path
    kind: str = "folder"

    @property
    def location(self) -> str:
        return str(self.folder)

    def read(self, name: str, mapping: TableMapping) -> RawTable | None:
        for key in ("form", "resource", "query"):
            if getattr(mapping, key):
                raise InputError(
                    f"table {name!r} names a `{key}`, which a folder of files does not have",
                    path=self.folder,
                    hint="use `file` for a folder, or set `source` in the mapping (redcap, fhir, postgresql://...).",
                )
        file = find_table_file(self.folder, name, mapping)
        return None if file is None else read_table(file, name, mapping)


def open_source(path: Path, mapping: Mapping) -> FolderSource:
    if not path.is_dir():
        raise InputError(
            "folder not found" if not path.exists() else "not a folder",
            path=path,
            hint="give the folder that holds the clinic's files (patients, sessions, ...), or a FHIR or REDCap export file.",
        )
    return FolderSource(path)
