"""The REDCap data dictionary: which form each field is on, its type and its coded choices.

REDCap exports the dictionary as a CSV beside the data. Downloaded from the
web interface its header reads ``Variable / Field Name, Form Name, Section
Header, Field Type, Field Label, "Choices, Calculations, OR Slider Labels",
...``; through the API (``export_metadata``) the same columns are named
``field_name, form_name, section_header, field_type, field_label,
select_choices_or_calculations, ...``. Both are read. Choices are written
``1, Male | 2, Female``: a code, a comma, a label (which may hold commas),
choices separated by ``|``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ...errors import UnreadableFileError
from ..mapping import TableMapping
from ..read.text import read_csv

#: Header of the web-interface download -> API name.
_HEADERS = {
    "variable / field name": "field_name",
    "form name": "form_name",
    "field type": "field_type",
    "field label": "field_label",
    "choices, calculations, or slider labels": "select_choices_or_calculations",
}
#: Field types whose values are codes with labels in the dictionary.
CODED_TYPES = ("radio", "dropdown", "checkbox", "yesno", "truefalse")
_FIXED_CHOICES = {"yesno": {"1": "Yes", "0": "No"}, "truefalse": {"1": "True", "0": "False"}}
#: Field types that never appear in an export.
_NOT_EXPORTED = ("descriptive",)


@dataclass(frozen=True)
class Field:
    """One field of the dictionary: its form, type and ``{code: label}`` choices."""

    name: str
    form: str
    type: str
    label: str = ""
    choices: dict[str, str] = field(default_factory=dict)


@dataclass
class DataDictionary:
    """The fields of a REDCap project, in dictionary order."""

    path: Path
    fields: dict[str, Field]
    notes: list[str] = field(default_factory=list)

    @property
    def forms(self) -> list[str]:
        """Form (instrument) names in dictionary order."""
        return list(dict.fromkeys(f.form for f in self.fields.values()))

    @property
    def record_id(self) -> str | None:
        """The first field, which REDCap makes the record identifier."""
        return next(iter(self.fields), None)


def parse_choices(text: str) -> dict[str, str]:
    """``"1, Male | 2, Female"`` -> ``{"1": "Male", "2": "Female"}``.

    The code is what precedes the first comma (REDCap codes hold no
    commas); the label is the rest, commas included. A choice without a
    comma is its own code and label.
    """
    out = {}
    for part in (text or "").split("|"):
        if not part.strip():
            continue
        code, sep, label = part.partition(",")
        code = code.strip()
        out[code] = label.strip() if sep else code
    return out


def checkbox_suffix(code: str) -> str:
    """The column suffix REDCap writes for checkbox ``code``: lower case, other characters as ``_``."""
    return re.sub(r"[^a-z0-9_]", "_", code.casefold())


def read_dictionary(path: Path) -> DataDictionary:
    """Read a REDCap data dictionary CSV.

    Raises
    ------
    UnreadableFileError
        When the file lacks the field name, form name or field type columns.
    """
    raw = read_csv(path, "dictionary", TableMapping())
    columns = {c: _HEADERS.get(c.strip().casefold(), c.strip().casefold()) for c in raw.frame.columns}
    frame = raw.frame.rename(columns=columns)
    missing = [c for c in ("field_name", "form_name", "field_type") if c not in frame.columns]
    if missing:
        raise UnreadableFileError(
            f"not a REDCap data dictionary: no {missing} column(s)",
            path=path,
            hint="export the data dictionary from REDCap (Project Setup > Data Dictionary, or the API's export_metadata).",
        )
    fields, notes = {}, list(raw.notes)
    if raw.malformed:
        notes.append(f"{len(raw.malformed)} line(s) of the data dictionary could not be read: {sorted(raw.malformed)}.")
    for _, row in frame.iterrows():
        name = str(row["field_name"] or "").strip()
        kind = str(row["field_type"] or "").strip().casefold()
        if not name or kind in _NOT_EXPORTED:
            continue
        choices = _FIXED_CHOICES.get(kind)
        if choices is None:
            text = row.get("select_choices_or_calculations", "") if kind in CODED_TYPES else ""
            choices = parse_choices(str(text or ""))
        fields[name] = Field(
            name, str(row["form_name"] or "").strip(), kind, str(row.get("field_label", "") or ""), dict(choices)
        )
    return DataDictionary(path, fields, notes)


def looks_like_dictionary(header: str) -> bool:
    """True when a CSV header line is a data dictionary's."""
    head = header.casefold()
    return ("field_name" in head and "form_name" in head) or ("variable / field name" in head and "form name" in head)
