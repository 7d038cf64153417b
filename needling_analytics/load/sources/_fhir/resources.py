"""FHIR resources as read from a Bundle (.json) or Bulk Data NDJSON, and references between them.

Every resource is kept with where it came from (the file and its entry
number in the Bundle or line in the NDJSON file) so that a rejected row
can be traced. Nothing is dropped here without a note: entries without a
resource (a transaction's DELETE), search outcomes and lines that are not
JSON are counted in :attr:`Resources.notes` or kept as broken entries of
the resource type their file names.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ....errors import UnreadableFileError

_REFERENCE = re.compile(r"(?:^|/)([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$")


@dataclass
class Entry:
    """One resource and where it came from.

    ``id`` is the resource's ``id``, else the id of a transaction's
    ``PUT Type/id``, else the UUID of its ``urn:uuid`` fullUrl (None when
    it has none of these); ``problem`` says why a line or entry could not
    be read (then ``resource`` is empty).
    """

    type: str
    resource: dict
    position: int
    path: Path
    id: str | None = None
    full_url: str | None = None
    problem: str | None = None


@dataclass
class Resources:
    """The resources of one Bundle or one folder of NDJSON files.

    ``label`` is ``entry`` for a Bundle (``position`` is the entry number,
    from 1) or ``line`` for NDJSON (the line of its file).
    """

    location: Path
    label: str
    entries: list[Entry] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    _by_url: dict[str, Entry] = field(default_factory=dict)
    _by_key: dict[tuple[str, str], Entry] = field(default_factory=dict)

    def add(self, entry: Entry) -> None:
        self.entries.append(entry)
        if entry.full_url:
            self._by_url.setdefault(entry.full_url, entry)
        if entry.id:
            self._by_key.setdefault((entry.type, entry.id), entry)

    def of_type(self, *types: str) -> list[Entry]:
        """The entries of the given resource types, in the order read."""
        return [e for e in self.entries if e.type in types]

    def target(self, reference) -> tuple[str | None, str | None]:
        """``(type, id)`` a Reference points to, or ``(None, None)`` when it cannot be resolved.

        Accepts ``Type/id``, absolute URLs (``https://host/fhir/Type/id``,
        with or without ``/_history/n``), a fullUrl of the Bundle
        (``urn:uuid:...`` in transactions) and logical references that
        carry only an ``identifier`` (with ``type``).
        """
        if not isinstance(reference, dict):
            return None, None
        text = reference.get("reference")
        if isinstance(text, str) and text.strip():
            text = text.strip()
            if text in self._by_url:
                found = self._by_url[text]
                return found.type, found.id
            match = None if text.startswith(("urn:", "#")) else _REFERENCE.search(text)
            return (match.group(1), match.group(2)) if match else (None, None)
        identifier = reference.get("identifier")
        if isinstance(identifier, dict) and identifier.get("value"):
            return reference.get("type"), str(identifier["value"])
        return None, None

    def resolve(self, reference, *types: str) -> str | None:
        """The id a Reference points to when it is one of ``types``, else None."""
        kind, ident = self.target(reference)
        return ident if ident and (kind in types or kind is None and reference.get("type") in types) else None

    def get(self, reference, kind: str) -> dict | None:
        """The resource of type ``kind`` a Reference points to, when it is in this source."""
        ident = self.resolve(reference, kind)
        found = self._by_key.get((kind, ident)) if ident else None
        return found.resource if found else None


def _entry_id(resource: dict, full_url, request) -> str | None:
    if isinstance(resource.get("id"), str) and resource["id"].strip():
        return resource["id"].strip()
    if isinstance(request, dict) and request.get("method") == "PUT":
        match = _REFERENCE.search(str(request.get("url", "")).split("?")[0])
        if match:
            return match.group(2)
    if isinstance(full_url, str) and full_url.startswith("urn:uuid:"):
        return full_url[len("urn:uuid:") :]
    return None


def _unreadable(path: Path, why: str) -> UnreadableFileError:
    from .. import SUPPORTED

    return UnreadableFileError(why, path=path, hint=f"give one of: {SUPPORTED}.")


def read_json_file(path: Path) -> Resources:
    """The resources of a JSON file: a Bundle, a single resource, or NDJSON lines."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise _unreadable(path, f"cannot read the file as UTF-8 JSON ({exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data" or path.suffix.casefold() == ".ndjson":
            found = Resources(path, "line")
            _read_lines(found, path, text, default_type=None)
            return found
        raise _unreadable(path, f"not valid JSON: {exc.msg} at line {exc.lineno}") from None
    if not isinstance(data, dict) or not isinstance(data.get("resourceType"), str):
        raise _unreadable(path, "a JSON file without a FHIR `resourceType`")
    found = Resources(path, "entry")
    if data["resourceType"] != "Bundle":
        found.add(Entry(data["resourceType"], data, 1, path, _entry_id(data, None, None)))
        return found
    _read_bundle(found, data, path)
    return found


def _read_bundle(found: Resources, bundle: dict, path: Path) -> None:
    skipped = Counter()
    for number, item in enumerate(bundle.get("entry") or [], start=1):
        if not isinstance(item, dict):
            skipped["entries that are not JSON objects"] += 1
            continue
        resource, request = item.get("resource"), item.get("request")
        if (item.get("search") or {}).get("mode") == "outcome":
            skipped["search outcomes (OperationOutcome)"] += 1
            continue
        if not isinstance(resource, dict):
            method = request.get("method") if isinstance(request, dict) else None
            skipped[f"{method} requests without a resource" if method else "entries without a resource"] += 1
            continue
        kind = resource.get("resourceType")
        if not isinstance(kind, str) or not kind:
            skipped["resources without a resourceType"] += 1
            continue
        full_url = item.get("fullUrl") if isinstance(item.get("fullUrl"), str) else None
        found.add(Entry(kind, resource, number, path, _entry_id(resource, full_url, request), full_url))
    kind = bundle.get("type", "(no type)")
    found.notes.append(f"Bundle of type {kind!r} with {len(bundle.get('entry') or [])} entries.")
    for what, n in skipped.items():
        found.notes.append(f"{n} {what} skipped.")


def _type_from_name(path: Path) -> str | None:
    for part in path.name.split("."):
        if part[:1].isupper() and part.isalpha():
            return part
    return None


def _read_lines(found: Resources, path: Path, text: str, default_type: str | None) -> None:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            resource = json.loads(line)
        except json.JSONDecodeError as exc:
            resource, why = None, f"line is not JSON ({exc.msg})"
        else:
            why = None if isinstance(resource, dict) and resource.get("resourceType") else "no resourceType"
        if why:
            if default_type:
                found.add(Entry(default_type, {}, number, path, problem=why))
            else:
                found.notes.append(f"{path.name} line {number} skipped: {why}.")
            continue
        found.add(Entry(resource["resourceType"], resource, number, path, _entry_id(resource, None, None)))


def read_ndjson_folder(folder: Path) -> Resources:
    """The resources of every ``*.ndjson`` file of a Bulk Data export folder (one resource per line)."""
    found = Resources(folder, "line")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.casefold() == ".ndjson")
    others = sorted(p.name for p in folder.iterdir() if p.is_file() and p not in files and not p.name.startswith("."))
    for path in files:
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise _unreadable(path, f"cannot read the NDJSON file as UTF-8 ({exc})") from None
        _read_lines(found, path, text, default_type=_type_from_name(path))
    found.notes.append(f"Bulk Data folder: {len(files)} NDJSON file(s) read.")
    if others:
        found.notes.append(f"files that are not NDJSON were not read: {others}.")
    return found
