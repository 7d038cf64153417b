"""A text file as numbered lines: bytes read in blocks, over-long lines cut, each line decoded.

Memory stays bounded whatever the file holds: a line longer than
:data:`~.limits.MAX_LINE_BYTES` keeps only its start and end. UTF-16 and
UTF-32 files are transcoded to UTF-8 as they are read; other files are
decoded line by line, so that one file may mix UTF-8 and Windows-1252.
"""

from __future__ import annotations

import codecs
from pathlib import Path

from ...errors import UnreadableFileError
from .limits import MAX_LINE_BYTES


class Transcoded:
    """A binary stream that reads a UTF-16 or UTF-32 file as UTF-8 bytes."""

    def __init__(self, handle, encoding: str, path: Path):
        self.handle, self.path = handle, path
        self.decoder = codecs.getincrementaldecoder(encoding)()

    def read(self, size: int) -> bytes:
        while True:
            data = self.handle.read(size)
            try:
                text = self.decoder.decode(data, final=not data)
            except UnicodeDecodeError as exc:
                raise UnreadableFileError(
                    f"the file is not valid {exc.encoding} text ({exc.reason})",
                    path=self.path,
                    hint="save it as 'CSV UTF-8' and try again.",
                ) from None
            if text or not data:
                return text.encode("utf-8")


def _char_start(data: bytes, at: int) -> int:
    """``at`` moved back (at most 3 bytes) so as not to split a UTF-8 character."""
    for _ in range(3):
        if at <= 0 or at >= len(data) or data[at] & 0xC0 != 0x80:
            break
        at -= 1
    return at


class _Line:
    """A line read in pieces: kept whole while short, only its start and end once too long.

    ``dropped`` counts the bytes left out of the middle; ``quotes`` how many
    of them were quotes, so that the marker put in their place can keep the
    line's quotes balanced.
    """

    def __init__(self):
        self.head, self.tail, self.dropped, self.quotes, self.long = b"", b"", 0, 0, False

    def add(self, part: bytes) -> None:
        half = MAX_LINE_BYTES // 2
        if not self.long and len(self.head) + len(part) <= MAX_LINE_BYTES:
            self.head += part
            return
        if not self.long:
            line = self.head + part
            cut = _char_start(line, half)
            self.head, part, self.long = line[:cut], line[cut:], True
        window = self.tail + part
        cut = _char_start(window, len(window) - half) if len(window) > half else 0
        self.dropped += cut
        self.quotes += window.count(b'"', 0, cut)
        self.tail = window[cut:]

    def bytes(self) -> bytes:
        if not self.dropped:
            return self.head
        marker = f"[... {self.dropped} bytes not read ...]" + ('"' if self.quotes % 2 else "")
        return self.head + marker.encode("ascii") + self.tail


def physical_lines(handle, newline: bytes):
    """Yield ``(line, dropped)`` for each line of a binary stream.

    A line longer than :data:`~.limits.MAX_LINE_BYTES` keeps only its first
    and last half of that around a marker, ``dropped`` counting the bytes
    left out, so memory stays bounded whatever the line's length.
    """
    pending = _Line()
    for block in iter(lambda: handle.read(1 << 20), b""):
        *complete, rest = block.split(newline)
        for part in complete:
            if not pending.head and not pending.long and len(part) <= MAX_LINE_BYTES:
                yield part + newline, 0  # the common case: a whole line within the block
                continue
            pending.add(part)
            yield pending.bytes() + newline, pending.dropped
            pending = _Line()
        pending.add(rest)
    if pending.head:
        yield pending.bytes(), pending.dropped


def decoded_lines(raw_lines, path: Path, encoding: str | None, notes: list[str]):
    """Yield ``(number, text, dropped)`` for each line.

    Without a configured encoding each line is decoded as UTF-8 and, failing
    that, as Windows-1252, so that a file mixing the two still reads.
    """
    fallback_lines = []
    for number, (raw, dropped) in enumerate(raw_lines, start=1):
        if number == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]
        if encoding:
            yield number, _decode(raw, encoding, number, path), dropped
            continue
        try:
            yield number, raw.decode("utf-8"), dropped
        except UnicodeDecodeError:
            fallback_lines.append(number)
            yield number, raw.decode("cp1252", errors="replace"), dropped
    if fallback_lines:
        shown = ", ".join(map(str, fallback_lines[:5])) + (" ..." if len(fallback_lines) > 5 else "")
        notes.append(f"{len(fallback_lines)} line(s) were not UTF-8 and were read as Windows-1252 (lines {shown}).")


def _decode(raw: bytes, encoding: str, number: int, path: Path) -> str:
    """Line ``number`` decoded with the mapping's ``encoding``, or a clear error."""
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise UnreadableFileError(
            f"line {number} is not valid {encoding} ({exc.reason} at byte {exc.start})",
            path=path,
            hint="set the right `encoding` in the mapping, or remove it to let the loader detect it.",
        ) from None
