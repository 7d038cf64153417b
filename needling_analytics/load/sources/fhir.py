"""FHIR R4: a Bundle (.json) or Bulk Data NDJSON files."""

from __future__ import annotations

from pathlib import Path

from ...errors import UnreadableFileError
from ..mapping import Mapping


def _starts_like_fhir(path: Path) -> bool:
    try:
        head = path.read_bytes()[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    except OSError:
        return False
    return head.startswith(b"{") and b'"resourceType"' in head


def detect(path: Path) -> bool:
    """A JSON file, or a folder of ``.ndjson`` files, holding FHIR resources."""
    if path.is_dir():
        return any(p.suffix.casefold() == ".ndjson" for p in path.iterdir())
    return path.is_file() and _starts_like_fhir(path)


def open_source(path: Path, mapping: Mapping):
    raise UnreadableFileError("reading FHIR is not built yet", path=path)
