"""FHIR R4: a Bundle (.json: collection, searchset, transaction, ...) or Bulk Data NDJSON files.

The JSON is read by a tolerant flattener of our own (the ``fhir.resources``
models default to R5 and reject R4 bundles): each canonical table is built
from its resources (see :mod:`._fhir.care` and :mod:`._fhir.measures`) under canonical column
names, so the template ``fhir`` is nearly identity. Table mapping key
``resource`` restricts a table to one resource type, or reads a resource
type this reader has no flattener for as dotted paths for ``columns`` to
rename.

=================  =================================================
table              resources
=================  =================================================
patients           Patient
episodes           EpisodeOfCare (+ the Condition of its diagnosis)
sessions           Encounter (+ Appointment with no Encounter; pain
                   Observations LOINC 72514-3 linked to the Encounter)
rom                Observation with a valueQuantity in degrees
proms              QuestionnaireResponse with a scored total
adverse_events     AdverseEvent
assessments        Observation LOINC 72514-3 linked to no Encounter
=================  =================================================
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..mapping import Mapping, TableMapping
from ..read import RawTable
from ._fhir import care, measures
from ._fhir.context import Context
from ._fhir.resources import Resources, read_json_file, read_ndjson_folder

#: table -> (resource types it is built from, flattener).
TABLE_RESOURCES = {
    "patients": (("Patient",), care.patients),
    "episodes": (("EpisodeOfCare",), care.episodes),
    "sessions": (("Encounter", "Appointment"), care.sessions),
    "rom": (("Observation",), measures.rom),
    "proms": (("QuestionnaireResponse",), measures.proms),
    "adverse_events": (("AdverseEvent",), measures.adverse_events),
    "assessments": (("Observation",), measures.assessments),
}
#: Resources read only to follow a reference from another (not tables of their own).
REFERENCED = ("Condition", "Procedure", "Practitioner", "PractitionerRole")


def _starts_like_fhir(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            head = handle.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    except OSError:
        return False
    return head.startswith(b"{") and b'"resourceType"' in head


def detect(path: Path) -> bool:
    """A JSON file, or a folder of ``.ndjson`` files, holding FHIR resources."""
    if path.is_dir():
        return any(p.suffix.casefold() == ".ndjson" and _starts_like_fhir(p) for p in path.iterdir())
    return path.is_file() and _starts_like_fhir(path)


@dataclass
class FhirSource:
    """The tables of one FHIR Bundle or Bulk Data folder (see the module docstring)."""

    resources: Resources
    kind: str = "fhir"
    context: Context = field(init=False)

    def __post_init__(self) -> None:
        self.context = Context(self.resources)

    @property
    def location(self) -> str:
        return str(self.resources.location)

    def read(self, name: str, mapping: TableMapping) -> RawTable | None:
        """The rows of canonical table ``name``, or None when the source holds none of its resources.

        The patients table also carries the notes about the whole source:
        the Bundle's type, entries skipped, and resources no table reads.
        """
        for key in ("file", "form", "query"):
            if getattr(mapping, key, None):
                from ...errors import InputError

                raise InputError(
                    f"table {name!r} names a `{key}`, which a FHIR source does not have",
                    path=self.resources.location,
                    hint="name a FHIR resource type with `resource` (Patient, Encounter, ...), or drop the key.",
                )
        types, flatten = TABLE_RESOURCES.get(name, ((), None))
        wanted = (mapping.resource,) if mapping.resource else types
        if mapping.resource and mapping.resource not in types:
            rows = measures.generic(self.context, name, mapping.resource)
        elif not self.resources.of_type(*wanted):
            return None
        elif name == "sessions":
            rows = flatten(self.context, wanted)
        else:
            rows = flatten(self.context)
        if name in ("rom", "assessments") and not rows.rows and not rows.counts:
            return None  # Observations, but none of this kind
        if name == "patients":
            rows.notes[:0] = [*self.resources.notes, *self._unread_notes()]
        return rows.table(self.resources.location, self.resources.label)

    def _unread_notes(self) -> list[str]:
        kinds = Counter(e.type for e in self.resources.entries)
        read = {t for types, _ in TABLE_RESOURCES.values() for t in types}
        unread = {k: n for k, n in sorted(kinds.items()) if k not in read and k not in REFERENCED}
        notes = []
        if unread:
            notes.append(
                f"resources no table reads were skipped: {', '.join(f'{k} ({n})' for k, n in unread.items())}."
            )
        other = self.context.other_codes
        if other:
            listed = ", ".join(f"{code!r} ({n})" for code, n in other.most_common(10))
            notes.append(
                f"{sum(other.values())} Observation(s) neither pain (LOINC 72514-3) nor range of motion "
                f"(degrees) were skipped: {listed}."
            )
        return notes


def open_source(path: Path, mapping: Mapping) -> FhirSource:
    """Read the Bundle (or single resource, or NDJSON file) at ``path``, or the NDJSON files of a folder."""
    return FhirSource(read_ndjson_folder(path) if path.is_dir() else read_json_file(path))
