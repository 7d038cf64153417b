"""A REDCap flat CSV export and its data dictionary."""

from __future__ import annotations

from pathlib import Path

from ...errors import UnreadableFileError
from ..mapping import Mapping


def detect(path: Path) -> bool:
    """A CSV file whose header has ``redcap_event_name`` or ``redcap_repeat_instrument``."""
    if not path.is_file():
        return False
    try:
        head = path.read_bytes()[:65536].split(b"\n", 1)[0].casefold()
    except OSError:
        return False
    return b"redcap_event_name" in head or b"redcap_repeat_instrument" in head


def open_source(path: Path, mapping: Mapping):
    raise UnreadableFileError("reading REDCap is not built yet", path=path)
