"""What a file is, judged from its first bytes: empty, binary, UTF-16, a workbook; and its encoding.

Each check refuses a file that cannot be a table with an
:class:`~needling_analytics.errors.UnreadableFileError` that says what the
file is and how to export it instead; the errors for a file that is empty
or that its parser refuses are built here too.
"""

from __future__ import annotations

import codecs
from pathlib import Path

from ...errors import UnreadableFileError

_ZIP = b"PK\x03\x04"
_OLE = b"\xd0\xcf\x11\xe0"
_SIGNATURES = {
    _ZIP: "a ZIP archive (an .xlsx workbook is one)",
    _OLE: "an old-style Excel (.xls) or other Office file",
    b"\x89PNG": "a PNG image",
    b"%PDF": "a PDF document",
    b"\x1f\x8b": "a gzip archive",
}
#: Bytes that text never holds (vertical tab, form feed and DOS end-of-file aside).
_CONTROL = bytes(b for b in range(32) if b not in b"\t\n\r\x0b\x0c\x1a") + b"\x7f"
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def file_head(path: Path) -> bytes:
    """The file's first 8 KiB."""
    with path.open("rb") as handle:
        return handle.read(8192)


def empty_file_error(path: Path) -> UnreadableFileError:
    return UnreadableFileError(
        "the file is empty: not even a header row",
        path=path,
        hint="export the table again, or delete the file if the clinic has no such data.",
    )


def unparsable_error(path: Path, what: str, exc: Exception, hint: str) -> UnreadableFileError:
    """The error for a file that its parser (openpyxl, pyarrow) refused with ``exc``."""
    return UnreadableFileError(f"not a readable {what} ({type(exc).__name__}: {exc})", path=path, hint=hint)


def has_utf16_bom(head: bytes) -> bool:
    return head.startswith(_UTF16_BOMS)


def _looks_like_utf16(head: bytes) -> bool:
    """True when every other byte is mostly NUL and the rest mostly not: UTF-16 text."""
    if len(head) < 8:
        return False
    zeros = sorted([head[0::2].count(0), head[1::2].count(0)])
    return zeros[1] > 0.7 * (len(head) // 2) and zeros[0] < 0.1 * (len(head) // 2)


def check_not_binary(path: Path, declared_wide: bool = False) -> bytes:
    """The file's first bytes, after refusing an empty, binary or BOM-less UTF-16 file.

    ``declared_wide``: the mapping says the file is UTF-16 or UTF-32.
    """
    head = file_head(path)
    if not head.removeprefix(codecs.BOM_UTF8).strip():
        raise empty_file_error(path)
    if declared_wide or has_utf16_bom(head):
        return head
    kind = next((what for magic, what in _SIGNATURES.items() if head.startswith(magic)), None)
    if not kind and _looks_like_utf16(head):
        raise UnreadableFileError(
            "the file looks like UTF-16 text without a byte-order mark, which cannot be read reliably",
            path=path,
            hint="save it as 'CSV UTF-8' and try again.",
        )
    if kind or b"\x00" in head or len(head.translate(None, _CONTROL)) < 0.98 * len(head):
        raise UnreadableFileError(
            f"the file holds binary data, not text: it is {kind + ', not' if kind else 'not'} a CSV export",
            path=path,
            hint="export the table as CSV (a workbook can be given as .xlsx) and try again.",
        )
    return head


def check_workbook(path: Path) -> None:
    """Refuse a file named .xlsx that is not a ZIP-based workbook, saying what it is."""
    head = file_head(path)
    if head.startswith(_ZIP):
        return
    if not head.strip():
        what, hint = "empty", "export the table again."
    elif head.startswith(_OLE):
        what, hint = (
            "an old-style Excel (.xls) workbook, not .xlsx",
            "open it in Excel and save it as .xlsx, or export CSV.",
        )
    elif b"\x00" not in head:
        what, hint = "text, not an Excel workbook", "if it is a CSV export, rename it to .csv."
    else:
        what, hint = "not an Excel workbook", "open it in Excel and save it again as .xlsx, or export CSV."
    raise UnreadableFileError(f"the file is {what}", path=path, hint=hint)


def line_ending(head: bytes) -> bytes:
    """``\\r`` for a file whose lines end in a bare carriage return (old Mac), else ``\\n``."""
    return b"\r" if b"\r" in head and b"\n" not in head else b"\n"


def is_wide(encoding: str | None) -> bool:
    """True for UTF-16 and UTF-32, which cannot be decoded line by line."""
    return bool(encoding) and codecs.lookup(encoding).name.startswith(("utf-16", "utf-32"))


def check_encoding(encoding: str | None, path: Path) -> None:
    """Refuse an encoding name Python does not know."""
    if encoding:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise UnreadableFileError(
                f"unknown encoding {encoding!r}",
                path=path,
                hint="set `encoding` in the mapping to one such as utf-8 or cp1252, or remove it.",
            ) from None
