"""``load_clinic``: a folder of exports in, typed tables and a quality report out."""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa

from ..clinic import Clinic
from ..errors import (
    DataQualityWarning,
    InputError,
    MappingError,
    MissingColumnsError,
    MissingTableError,
    NothingKeptError,
)
from ..schema import TABLES, TableSpec
from . import rules
from .coerce import as_text, coerce_table, parse_dates
from .episodes import derive_episodes, episode_on
from .mapping import Mapping, TableMapping, default_mapping, read_mapping
from .quality import PROBLEM_COLUMNS, TABLE_SUMMARY_COLUMNS, QualityReport
from .read import RawTable
from .sources import open_source
from .transform import apply_mapping, mapping_uses

#: A table smaller than this is never refused for losing rows to another table's quarantine.
MIN_ROWS_FOR_CASCADE_CHECK = 10

#: (column, parent table) pairs whose values must exist in the parent.
REFERENCES = {
    "episodes": [("patient_id", "patients")],
    "sessions": [("episode_id", "episodes"), ("patient_id", "patients")],
    "rom": [("episode_id", "episodes"), ("patient_id", "patients"), ("session_id", "sessions")],
    "proms": [("episode_id", "episodes"), ("patient_id", "patients")],
    "adverse_events": [("session_id", "sessions"), ("patient_id", "patients")],
    "assessments": [("episode_id", "episodes"), ("patient_id", "patients")],
    "journal": [("patient_id", "patients")],
}
#: The link through which a row's patient must match its parent's patient.
SAME_PATIENT = {
    "sessions": ("episode_id", "episodes"),
    "rom": ("episode_id", "episodes"),
    "proms": ("episode_id", "episodes"),
    "adverse_events": ("session_id", "sessions"),
    "assessments": ("episode_id", "episodes"),
}
#: The date column that must fall within its episode's dates.
WITHIN_EPISODE = {"sessions": "session_date", "rom": "measured_on", "assessments": "assessed_on"}


def clinic_from_frames(*, as_of=None, **frames: pd.DataFrame) -> Clinic:
    """A clinic built from DataFrames already in memory, without validation: :meth:`Clinic.from_frames`.

    Each frame is given by table name (``sessions=...``); absent optional
    columns are added blank (``status`` defaults to attended) and every
    column gets its loaded dtype; the quality report is empty.
    """
    unknown = set(frames) - set(TABLES)
    if unknown:
        raise ValueError(f"unknown table(s) {sorted(unknown)}; tables are {list(TABLES)}")
    tables = {}
    for name, spec in TABLES.items():
        if name not in frames:
            tables[name] = empty_table(spec)
            continue
        frame = frames[name].copy()
        for column in spec.columns:
            if column.name not in frame:
                frame[column.name] = column.default
            elif column.default is not None:
                frame[column.name] = frame[column.name].fillna(column.default)
            if column.kind == "date":
                frame[column.name] = pd.to_datetime(frame[column.name])
        tables[name] = _final_types(frame[spec.column_names + [c for c in frame if c not in spec.column_names]], spec)
    as_of = _parse_as_of(as_of)
    empty = pd.DataFrame(columns=TABLE_SUMMARY_COLUMNS)
    report = QualityReport(Path("."), as_of, empty, pd.DataFrame(columns=PROBLEM_COLUMNS), pd.DataFrame())
    return Clinic(tables=tables, quality=report, data_dir=Path("."), as_of=as_of, supplied=tuple(frames))


def output_schema(spec: TableSpec) -> pa.DataFrameSchema:
    """The pandera schema every loaded table satisfies (columns and dtypes)."""
    columns = {}
    for column in spec.columns:
        dtype = pd.CategoricalDtype(list(column.allowed)) if column.kind == "category" else column.dtype
        columns[column.name] = pa.Column(dtype, nullable=not column.required)
    return pa.DataFrameSchema(columns, strict=False, ordered=True, name=spec.name)


def empty_table(spec: TableSpec) -> pd.DataFrame:
    """A table of ``spec`` with no rows and the loaded dtypes."""
    frame = pd.DataFrame({c.name: pd.Series(dtype=object) for c in spec.columns})
    return _final_types(frame, spec)


def _final_types(frame: pd.DataFrame, spec: TableSpec) -> pd.DataFrame:
    out = frame.copy()
    for column in spec.columns:
        if column.kind == "category":
            out[column.name] = pd.Categorical(
                out[column.name].astype(object).where(out[column.name].notna(), None), categories=list(column.allowed)
            )
        else:
            out[column.name] = out[column.name].astype(column.dtype)
    return out.reset_index(drop=True)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_columns(raw: RawTable, spec: TableSpec) -> None:
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


def _cross_table_problems(name: str, active: pd.DataFrame, kept: dict, quarantined_keys: dict) -> list[pd.DataFrame]:
    out = []
    for column, parent in REFERENCES.get(name, []):
        if parent in kept:
            out.append(
                rules.check_reference(active, column, kept[parent], parent, quarantined_keys.get(parent, pd.Index([])))
            )
    if name in SAME_PATIENT:
        link, parent = SAME_PATIENT[name]
        out.append(rules.check_same_patient(active, link, kept[parent], parent))
    if name in WITHIN_EPISODE:
        out.append(rules.check_within_episode(active, WITHIN_EPISODE[name], kept["episodes"]))
    if name == "adverse_events":
        out.append(rules.check_attended(active, kept["sessions"]))
    return out


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


def _validate_table(
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
        *_cross_table_problems(spec.name, active, kept, quarantined_keys),
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


def _quarantine_frame(raw: RawTable, frame: pd.DataFrame, problems: pd.DataFrame) -> pd.DataFrame:
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


def _parse_as_of(as_of) -> pd.Timestamp:
    if as_of is None:
        return pd.Timestamp.today().normalize()
    return pd.Timestamp(as_of).normalize()


def load_clinic(
    path: str | Path, mapping: str | Path | dict | Mapping | None = None, *, as_of=None, timezone: str | None = None
) -> Clinic:
    """Load a clinic's data folder into typed tables, quarantining bad rows.

    Parameters
    ----------
    path : str or Path
        Folder holding one file per table: ``<table>.csv``, ``.parquet`` or
        ``.xlsx`` (see ``docs/data-dictionary.md``).
    mapping : path, dict or Mapping, optional
        How the clinic's export maps onto the data model (see
        :mod:`needling_analytics.load.mapping`). When absent, a
        ``mapping.yaml`` inside the data folder is used if there is one.
    as_of : date-like, optional
        The date the data describes; later dates are rejected as in the
        future. Defaults to today.
    timezone : str, optional
        The clinic's IANA time zone (``Australia/Melbourne``); overrides
        the mapping's ``timezone``. Timestamps with an offset are dated in
        it.

    Returns
    -------
    Clinic
        The tables (rows that passed every rule) and ``quality``, the
        :class:`QualityReport` listing every quarantined row and why.

    Raises
    ------
    InputError
        (or a subclass) when the input cannot be read at all: a missing
        folder, a missing required table, a file that is not a table, a
        table without its required columns, or (:class:`NothingKeptError`)
        a required table of which no row was kept or a table that lost
        most of its rows to another table's quarantined rows.

    Warns
    -----
    DataQualityWarning
        When rows were quarantined.

    Examples
    --------
    >>> clinic = load_clinic("data/demo")  # doctest: +SKIP
    >>> clinic.sessions.columns[:5].tolist()  # doctest: +SKIP
    ['session_id', 'episode_id', 'patient_id', 'practitioner_id', 'session_date']
    """
    data_dir = Path(path)
    if mapping is None:
        mapping = default_mapping(data_dir)
    mapping = mapping if isinstance(mapping, Mapping) else read_mapping(mapping)
    mapping = mapping.with_timezone(timezone)
    if not data_dir.exists() and not (mapping.kind or "").startswith("postgres"):
        raise InputError(
            "folder not found",
            path=data_dir,
            hint="give the folder that holds the clinic's files, or a FHIR or REDCap export file.",
        )
    source = open_source(data_dir, mapping)
    as_of = _parse_as_of(as_of)
    parts = _read_parts(source, mapping, as_of, data_dir)
    derived_note = _derive_episodes(parts, mapping, as_of)
    kept: dict[str, pd.DataFrame] = {}
    quarantined_keys: dict[str, pd.Index] = {}
    summaries, problem_frames, collapsed_frames, quarantine, supplied = [], [], [], {}, []
    lost_to_parents: dict[str, int] = {}
    for name, spec in TABLES.items():
        if not parts.get(name):
            summaries.append(
                {"table": name, "file": "", "supplied": False, "rows_read": 0, "duplicates_collapsed": 0,
                 "rows_quarantined": 0, "values_cleared": 0, "rows_kept": 0, "sha256": "", "notes": ""}
            )  # fmt: skip
            continue
        supplied.append(name)
        kept_parts, quarantined_parts = [], []
        for raw in parts[name]:
            table_mapping = mapping.for_table(name)
            if raw.parent:  # read as its parent file was, labelled as its own table is
                table_mapping = replace(mapping.for_table(raw.parent), values=table_mapping.values)
            _check_columns(raw, spec)
            frame, collapsed, problems, rows = _validate_table(
                raw, spec, table_mapping, kept, quarantined_keys, as_of, mapping.timezone
            )
            kept_parts.append(rows)
            file = raw.path
            quarantined = problems.loc[problems["action"] == "quarantined", "row"]
            cascade = problems["reason"].str.contains(rules.CASCADE_MARK, regex=False) & problems["row"].isin(
                quarantined
            )
            lost_to_parents[name] = lost_to_parents.get(name, 0) + problems.loc[cascade, "row"].nunique()
            quarantined_parts.append(quarantined_keys.get(name, pd.Index([])))
            summaries.append(
                {
                    "table": name, "file": str(file) + (f" ({raw.origin})" if raw.origin else ""), "supplied": True,
                    "rows_read": len(frame), "duplicates_collapsed": len(collapsed),
                    "rows_quarantined": quarantined.nunique(), "values_cleared": int((problems["action"] == "cleared").sum()),
                    "rows_kept": len(rows), "sha256": _sha256(file) if file.is_file() else "",
                    "notes": " ".join(raw.notes + ([derived_note] if name == "episodes" and derived_note else [])),
                }
            )  # fmt: skip
            rows_at = problems["row"].to_numpy(dtype=np.int64)
            problem_frames.append(
                problems.assign(table=name, file=str(file), line=raw.lines[rows_at], location=raw.location(rows_at))[
                    PROBLEM_COLUMNS
                ]
            )
            collapsed_frames.append(
                pd.DataFrame(
                    {
                        "table": name,
                        "file": str(file),
                        "line": raw.lines[collapsed["row"].to_numpy()],
                        "first_line": collapsed["first_line"].to_numpy(),
                    }
                )
            )
            table_quarantine = _quarantine_frame(raw, frame, problems)
            quarantine[name] = (
                pd.concat([quarantine[name], table_quarantine]) if name in quarantine else table_quarantine
            )
        kept[name] = _concat(kept_parts, spec)
        if spec.key:
            quarantined_keys[name] = pd.Index(
                pd.concat([pd.Series(k, dtype=object) for k in quarantined_parts]).unique()
            )
    tables = {}
    for name, spec in TABLES.items():
        tables[name] = _final_types(kept[name], spec) if name in kept else empty_table(spec)
        output_schema(spec).validate(tables[name])
    report = QualityReport(
        data_dir=data_dir,
        as_of=as_of,
        tables=pd.DataFrame(summaries, columns=TABLE_SUMMARY_COLUMNS),
        problems=pd.concat(problem_frames, ignore_index=True).astype({"line": np.int64}),
        collapsed=pd.concat(collapsed_frames, ignore_index=True),
        quarantine=quarantine,
        mapping=mapping.source,
        source=f"{source.kind}: {source.location}",
        timezone=mapping.timezone,
    )
    report.facts.extend(_facts(tables, report))
    check_enough_kept(report, lost_to_parents, derived=bool(derived_note))
    if not report.is_clean:
        warnings.warn(
            f"{report.rows_quarantined:,} row(s) of {data_dir} were quarantined and {report.values_cleared:,} "
            "value(s) cleared; see clinic.quality.summary()",
            DataQualityWarning,
            stacklevel=2,
        )
    return Clinic(tables=tables, quality=report, data_dir=data_dir, as_of=as_of, supplied=tuple(supplied))


def _facts(tables: dict[str, pd.DataFrame], report: QualityReport) -> list[str]:
    """Sentences a clinic should act on, beyond the per-row problems."""
    facts = []
    unmarked = int((tables["sessions"]["status"] == "unmarked").sum())
    if unmarked:
        facts.append(
            f"{unmarked:,} past appointment(s) were never marked attended, cancelled or missed (status unmarked): "
            "they count as neither attended nor missed; mark them in the practice-management system."
        )
    rounded = report.problems[report.problems["rule"] == "id_rounded"]
    if not rounded.empty:
        facts.append(
            f"{len(rounded):,} ID(s) were rounded by a spreadsheet (written like 1.41784E+18), so different "
            "patients or appointments could look alike: export IDs as text."
        )
    return facts


def _concat(frames: list[pd.DataFrame], spec: TableSpec) -> pd.DataFrame:
    if len(frames) == 1:
        return frames[0]
    columns = spec.column_names
    return pd.concat([f[columns] for f in frames], ignore_index=True)


def _read_parts(source, mapping: Mapping, as_of: pd.Timestamp, data_dir: Path) -> dict[str, list[RawTable]]:
    """Every table's raw rows under canonical names: its own, then those its siblings' measurements make."""
    parts: dict[str, list[RawTable]] = {}
    derive = mapping.for_table("episodes").derive
    for name, spec in TABLES.items():
        table_mapping = mapping.for_table(name)
        if name == "episodes" and derive is not None:
            continue  # built from the sessions below
        raw = source.read(name, table_mapping)
        if raw is None:
            if spec.required:
                looked = (
                    f"looked for {name}.csv, {name}.parquet or {name}.xlsx"
                    if source.kind == "folder"
                    else f"the {source.kind} source has no {name} and the mapping names none"
                )
                hint = f"add the {name} export, or say where it is in a mapping (`file`, `form`, `resource` or `query`)"
                if name == "episodes":
                    hint += "; or derive courses of care from the sessions with `episodes: {derive: ...}` (docs/data-dictionary.md)"
                raise MissingTableError(f"required table {name!r} not found ({looked})", path=data_dir, hint=hint + ".")
            continue
        own, *made = apply_mapping(raw, table_mapping, timezone=mapping.timezone, as_of=as_of)
        parts.setdefault(name, []).insert(0, own)
        for part in made:
            parts.setdefault(part.name, []).append(part)
    return parts


def _find_column(frame: pd.DataFrame, name: str | None) -> str | None:
    if not name:
        return None
    return next((c for c in frame.columns if str(c).strip().casefold() == name.strip().casefold()), None)


def _derive_episodes(parts: dict[str, list[RawTable]], mapping: Mapping, as_of: pd.Timestamp) -> str:
    """Build the episodes table from the sessions when the mapping says so; give every row its course.

    Returns the rule in words for the quality report ('' when nothing was derived).
    """
    rule = mapping.for_table("episodes").derive
    if rule is None:
        return ""
    sessions = parts["sessions"][0]
    typed, _ = coerce_table(sessions.frame, TABLES["sessions"], mapping.for_table("sessions"), mapping.timezone)
    for wanted in (rule.type_column, rule.region_column):
        found = _find_column(sessions.frame, wanted)
        if wanted and found is None:
            raise MappingError(
                f"`derive` names column {wanted!r}, but {sessions.path.name} has no such column; "
                f"it has {list(sessions.frame.columns)}",
                path=mapping.source,
                hint="name the sessions column that holds the appointment type (or the body region).",
            )
        if wanted:
            typed[wanted] = as_text(sessions.frame[found])
    episodes, episode_of = derive_episodes(typed, rule, as_of)
    replaced = "episode_id" in sessions.frame and sessions.frame["episode_id"].notna().any()
    sessions.frame["episode_id"] = episode_of.to_numpy(dtype=object)
    for name, table_parts in parts.items():
        for part in table_parts:
            if part.parent == "sessions":
                part.frame["episode_id"] = episode_of.to_numpy(dtype=object)[part.parent_rows]
            elif name not in ("sessions",) and "episode_id" in TABLES[name].column_names:
                _episode_by_date(part, mapping, episodes)
    parts["episodes"] = [
        RawTable("episodes", sessions.path, episodes, np.arange(1, len(episodes) + 1), "course", where="derived")
    ]
    note = rule.describe() + f" {len(episodes):,} courses were derived."
    if replaced:
        note += " The sessions' own episode column was replaced by the derived courses."
    return note


def _episode_by_date(part: RawTable, mapping: Mapping, episodes: pd.DataFrame) -> None:
    """Fill a blank ``episode_id`` with the patient's course at the row's date."""
    spec = TABLES[part.name]
    date_column = next(c.name for c in spec.columns if c.kind == "date" and c.required)
    if "episode_id" in part.frame and part.frame["episode_id"].notna().all():
        return
    if date_column not in part.frame or "patient_id" not in part.frame:
        return
    table_mapping = mapping.for_table(part.parent or part.name)
    dated = pd.DataFrame(
        {
            "patient_id": as_text(part.frame["patient_id"]),
            date_column: parse_dates(
                part.frame[date_column], table_mapping.date_formats, mapping.timezone, table_mapping.source_timezone
            )[0],
        }
    )
    found = episode_on(dated, date_column, episodes)
    current = part.frame["episode_id"] if "episode_id" in part.frame else pd.Series(pd.NA, index=part.frame.index)
    part.frame["episode_id"] = as_text(current).fillna(found).to_numpy(dtype=object)
    part.notes.append(f"episode_id of {int(found.notna().sum()):,} row(s) set to the patient's course at that date.")


def check_enough_kept(report: QualityReport, lost_to_parents: dict[str, int], *, derived: bool = False) -> None:
    """Refuse a load that kept nothing of a required table, or lost most of a table to another's rows.

    ``lost_to_parents`` counts, per table, the rows quarantined because a
    row they refer to was quarantined. With ``derived`` episodes, the
    sessions they come from are judged before them.

    Raises
    ------
    NothingKeptError
        Naming the rule that removed the rows and the first examples; the
        quality report is attached as ``.quality`` so it can still be written.
    """
    tables = report.tables.groupby("table", sort=False)[["rows_read", "rows_kept", "supplied"]].agg(
        {"rows_read": "sum", "rows_kept": "sum", "supplied": "any"}
    )
    problems = report.problems[report.problems["action"] == "quarantined"]
    if derived:
        order = ["patients", "sessions", "episodes"]
        tables = tables.loc[[*order, *(t for t in tables.index if t not in order)]]
    for name, row in tables.iterrows():
        if not row["supplied"]:
            continue
        mine = problems[problems["table"] == name]
        lost = lost_to_parents.get(name, 0)
        if TABLES[name].required and row["rows_read"] == 0:
            error = NothingKeptError(
                f"table {name!r} has no rows",
                path=report.data_dir,
                hint="check that the export covers the period and that the mapping names the right file, form or query.",
            )
            error.quality = report
            raise error
        if TABLES[name].required and row["rows_kept"] == 0:
            why = f"none of its {row['rows_read']:,} rows was kept"
        elif row["rows_read"] >= MIN_ROWS_FOR_CASCADE_CHECK and lost > row["rows_read"] / 2:
            why = f"{lost:,} of its {row['rows_read']:,} rows were lost because rows they refer to were quarantined"
            mine = mine[mine["reason"].str.contains(rules.CASCADE_MARK, regex=False)]
        else:
            continue
        top = mine.groupby(["rule", "column"]).size().sort_values(ascending=False)
        (rule, column), count = top.index[0], int(top.iloc[0])
        examples = mine[(mine["rule"] == rule) & (mine["column"] == column)].head(3)
        shown = "; ".join(f"{Path(r.file).name} {r.location}: {r.reason}" for r in examples.itertuples())
        error = NothingKeptError(
            f"table {name!r}: {why}. The rule that removed most: {rule} in {column} ({count:,} rows), e.g. {shown}",
            path=report.data_dir,
            hint="fix the mapping or the export (the quality report lists every row and why); "
            "an empty or gutted table would make every figure wrong.",
        )
        error.quality = report
        raise error
