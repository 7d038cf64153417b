"""``load_clinic``: a folder of exports in, typed tables and a quality report out."""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa

from ..errors import DataQualityWarning, InputError, MissingColumnsError, MissingTableError
from ..schema import TABLES, TableSpec
from . import rules
from .coerce import as_text, coerce_table
from .mapping import Mapping, TableMapping, read_mapping
from .quality import PROBLEM_COLUMNS, TABLE_SUMMARY_COLUMNS, QualityReport
from .read import RawTable, rename_columns
from .sources import open_source

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


@dataclass
class Clinic:
    """A loaded clinic: one typed DataFrame per table and the quality report.

    Every table is present, with its canonical columns and dtypes, even
    when the clinic did not supply it (then it has no rows); ``supplied``
    says which tables came from files. IDs are ``string``, dates
    ``datetime64[ns]``, categories ``category`` with the allowed values as
    categories, numbers ``float64`` and counts ``Int64``.
    """

    tables: dict[str, pd.DataFrame]
    quality: QualityReport
    data_dir: Path
    as_of: pd.Timestamp
    supplied: tuple[str, ...]

    patients = property(lambda self: self.tables["patients"])
    episodes = property(lambda self: self.tables["episodes"])
    sessions = property(lambda self: self.tables["sessions"])
    rom = property(lambda self: self.tables["rom"])
    proms = property(lambda self: self.tables["proms"])
    adverse_events = property(lambda self: self.tables["adverse_events"])
    assessments = property(lambda self: self.tables["assessments"])
    journal = property(lambda self: self.tables["journal"])

    @classmethod
    def from_frames(cls, *, as_of=None, **frames: pd.DataFrame) -> Clinic:
        """A clinic built from DataFrames already in memory, without validation.

        Each frame is given by table name (``sessions=...``); absent optional
        columns are added blank (``status`` defaults to attended) and every
        column gets its loaded dtype. Meant for tests, notebooks and
        benchmarks whose data is known to be valid; use :func:`load_clinic`
        for a clinic's files.

        Examples
        --------
        >>> clinic = Clinic.from_frames(
        ...     patients=pd.DataFrame({"patient_id": ["P1"]}),
        ...     episodes=pd.DataFrame({"episode_id": ["E1"], "patient_id": ["P1"], "start_date": ["2026-01-05"]}),
        ...     sessions=pd.DataFrame({"session_id": ["S1"], "episode_id": ["E1"], "patient_id": ["P1"],
        ...                            "practitioner_id": ["PR1"], "session_date": ["2026-01-05"], "pain_pre": [6]}),
        ... )
        >>> clinic.sessions["status"].tolist()
        ['attended']
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
            tables[name] = _final_types(
                frame[spec.column_names + [c for c in frame if c not in spec.column_names]], spec
            )
        as_of = _parse_as_of(as_of)
        empty = pd.DataFrame(columns=TABLE_SUMMARY_COLUMNS)
        report = QualityReport(Path("."), as_of, empty, pd.DataFrame(columns=PROBLEM_COLUMNS), pd.DataFrame())
        return cls(tables=tables, quality=report, data_dir=Path("."), as_of=as_of, supplied=tuple(frames))

    def has(self, table: str) -> bool:
        """True when the clinic supplied ``table`` and at least one row was kept."""
        return table in self.supplied and not self.tables[table].empty

    def __repr__(self) -> str:
        counts = ", ".join(f"{name}={len(frame):,}" for name, frame in self.tables.items() if name in self.supplied)
        return f"<Clinic {self.data_dir} as of {self.as_of:%Y-%m-%d}: {counts}; {self.quality.rows_quarantined:,} quarantined>"


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


def _validate_table(raw: RawTable, spec: TableSpec, mapping: TableMapping, kept: dict, quarantined_keys: dict, as_of):
    """Type, check and split one table into kept rows and problems."""
    frame = raw.frame.reset_index(drop=True)
    typed, unreadable = coerce_table(frame, spec, mapping)
    collapsed, duplicate_problems = rules.find_duplicates(frame, typed, spec, raw.lines, raw.line_label)
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
    bad_rows = pd.Index(problems["row"].unique())
    if spec.key:
        quarantined_keys[spec.name] = pd.Index(typed.loc[bad_rows, spec.key].dropna().unique())
    kept[spec.name] = active.drop(index=bad_rows)
    return frame, collapsed, problems


def _quarantine_frame(raw: RawTable, frame: pd.DataFrame, problems: pd.DataFrame) -> pd.DataFrame:
    rows = problems["row"].to_numpy()
    head = pd.DataFrame(
        {
            "source_file": raw.path.name,
            "line": raw.lines[rows] if len(rows) else np.array([], dtype=np.int64),
            "problem_column": problems["column"].to_numpy(),
            "problem_value": problems["value"].to_numpy(),
            "rule": problems["rule"].to_numpy(),
            "reason": problems["reason"].to_numpy(),
        }
    )
    body = frame.iloc[rows].apply(as_text).fillna("").reset_index(drop=True)
    body.columns = [f"{c} (source)" if c in head.columns else c for c in body.columns]
    return pd.concat([head, body], axis=1)


def _parse_as_of(as_of) -> pd.Timestamp:
    if as_of is None:
        return pd.Timestamp.today().normalize()
    return pd.Timestamp(as_of).normalize()


def load_clinic(path: str | Path, mapping: str | Path | dict | Mapping | None = None, *, as_of=None) -> Clinic:
    """Load a clinic's data folder into typed tables, quarantining bad rows.

    Parameters
    ----------
    path : str or Path
        Folder holding one file per table: ``<table>.csv``, ``.parquet`` or
        ``.xlsx`` (see ``docs/data-dictionary.md``).
    mapping : path, dict or Mapping, optional
        How the clinic's export maps onto the data model (see
        :mod:`needling_analytics.load.mapping`).
    as_of : date-like, optional
        The date the data describes; later dates are rejected as in the
        future. Defaults to today.

    Returns
    -------
    Clinic
        The tables (rows that passed every rule) and ``quality``, the
        :class:`QualityReport` listing every quarantined row and why.

    Raises
    ------
    InputError
        (or a subclass) when the input cannot be read at all: a missing
        folder, a missing required table, a file that is not a table, or a
        table without its required columns.

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
    if not data_dir.exists() and not (isinstance(mapping, Mapping) and mapping.kind):
        raise InputError(
            "folder not found",
            path=data_dir,
            hint="give the folder that holds patients, episodes and sessions files, or a FHIR or REDCap export.",
        )
    mapping = mapping if isinstance(mapping, Mapping) else read_mapping(mapping)
    source = open_source(data_dir, mapping)
    as_of = _parse_as_of(as_of)
    kept: dict[str, pd.DataFrame] = {}
    quarantined_keys: dict[str, pd.Index] = {}
    summaries, problem_frames, collapsed_frames, quarantine, supplied = [], [], [], {}, []
    for name, spec in TABLES.items():
        table_mapping = mapping.for_table(name)
        raw = source.read(name, table_mapping)
        if raw is None:
            if spec.required:
                looked = (
                    f"looked for {name}.csv, {name}.parquet or {name}.xlsx"
                    if source.kind == "folder"
                    else f"the {source.kind} source has no {name} and the mapping names none"
                )
                raise MissingTableError(
                    f"required table {name!r} not found ({looked})",
                    path=data_dir,
                    hint=f"add the {name} export, or say where it is in a mapping (`file`, `form`, `resource` or `query`).",
                )
            summaries.append(
                {
                    "table": name,
                    "file": "",
                    "supplied": False,
                    "rows_read": 0,
                    "duplicates_collapsed": 0,
                    "rows_quarantined": 0,
                    "rows_kept": 0,
                    "sha256": "",
                    "notes": "",
                }
            )
            continue
        rename_columns(raw, table_mapping)
        file = raw.path
        _check_columns(raw, spec)
        frame, collapsed, problems = _validate_table(raw, spec, table_mapping, kept, quarantined_keys, as_of)
        supplied.append(name)
        n_bad = problems["row"].nunique()
        summaries.append(
            {
                "table": name, "file": str(file), "supplied": True, "rows_read": len(frame),
                "duplicates_collapsed": len(collapsed), "rows_quarantined": n_bad,
                "rows_kept": len(kept[name]), "sha256": _sha256(file) if file.is_file() else "", "notes": " ".join(raw.notes),
            }
        )  # fmt: skip
        problem_frames.append(
            problems.assign(table=name, file=str(file), line=raw.lines[problems["row"].to_numpy(dtype=np.int64)])[
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
        quarantine[name] = _quarantine_frame(raw, frame, problems)
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
    )
    if not report.is_clean:
        warnings.warn(
            f"{report.rows_quarantined:,} row(s) of {data_dir} were quarantined; see clinic.quality.summary()",
            DataQualityWarning,
            stacklevel=2,
        )
    return Clinic(tables=tables, quality=report, data_dir=data_dir, as_of=as_of, supplied=tuple(supplied))
