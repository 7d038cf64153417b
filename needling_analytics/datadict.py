"""Render ``docs/data-dictionary.md`` from the schema, so the two never drift.

Run ``python -m needling_analytics.datadict > docs/data-dictionary.md``
after changing :mod:`needling_analytics.schema`; a test fails when the
committed file differs from what this renders.
"""

from __future__ import annotations

import inspect
from pathlib import Path

from .load import mapping as mapping_module
from .load.coerce import MISSING_TOKENS, SYNONYMS
from .load.rules import RULES
from .reference import DEFAULT_PLAUSIBLE_DEGREES, plausible_degrees
from .schema import INSTRUMENT_RANGES, KIND_DTYPES, TABLES, ColumnSpec

_KIND_NAMES = {
    "id": "identifier (text)",
    "text": "text",
    "time": "time HH:MM",
    "date": "date",
    "number": "number",
    "integer": "whole number",
    "category": "category",
}

INTRO = """\
# Data dictionary

A clinic's data is a folder with one file per table, named after the table:
`patients.csv`, `episodes.parquet`, `sessions.xlsx` and so on (CSV, Parquet or
Excel `.xlsx`), or a FHIR bundle, a REDCap export or a PostgreSQL database.
Only **patients**, **episodes** and **sessions** are required (episodes can be
derived from the sessions); a clinic without the others still gets every
metric that does not need them. A mapping file (below) lets a clinic's own
export be read as it is, starting from a shipped template for Cliniko, Jane
App, REDCap or FHIR.

Loading keeps every row that passes the rules and **quarantines** the rest:
each rejected row is written to `quarantine/<table>.csv` with its file, line,
column, value, the rule it broke and the reason in plain English. Exact
duplicate rows are collapsed and counted; nothing is dropped silently.

How values are read:

- **Identifiers** stay text: `0012` keeps its leading zeros.
- **Dates** in ISO form (`2026-03-09`) are always accepted; formats set
  with `date_format` in the mapping (such as `%d/%m/%Y`) are tried first.
  Excel date cells are read as dates. A date after the as-of date (today,
  unless given) is rejected.
- **Numbers** accept a decimal comma (`7,5`).
- **Categories** are matched regardless of case, spaces and hyphens
  (`Low back` is `low_back`), through the mapping's `values`, or through a
  few built-in synonyms (listed at the end).
- In typed columns, {missing} are read as blank.
- Columns that are not in the model are kept as text, with a note in the
  quality report.

Generated from `needling_analytics/schema.py` by
`python -m needling_analytics.datadict`; do not edit by hand.
"""


def _limits(column: ColumnSpec) -> str:
    if column.allowed:
        return ", ".join(f"`{v}`" for v in column.allowed)
    if column.minimum is not None or column.maximum is not None:
        low = "" if column.minimum is None else f"{column.minimum:g}"
        high = (
            "as-of year" if column.name == "birth_year" else ("" if column.maximum is None else f"{column.maximum:g}")
        )
        return f"{low} to {high}"
    return ""


def _table_section(name: str) -> str:
    spec = TABLES[name]
    status = "required" if spec.required else "optional"
    key = f" Each row is identified by `{spec.key}`." if spec.key else ""
    lines = [
        f"## `{name}` ({status})",
        "",
        f"{spec.description}{key}",
        "",
        "| column | type | required | unit | allowed values or range | example | description |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in spec.columns:
        required = "yes" if c.required else ("no (default `" + c.default + "`)" if c.default else "no")
        lines.append(
            f"| `{c.name}` | {_KIND_NAMES[c.kind]} | {required} | {c.unit} | {_limits(c)} | `{c.example}` | {c.description} |"
        )
    return "\n".join(lines)


def _references() -> str:
    rom = plausible_degrees()
    lines = ["## Reference ranges", "", "### Plausible range-of-motion readings (degrees)", ""]
    lines += ["| joint | movement | lowest | highest |", "|---|---|---|---|"]
    lines += [f"| {r.joint} | {r.movement} | {r.min_degrees:g} | {r.max_degrees:g} |" for r in rom.itertuples()]
    lo, hi = DEFAULT_PLAUSIBLE_DEGREES
    lines += [
        "",
        f"Any other joint and movement: {lo} to {hi}. These are limits of the possible, not normal ranges.",
        "",
    ]
    lines += ["### Questionnaire score ranges", "", "| instrument | lowest | highest |", "|---|---|---|"]
    lines += [f"| {i} | {lo:g} | {hi:g} |" for i, (lo, hi) in INSTRUMENT_RANGES.items() if i != "other"]
    lines += ["", "NDI is recorded as raw points (0-50); a clinic recording percent must halve it."]
    return "\n".join(lines)


def _rules() -> str:
    lines = [
        "## Validation rules",
        "",
        "A problem in an optional value clears that value (the row is kept); any other quarantines the row.",
        "",
        "| rule | the problem |",
        "|---|---|",
    ]
    lines += [f"| `{rule}` | {text} |" for rule, text in RULES.items()]
    return "\n".join(lines)


def _mapping() -> str:
    doc = inspect.getdoc(mapping_module) or ""
    body = doc.split("\n", 2)[2] if doc.count("\n") >= 2 else doc
    synonyms = "\n".join(
        f"- `{column}`: " + ", ".join(f"`{k}` -> `{v}`" for k, v in labels.items())
        for column, labels in SYNONYMS.items()
    )
    guide = (Path(mapping_module.__file__).parent / "mapping_guide.md").read_text(encoding="utf-8").strip()
    return f"## Mapping files\n\n{body}\n\n{guide}\n\n### Built-in synonyms\n\n{synonyms}"


def render_data_dictionary() -> str:
    """The whole data dictionary as Markdown."""
    missing = ", ".join(f"`{t}`" for t in sorted(MISSING_TOKENS) if t) + " and empty cells"
    dtypes = "\n".join(f"- {_KIND_NAMES[k]}: `{v}`" for k, v in KIND_DTYPES.items())
    parts = [
        INTRO.replace("{missing}", missing),
        *(_table_section(name) for name in TABLES),
        _references(),
        _rules(),
        _mapping(),
        "## Types once loaded\n\n`load_clinic` returns each table with these pandas dtypes:\n\n" + dtypes,
    ]
    return "\n\n".join(parts) + "\n"


if __name__ == "__main__":  # pragma: no cover
    print(render_data_dictionary(), end="")
