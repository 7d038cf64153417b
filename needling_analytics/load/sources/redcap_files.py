"""Finding a REDCap export and its data dictionary: by their headers, in a folder or as named by the mapping."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

from ...errors import UnreadableFileError
from ..mapping import Mapping
from .redcap_dictionary import looks_like_dictionary

#: Columns REDCap adds in front of the fields.
REDCAP_COLUMNS = (
    "redcap_event_name",
    "redcap_repeat_instrument",
    "redcap_repeat_instance",
    "redcap_data_access_group",
    "redcap_survey_identifier",
)
#: Names a data dictionary is found by beside the export (case ignored).
DICTIONARY_PATTERNS = ("*datadictionary*.csv", "*_dictionary*.csv", "metadata.csv")


def _first_line(path: Path) -> str:
    try:
        head = path.read_bytes()[:65536]
    except OSError:
        return ""
    return head.split(b"\n", 1)[0].decode("utf-8", "replace").lstrip("\ufeff").casefold()


def is_export(path: Path) -> bool:
    """A CSV file whose header has REDCap's own columns or ``<form>_complete`` columns."""
    if not path.is_file() or path.suffix.casefold() not in (".csv", ".txt"):
        return False
    header = _first_line(path)
    if not header or looks_like_dictionary(header):
        return False
    columns = [c.strip().strip('"') for c in re.split(r"[,;\t|]", header)]
    return any(c in REDCAP_COLUMNS or c.endswith("_complete") for c in columns)


def _dictionaries_in(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file()
        and any(fnmatch.fnmatch(p.name.casefold(), pattern) for pattern in DICTIONARY_PATTERNS)
        and looks_like_dictionary(_first_line(p))
    )


def _exports_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if is_export(p))


def detect(path: Path) -> bool:
    """A REDCap export CSV, or a folder holding one and its data dictionary."""
    if path.is_dir():
        return bool(_exports_in(path)) and bool(_dictionaries_in(path))
    return is_export(path)


def find_export(folder: Path) -> Path:
    exports = _exports_in(folder)
    if len(exports) != 1:
        raise UnreadableFileError(
            "no REDCap export in the folder" if not exports else f"several REDCap exports: {[p.name for p in exports]}",
            path=folder,
            hint="give the export CSV itself, or keep one export in the folder.",
        )
    return exports[0]


def find_dictionary(export: Path, mapping: Mapping) -> Path | None:
    """The data dictionary named by ``mapping.dictionary``, else the one beside the export."""
    if mapping.dictionary:
        places = [export.parent] + ([mapping.source.parent] if mapping.source else [])
        for place in places:
            if (place / mapping.dictionary).is_file():
                return place / mapping.dictionary
        raise UnreadableFileError(
            f"the mapping names data dictionary {mapping.dictionary!r}, but there is no such file",
            path=export.parent,
            hint="correct `dictionary` in the mapping (a path relative to the export), or add the file.",
        )
    found = _dictionaries_in(export.parent)
    if len(found) > 1:
        raise UnreadableFileError(
            f"several data dictionaries beside the export: {[p.name for p in found]}",
            path=export.parent,
            hint="name the right one with `dictionary` in the mapping.",
        )
    return found[0] if found else None
