"""One table's rows checked: typed, every rule applied, and each row kept, cleared or quarantined."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import MissingColumnsError
from ..schema import TableSpec
from . import rules
from .coerce import as_text, coerce_table
from .links import REFERENCES, cross_table_problems
from .mapping import TableMapping
from .read import RawTable
from .transform import mapping_uses


def check_columns(raw: RawTable, spec: TableSpec) -> None:
    """Refuse a table that lacks a required column, naming what it has and how to map it."""
    missing = [c for c in spec.required_columns if c not in raw.frame.columns]
    if missing:
        found = list(raw.frame.columns)
        raise MissingColumnsError(
            f"table {spec.name!r} lacks required column(s) {missing}; "
            f"{raw.where or 'the file'} has {raw.extra_columns or found}",
            path=raw.path,
            hint="rename the columns in the export, or map them with `columns` in a mapping file (--mapping)"
            + ("; for a workbook, name the sheet to read with `sheet`." if raw.where else "."),
            missing=missing,
            found=found,
        )


#: Cell problems that clear an optional value instead of quarantining its row.
CLEARABLE_RULES = frozenset(
    {"not_a_number", "not_a_whole_number", "not_a_date", "not_a_time", "not_allowed", "out_of_range",
     "future_date", "id_rounded"}
)  # fmt: skip
#: Optional columns whose value decides what the row means: a problem there still quarantines the row.
_ESSENTIAL = {"sessions": {"status"}, "episodes": {"end_date"}}


def _clearable_columns(spec: TableSpec) -> set[str]:
    """Optional columns of ``spec`` whose unreadable values are cleared rather than quarantining the row."""
    referencing = {column for column, _ in REFERENCES.get(spec.name, [])}
    return {
        c.name for c in spec.columns if not c.required and c.name != spec.key and c.name not in referencing
    } - _ESSENTIAL.get(spec.name, set())


def validate_table(
    raw: RawTable, spec: TableSpec, mapping: TableMapping, kept: dict, quarantined_keys: dict, as_of, timezone=None
):
    """Type, check and split one table's rows into kept rows and problems.

    Returns the source frame, the collapsed exact copies, the problems
    (each with ``action``: ``quarantined`` or ``cleared``) and the kept rows.
    """
    frame = raw.frame.reset_index(drop=True)
    typed, unreadable = coerce_table(frame, spec, mapping, timezone)
    compared = [
        c for c in frame.columns if c in spec.column_names or str(c).strip().casefold() in mapping_uses(mapping)
    ]
    collapsed, duplicate_problems = rules.find_duplicates(frame[compared], typed, spec, raw.lines, raw.line_label)
    active = typed.drop(index=collapsed["row"])
    malformed = rules.problems_frame(
        list(raw.malformed),
        "(whole record)",
        [""] * len(raw.malformed),
        "malformed_record",
        list(raw.malformed.values()),
    )
    found = [
        malformed,
        *(
            rules.problems_frame([r], column, [value], "field_too_long", [why])
            for r, column, value, why in raw.cell_problems
        ),
        rules.unreadable_problems(
            {k: v.loc[active.index] for k, v in unreadable.items()}, frame, spec, mapping.date_formats
        ),
        rules.check_rows(active, frame, spec, as_of),
        duplicate_problems,
        *cross_table_problems(spec.name, active, kept, quarantined_keys),
    ]
    problems = pd.concat(found, ignore_index=True).drop_duplicates(["row", "column"], keep="first")
    whole = problems["column"] == "(whole record)"  # a broken record's values prove nothing more
    problems = problems[whole | ~problems["row"].isin(problems.loc[whole, "row"])]
    order = {name: i for i, name in enumerate(["(whole record)", *spec.column_names])}
    problems = problems.sort_values(
        ["row", "column"], key=lambda s: s.map(order).fillna(len(order)) if s.name == "column" else s, kind="stable"
    )
    problems = problems.reset_index(drop=True)
    if raw.where == "derived":  # a course whose first appointment is still to come starts in the future
        problems = problems[~((problems["rule"] == "future_date") & (problems["column"] == "start_date"))]
    clearable = problems["rule"].isin(CLEARABLE_RULES) & problems["column"].isin(_clearable_columns(spec))
    bad_rows = pd.Index(problems.loc[~clearable, "row"].unique())
    cleared = clearable & ~problems["row"].isin(bad_rows)
    problems["action"] = np.where(cleared, "cleared", "quarantined")
    for column, rows in problems[cleared].groupby("column")["row"]:
        active.loc[rows.to_numpy(), column] = pd.NA
    if cleared.any():
        problems.loc[cleared, "reason"] = problems.loc[cleared, "reason"] + "; the value was cleared and the row kept"
    if spec.key:
        quarantined_keys[spec.name] = pd.Index(typed.loc[bad_rows, spec.key].dropna().unique())
    return frame, collapsed, problems, active.drop(index=bad_rows)


def quarantine_frame(raw: RawTable, frame: pd.DataFrame, problems: pd.DataFrame) -> pd.DataFrame:
    """The quarantined rows as written, each problem a row, with where and why."""
    problems = problems[problems["action"] == "quarantined"]
    rows = problems["row"].to_numpy()
    head = pd.DataFrame(
        {
            "source_file": raw.path.name,
            "line": raw.lines[rows] if len(rows) else np.array([], dtype=np.int64),
            "problem_column": problems["column"].to_numpy(),
            "problem_value": problems["value"].to_numpy(),
            "rule": problems["rule"].to_numpy(),
            "reason": problems["reason"].to_numpy(),
            "location": raw.location(rows) if len(rows) else np.array([], dtype=str),
        }
    )
    body = frame.iloc[rows].apply(as_text).fillna("").reset_index(drop=True)
    body.columns = [f"{c} (source)" if c in head.columns else c for c in body.columns]
    return pd.concat([head, body], axis=1)
