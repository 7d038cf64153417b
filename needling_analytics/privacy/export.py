"""De-identified research export (HIPAA Safe Harbor, 45 CFR 164.514(b)(2)).

:func:`export_research` writes every table of a loaded clinic as CSV and
Parquet with the Safe Harbor identifiers removed or transformed:

- names, free text and the postcode beyond an allowed three-digit prefix are
  removed (identifiers A and B, and free text that may contain any of them);
- every date becomes a whole number of days since the start of its episode;
  only the year of the episode start is kept (identifier C);
- ages are given in 5-year bands, everyone aged 90 or more as ``"90+"``
  (identifier C, ages over 89);
- patient, episode, session and practitioner IDs (record numbers,
  identifiers H and R) become keyed pseudonyms
  (:func:`~needling_analytics.privacy.pseudonyms.pseudonym`), never a plain
  hash, so they cannot be recomputed from an ID without the key, while the
  same key gives the same pseudonyms in every export so research can follow
  patients across exports.

What is kept, what is removed and why, with the sources, is in
:mod:`needling_analytics.privacy.safe_harbor`.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from ..spreadsheet import write_csv
from .keys import PrivacyWarning
from .pseudonyms import check_key, pseudonym
from .safe_harbor import AGE_BAND_DTYPE, AGE_BANDS, COLUMNS, RESTRICTED_ZIP3, export_readme


def export_research(
    clinic, out_dir: str | Path, *, key: bytes, allowed_zip3: Iterable[str] | None = None
) -> dict[str, Path]:
    """Write a de-identified copy of the clinic for research (HIPAA Safe Harbor).

    Every table is written as ``<table>.csv`` (text cells that a spreadsheet
    would run as formulas are escaped) and ``<table>.parquet``, with a
    ``README.md`` saying what was removed and how values were transformed
    (see :data:`~needling_analytics.privacy.safe_harbor.COLUMNS` and
    :data:`~needling_analytics.privacy.safe_harbor.REMOVED`). Files are created readable
    by the owner only (0600) in a folder only the owner can open (0700).

    Parameters
    ----------
    clinic : Clinic
        The loaded clinic.
    out_dir : str or Path
        Folder to create, or an empty folder, or the folder of an earlier
        research export (its files are replaced).
    key : bytes
        The secret pseudonym key (:func:`~needling_analytics.privacy.keys.load_key`); never written out.
    allowed_zip3 : iterable of str, optional
        Three-digit postcode prefixes whose area has more than 20,000 people
        according to current Census data, checked by the clinic. Other
        prefixes, and the 17 prefixes HHS lists as 20,000 or fewer, are
        exported as ``"000"``. By default no prefix is allowed (we have no
        population table), so every postcode becomes ``"000"``.

    Returns
    -------
    dict of str to Path
        Each written file by its name (``"patients.csv"``,
        ``"patients.parquet"``, ..., ``"README.md"``).

    Raises
    ------
    InputError
        When ``out_dir`` is a file, or a folder holding other files.
    ValueError
        For a key shorter than 32 bytes or a malformed ``allowed_zip3``.

    Warns
    -----
    PrivacyWarning
        When ``allowed_zip3`` lists a prefix HHS says has 20,000 or fewer
        people (it is exported as ``"000"`` anyway).

    Notes
    -----
    Journal entries dated before every episode of their patient cannot be
    given a day since an episode start: they are left out and counted in
    the README.

    Examples
    --------
    >>> key = load_key(key_file="export.key")  # doctest: +SKIP
    >>> files = export_research(clinic, "research_export", key=key)  # doctest: +SKIP
    >>> sorted(files)[:2]  # doctest: +SKIP
    ['README.md', 'adverse_events.csv']
    """
    key = check_key(key)
    allowed = _checked_zip3(allowed_zip3)
    tables, dropped_journal = _deidentify(clinic, key, allowed)
    folder = _prepare_folder(Path(out_dir))
    written: dict[str, Path] = {}
    for name, frame in tables.items():
        csv_path, parquet_path = folder / f"{name}.csv", folder / f"{name}.parquet"
        _create_private(csv_path)
        write_csv(frame, csv_path)
        _create_private(parquet_path)
        frame.to_parquet(parquet_path, index=False)
        for path in (csv_path, parquet_path):
            os.chmod(path, 0o600)
            written[path.name] = path
    readme = folder / "README.md"
    _create_private(readme)
    readme.write_text(export_readme(tables, dropped_journal, allowed), encoding="utf-8")
    os.chmod(readme, 0o600)
    written[readme.name] = readme
    return written


# ---------------------------------------------------------------- transforms


def _deidentify(clinic, key: bytes, allowed: frozenset[str]) -> tuple[dict[str, pd.DataFrame], int]:
    """The exported tables (columns as in COLUMNS) and the number of journal entries left out."""

    def ids(values: pd.Series, kind: str) -> pd.Series:
        return pseudonym(values, key, kind=kind)

    patients, episodes, sessions = clinic.patients, clinic.episodes, clinic.sessions
    start_of = _lookup(episodes, "episode_id", "start_date")
    birth_of = _lookup(patients, "patient_id", "birth_year")
    first_year = episodes.groupby("patient_id")["start_date"].min().dt.year
    out = {}
    out["patients"] = pd.DataFrame(
        {
            "patient_id": ids(patients["patient_id"], "patient"),
            "sex": patients["sex"],
            "age_band": _age_band(patients["birth_year"], patients["patient_id"].map(first_year)),
            "zip3": _zip3(patients["postcode"], allowed),
        }
    )
    out["episodes"] = episodes.assign(
        episode_id=ids(episodes["episode_id"], "episode"),
        patient_id=ids(episodes["patient_id"], "patient"),
        start_year=episodes["start_date"].dt.year.astype("Int64"),
        end_day=_days(episodes["end_date"], episodes["start_date"]),
        age_band=_age_band(episodes["patient_id"].map(birth_of), episodes["start_date"].dt.year),
    )
    out["sessions"] = sessions.assign(
        session_day=_days(sessions["session_date"], sessions["episode_id"].map(start_of)),
        **_pseudonymised(sessions, ids),
    )
    rom = clinic.rom
    out["rom"] = rom.assign(
        measured_day=_days(rom["measured_on"], rom["episode_id"].map(start_of)), **_pseudonymised(rom, ids)
    )
    proms = clinic.proms
    out["proms"] = proms.assign(
        completed_day=_days(proms["completed_on"], proms["episode_id"].map(start_of)), **_pseudonymised(proms, ids)
    )
    events = clinic.adverse_events
    events = events.assign(episode_id=events["session_id"].map(_lookup(sessions, "session_id", "episode_id")))
    out["adverse_events"] = events.assign(**_pseudonymised(events, ids))
    assessments = clinic.assessments
    out["assessments"] = assessments.assign(
        assessed_day=_days(assessments["assessed_on"], assessments["episode_id"].map(start_of)),
        **_pseudonymised(assessments, ids),
    )
    journal = _link_journal(clinic.journal, episodes)
    out["journal"] = journal.assign(**_pseudonymised(journal, ids))
    tables = {name: frame[list(COLUMNS[name])].reset_index(drop=True) for name, frame in out.items()}
    return tables, len(clinic.journal) - len(journal)


_ID_KINDS = {
    "patient_id": "patient",
    "episode_id": "episode",
    "session_id": "session",
    "practitioner_id": "practitioner",
    "rater_id": "practitioner",
    "assessment_id": "assessment",
}


def _pseudonymised(frame: pd.DataFrame, ids) -> dict[str, pd.Series]:
    return {column: ids(frame[column], kind) for column, kind in _ID_KINDS.items() if column in frame}


def _lookup(frame: pd.DataFrame, key: str, value: str) -> pd.Series:
    """``value`` by ``key`` (first row of each key), for ``Series.map``."""
    return frame.dropna(subset=[key]).drop_duplicates(key).set_index(key)[value]


def _days(dates: pd.Series, starts: pd.Series) -> pd.Series:
    """Whole days from ``starts`` to ``dates`` (Int64; missing when either is)."""
    return (dates - starts).dt.days.astype("Int64")


def _age_band(birth_year: pd.Series, year: pd.Series) -> pd.Series:
    """5-year band of ``year - birth_year``; 90 and over as "90+"; missing when unknown or negative."""
    age = year.astype("float64").to_numpy() - birth_year.astype("float64").to_numpy()
    with np.errstate(invalid="ignore"):
        valid = np.isfinite(age) & (age >= 0)
        codes = np.where(valid, np.minimum(np.floor_divide(np.where(valid, age, 0), 5), len(AGE_BANDS) - 1), -1)
    return pd.Series(pd.Categorical.from_codes(codes.astype(int), dtype=AGE_BAND_DTYPE), index=birth_year.index)


def _zip3(postcode: pd.Series, allowed: frozenset[str]) -> pd.Series:
    """First three characters where allowed (and not restricted), else "000"; missing stays missing."""
    prefix = postcode.astype("string").str.strip().str.upper().str.slice(0, 3)
    keep = (prefix.str.len() == 3) & prefix.isin(allowed - RESTRICTED_ZIP3)
    out = prefix.where(keep.fillna(False), "000")
    return out.where(postcode.notna() & (postcode.astype("string").str.strip() != ""), pd.NA).astype("string")


def _link_journal(journal: pd.DataFrame, episodes: pd.DataFrame) -> pd.DataFrame:
    """Journal rows with the episode each belongs to and ``entry_day``; rows with no episode left out.

    The episode is the patient's episode whose dates contain the entry day
    (an ongoing episode contains every later day; the latest-starting one
    when several do), else the latest episode started on or before it.
    """
    rows = journal.reset_index(drop=True).rename_axis("_row").reset_index()
    candidates = (
        rows[["_row", "patient_id", "entry_date"]]
        .dropna()
        .merge(
            episodes[["episode_id", "patient_id", "start_date", "end_date"]].dropna(
                subset=["patient_id", "start_date"]
            ),
            on="patient_id",
        )
    )
    candidates = candidates[candidates["start_date"] <= candidates["entry_date"]]
    candidates = candidates.assign(
        _contains=(candidates["end_date"].isna() | (candidates["entry_date"] <= candidates["end_date"])).astype(bool)
    )
    chosen = candidates.sort_values(["_row", "_contains", "start_date", "episode_id"]).drop_duplicates(
        "_row", keep="last"
    )
    linked = rows.merge(chosen[["_row", "episode_id", "start_date"]], on="_row").sort_values("_row")
    return linked.assign(entry_day=_days(linked["entry_date"], linked["start_date"])).reset_index(drop=True)


# ---------------------------------------------------------------- checks and files


def _checked_zip3(allowed_zip3) -> frozenset[str]:
    if allowed_zip3 is None:
        return frozenset()
    if isinstance(allowed_zip3, str | bytes):
        raise ValueError(
            f"`allowed_zip3` must be a collection of 3-character prefixes, got the string {allowed_zip3!r}"
        )
    allowed = frozenset(allowed_zip3)
    for prefix in sorted(allowed, key=repr):
        if not isinstance(prefix, str) or len(prefix.strip()) != 3:
            raise ValueError(f"`allowed_zip3` must hold 3-character prefixes such as '021', got {prefix!r}")
    allowed = frozenset(p.strip().upper() for p in allowed)
    restricted = sorted(allowed & RESTRICTED_ZIP3)
    if restricted:
        warnings.warn(
            f"`allowed_zip3` lists {restricted}, which HHS lists as areas of 20,000 or fewer people; "
            'they are exported as "000"',
            PrivacyWarning,
            stacklevel=3,
        )
    return allowed


def _export_files() -> set[str]:
    return {f"{name}.{ext}" for name in COLUMNS for ext in ("csv", "parquet")} | {"README.md"}


def _prepare_folder(folder: Path) -> Path:
    hint = "give a new or empty folder (not a shared one): it is made readable by you only."
    if folder.exists():
        if not folder.is_dir():
            raise InputError("not a folder", path=folder, hint=hint)
        others = sorted(p.name for p in folder.iterdir() if p.name not in _export_files())
        if others:
            raise InputError(
                f"the folder holds files that are not part of a research export ({', '.join(others[:5])})",
                path=folder,
                hint=hint,
            )
    else:
        folder.mkdir(parents=True, mode=0o700)
    os.chmod(folder, 0o700)
    return folder


def _create_private(path: Path) -> None:
    """Create (or empty) ``path`` with mode 0600 before anything is written to it."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    os.close(os.open(path, flags, 0o600))
    os.chmod(path, 0o600)
