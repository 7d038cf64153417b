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
    MissingTableError,
)
from ..schema import TABLES, TableSpec
from .episodes import add_derived_episodes
from .mapping import Mapping, default_mapping, read_mapping
from .quality import PROBLEM_COLUMNS, TABLE_SUMMARY_COLUMNS, QualityReport, check_enough_kept
from .read import RawTable
from .rules import CASCADE_MARK
from .sources import open_source
from .transform import apply_mapping
from .validation import check_columns, quarantine_frame, validate_table


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
    derived_note = add_derived_episodes(parts, mapping, as_of)
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
            check_columns(raw, spec)
            frame, collapsed, problems, rows = validate_table(
                raw, spec, table_mapping, kept, quarantined_keys, as_of, mapping.timezone
            )
            kept_parts.append(rows)
            file = raw.path
            quarantined = problems.loc[problems["action"] == "quarantined", "row"]
            cascade = problems["reason"].str.contains(CASCADE_MARK, regex=False) & problems["row"].isin(quarantined)
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
            table_quarantine = quarantine_frame(raw, frame, problems)
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
