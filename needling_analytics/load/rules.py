"""Validation rules: what makes a row unusable, and the reason given for it.

Single-table rules (required values, ranges, allowed values, dates in the
future, plausibility) are pandera schemas validated lazily, so every problem
is found in one pass. Duplicate identifiers are vectorised pandas code here;
rules that need another table (references, a patient that disagrees with
its episode, dates outside the episode) are in :mod:`.links`.

Every rule yields *problems*: a DataFrame with one row per broken rule and
columns ``row`` (position in the source table), ``column``, ``value``,
``rule`` and ``reason`` (plain English).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.pandas as pa

from ..reference import DEFAULT_PLAUSIBLE_DEGREES, plausible_degrees
from ..schema import INSTRUMENT_RANGES, TableSpec
from .coerce import as_text, is_in
from .read.limits import MAX_FIELD_CHARS

#: Every rule, with the plain-English description used in reports and docs.
RULES: dict[str, str] = {
    "malformed_record": "the line could not be split into the table's columns",
    "id_rounded": "an identifier was rounded by a spreadsheet (scientific notation); export IDs as text",
    "field_too_long": f"a field is longer than {MAX_FIELD_CHARS:,} characters (only its start is kept)",
    "missing_required": "a required value is blank",
    "not_a_number": "a number column holds something that is not a number",
    "not_a_whole_number": "a count or year holds a fraction",
    "not_a_date": "a date cannot be read in the expected format",
    "not_a_time": "a time of day is not HH:MM",
    "not_allowed": "a category holds a value outside its allowed list",
    "out_of_range": "a number lies outside its allowed range",
    "future_date": "a date lies after the data's as-of date",
    "end_before_start": "an episode ends before it starts",
    "implausible_degrees": "a range-of-motion reading is impossible for the joint and movement",
    "score_out_of_range": "a questionnaire score lies outside the instrument's range",
    "duplicate_id": "the same identifier is used by rows with different values",
    "duplicate_entry": "two different journal entries for one patient and day",
    "unknown_patient": "the patient is not in the patients table",
    "unknown_episode": "the episode is not in the episodes table",
    "unknown_session": "the session is not in the sessions table",
    "patient_mismatch": "the patient differs from the patient of the linked episode or session",
    "outside_episode": "a date lies outside the episode's start and end dates",
    "session_not_attended": "an adverse event is linked to a session that was not attended",
}

PROBLEM_COLUMNS = ["row", "column", "value", "rule", "reason"]
#: Words in the reason of a row refused because the row it refers to was quarantined.
CASCADE_MARK = "was quarantined in"


def problems_frame(rows, column: str, values, rule: str, reasons) -> pd.DataFrame:
    """Problems in the common shape, one per row position in ``rows``."""
    rows = np.asarray(rows, dtype=np.int64)
    if len(rows) == 0:
        return empty_problems()
    return pd.DataFrame(
        {
            "row": rows,
            "column": pd.array([column] * len(rows), dtype="string"),
            "value": pd.array(np.asarray(values, dtype=object), dtype="string"),
            "rule": pd.array([rule] * len(rows), dtype="string"),
            "reason": pd.array(np.broadcast_to(np.asarray(reasons, dtype=object), len(rows)), dtype="string"),
        }
    )


def empty_problems() -> pd.DataFrame:
    """A problems frame with no rows."""
    return pd.DataFrame(
        {"row": pd.Series(dtype=np.int64), **{c: pd.Series(dtype="string") for c in PROBLEM_COLUMNS[1:]}}
    )


def format_values(values: pd.Series) -> pd.Series:
    """Values for a message: dates as YYYY-MM-DD, blanks as (blank)."""
    if pd.api.types.is_datetime64_any_dtype(values):
        text = values.dt.strftime("%Y-%m-%d")
    else:
        text = values.astype("string")
        text = text.str.replace(r"\.0$", "", regex=True) if pd.api.types.is_float_dtype(values) else text
    return text.fillna("(blank)").astype("string")


# -- single-table rules (pandera) ------------------------------------------


def _bounds(spec: TableSpec, name: str, as_of: pd.Timestamp) -> tuple[float, float]:
    column = spec.column(name)
    upper = as_of.year if name == "birth_year" else column.maximum
    lower = -np.inf if column.minimum is None else column.minimum
    return lower, np.inf if upper is None else upper


def _degree_limits(frame: pd.DataFrame) -> pd.DataFrame:
    limits = (
        frame[["joint", "movement"]].astype(object).merge(plausible_degrees(), on=["joint", "movement"], how="left")
    )
    lo, hi = DEFAULT_PLAUSIBLE_DEGREES
    limits = limits.fillna({"min_degrees": lo, "max_degrees": hi})
    limits.index = frame.index
    return limits


def _score_limits(frame: pd.DataFrame) -> pd.DataFrame:
    instrument = frame["instrument"].astype(object)
    return pd.DataFrame(
        {
            "lo": instrument.map(lambda i: INSTRUMENT_RANGES.get(i, (-np.inf, np.inf))[0]),
            "hi": instrument.map(lambda i: INSTRUMENT_RANGES.get(i, (-np.inf, np.inf))[1]),
        },
        index=frame.index,
    ).astype(float)


def _frame_checks(spec: TableSpec) -> list[pa.Check]:
    """Checks that need several columns of one row."""
    if spec.name == "episodes":
        return [
            pa.Check(
                lambda d: d["end_date"].isna() | d["start_date"].isna() | (d["end_date"] >= d["start_date"]),
                name="end_before_start",
                ignore_na=False,
            )
        ]
    if spec.name == "rom":

        def _degrees_plausible_for_joint(d):
            limits = _degree_limits(d)
            return d["degrees"].isna() | d["degrees"].between(limits["min_degrees"], limits["max_degrees"])

        return [pa.Check(_degrees_plausible_for_joint, name="implausible_degrees", ignore_na=False)]
    if spec.name == "proms":

        def _score_within_instrument_range(d):
            limits = _score_limits(d)
            return d["score"].isna() | d["score"].between(limits["lo"], limits["hi"])

        return [pa.Check(_score_within_instrument_range, name="score_out_of_range", ignore_na=False)]
    return []


#: The column a multi-column check reports against.
_FRAME_CHECK_COLUMN = {"end_before_start": "end_date", "implausible_degrees": "degrees", "score_out_of_range": "score"}


def row_schema(spec: TableSpec, as_of: pd.Timestamp) -> pa.DataFrameSchema:
    """The pandera schema of one table's row rules.

    Types are established before validation (see :mod:`.coerce`), so the
    schema checks values: required, range, allowed values, not in the
    future, and the multi-column rules.
    """
    columns = {}
    for column in spec.columns:
        checks = []
        if column.kind in ("number", "integer") and (column.minimum is not None or column.maximum is not None):
            lo, hi = _bounds(spec, column.name, as_of)
            checks.append(pa.Check(lambda s, lo=lo, hi=hi: s.between(lo, hi), name="out_of_range"))
        if column.kind == "category":
            checks.append(pa.Check(lambda s, allowed=column.allowed: is_in(s, allowed), name="not_allowed"))
        if column.kind == "date":
            checks.append(pa.Check(lambda s: s <= as_of, name="future_date"))
        columns[column.name] = pa.Column(nullable=not column.required, checks=checks)
    return pa.DataFrameSchema(columns, checks=_frame_checks(spec), name=spec.name)


def _reasons(rule: str, spec: TableSpec, column: str, typed: pd.DataFrame, shown: pd.Series, as_of) -> pd.Series:
    rows = shown.index
    if rule == "missing_required":
        return pd.Series(f"{column} is required but is blank", index=rows)
    if rule == "out_of_range":
        lo, hi = _bounds(spec, column, as_of)
        unit = spec.column(column).unit
        return shown + f" is outside the allowed range {lo:g} to {hi:g}" + (f" ({unit})" if unit else "")
    if rule == "not_allowed":
        return "'" + shown + f"' is not an allowed {column}; use one of: {', '.join(spec.column(column).allowed)}"
    if rule == "future_date":
        return shown + f" is after the as-of date {as_of:%Y-%m-%d}: a date in the future"
    if rule == "end_before_start":
        return "end_date " + shown + " is before start_date " + format_values(typed.loc[rows, "start_date"])
    if rule == "implausible_degrees":
        sub = typed.loc[rows]
        limits = _degree_limits(sub)
        return (
            shown + " degrees is not plausible for " + format_values(sub["joint"]) + " " + format_values(sub["movement"])
            + " (accepted " + format_values(limits["min_degrees"]) + " to " + format_values(limits["max_degrees"]) + ")"
        )  # fmt: skip
    if rule == "score_out_of_range":
        sub = typed.loc[rows]
        limits = _score_limits(sub)
        return (
            shown
            + " is outside the "
            + format_values(sub["instrument"])
            + " range "
            + format_values(limits["lo"])
            + " to "
            + format_values(limits["hi"])
        )
    raise KeyError(rule)


def as_written(raw: pd.DataFrame, rows, column: str) -> pd.Series:
    """Cells of ``raw`` as the clinic wrote them, as text ('' when blank)."""
    if column not in raw.columns:
        return pd.Series("", index=pd.Index(rows), dtype="string")
    return as_text(raw.loc[rows, column]).fillna("")


def check_rows(typed: pd.DataFrame, raw: pd.DataFrame, spec: TableSpec, as_of: pd.Timestamp) -> pd.DataFrame:
    """Problems found by the table's pandera schema, validated lazily.

    ``raw`` holds each cell as the clinic wrote it, for the messages.
    """
    try:
        row_schema(spec, as_of).validate(typed, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
    else:
        return empty_problems()
    broken = cases[cases["index"].isna()]
    if not broken.empty:  # a check that could not run is a bug, never a row problem
        raise RuntimeError(f"validation of {spec.name} failed to run: {broken.to_dict('records')}")
    cases = cases.assign(rule=cases["check"].astype(str).replace({"not_nullable": "missing_required"}))
    if spec.name == "sessions":  # a booking, or a booking already cancelled, may lie in the future
        ahead = typed["status"].astype("string").isin(["booked", "cancelled"])
        future_booking = (cases["rule"] == "future_date") & cases["index"].map(ahead).fillna(False).astype(bool)
        cases = cases[~future_booking]
    frame_level = cases["rule"].isin(list(_FRAME_CHECK_COLUMN))
    wanted = cases["rule"].map(_FRAME_CHECK_COLUMN)
    cases = cases[~frame_level | (cases["column"] == wanted)]
    out = [empty_problems()]
    for (column, rule), group in cases.groupby(["column", "rule"], sort=False):
        rows = pd.Index(group["index"].astype(np.int64).unique())
        values = as_written(raw, rows, column)
        reasons = _reasons(rule, spec, column, typed, values, as_of)
        out.append(problems_frame(rows, column, values, rule, reasons.to_numpy()))
    return pd.concat(out, ignore_index=True)


def unreadable_problems(
    unreadable: dict[str, pd.Series], raw: pd.DataFrame, spec: TableSpec, formats: tuple[str, ...]
) -> pd.DataFrame:
    """Problems for cells that could not be typed (see :func:`.coerce.coerce_table`)."""
    expected = {
        "date": f"a date written {' or '.join(formats)} or as an ISO date such as 2026-03-09"
        if formats
        else "an ISO date such as 2026-03-09 (set `date_format` in a mapping for other formats)",
        "time": "a time of day such as 14:30",
        "number": "a number",
        "integer": "a whole number",
    }
    rules = {
        "date": "not_a_date",
        "time": "not_a_time",
        "number": "not_a_number",
        "integer": "not_a_whole_number",
        "id": "id_rounded",
    }
    out = [empty_problems()]
    for name, mask in unreadable.items():
        if not mask.any():
            continue
        kind = spec.column(name).kind
        values = as_written(raw, mask[mask].index, name)
        if kind == "id":
            reasons = "'" + values + "': this ID was rounded by a spreadsheet; export IDs as text"
        else:
            reasons = "'" + values + f"' is not {expected[kind]}"
            if name == "birth_year":
                looks_like_date = values.str.contains(r"\d[-/.]\d", regex=True).fillna(False)
                reasons = reasons.where(
                    ~looks_like_date,
                    reasons + "; it looks like a date of birth: map it with `compute: {birth_year: {year_of: COLUMN}}`",
                )
        out.append(problems_frame(values.index, name, values, rules[kind], reasons.to_numpy()))
    return pd.concat(out, ignore_index=True)


# -- duplicates --------------------------------------------------------------


def find_duplicates(raw: pd.DataFrame, typed: pd.DataFrame, spec: TableSpec, lines: np.ndarray, label: str):
    """Exact duplicate rows (collapsed) and conflicting duplicate keys.

    Returns
    -------
    collapsed : DataFrame
        One row per dropped exact copy: ``row`` and ``first_line`` (the
        line of the copy that was kept).
    problems : DataFrame
        ``duplicate_id`` (or ``duplicate_entry`` for the journal) for every
        row of a key used by rows that differ.
    """
    group = raw.astype("string").fillna("\x00").groupby(list(raw.columns), sort=False, dropna=False).ngroup()
    first_row = pd.Series(np.arange(len(raw)), index=raw.index).groupby(group.to_numpy()).transform("first")
    exact = pd.Series(np.arange(len(raw)) != first_row.to_numpy(), index=raw.index)
    collapsed = pd.DataFrame({"row": raw.index[exact], "first_line": lines[first_row[exact].to_numpy()]})
    key = [spec.key] if spec.key else list(spec.natural_key)
    if not key:
        return collapsed, empty_problems()
    remaining = typed.loc[~exact.to_numpy(), key]
    conflicting = remaining.duplicated(keep=False) & remaining.notna().all(axis=1)
    dup = remaining[conflicting]
    if dup.empty:
        return collapsed, empty_problems()
    dup_lines = pd.Series(lines[raw.index.get_indexer(dup.index)], index=dup.index)
    key_text = dup.astype("string").agg(" / ".join, axis=1) if len(key) > 1 else dup[key[0]].astype("string")
    listed = dup_lines.astype(str).groupby(key_text.to_numpy()).transform(", ".join)
    rule = "duplicate_id" if spec.key else "duplicate_entry"
    what = spec.key or " and ".join(key)
    reasons = f"{what} '" + key_text + f"' is used by {label}s " + listed + " with different values; keep the right one"
    return collapsed, problems_frame(dup.index, key[0], key_text, rule, reasons.to_numpy())
