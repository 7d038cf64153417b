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
  identifiers H and R) become keyed pseudonyms: HMAC-SHA256 with a secret
  key held by the clinic (:func:`pseudonym`), never a plain hash, so they
  cannot be recomputed from an ID without the key, while the same key gives
  the same pseudonyms in every export so research can follow patients across
  exports.

The export is built from an allow-list (:data:`COLUMNS`): a column the data
model gains later, or an extra column a clinic's file carries, is left out
until someone decides how to export it. :data:`REMOVED` records why each
data-model column that is not exported as such was left out; both feed the
``README.md`` written into the export.

Sources: 45 CFR 164.514(b)(2) (Safe Harbor) and 164.514(c)
(re-identification codes); HHS Office for Civil Rights, *Guidance Regarding
Methods for De-identification of Protected Health Information* (November
2012), for the three-digit ZIP codes with 20,000 or fewer people; the
Privacy section of ``DOMAIN.md``.
"""

from __future__ import annotations

import hmac
import os
import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError, NeedlingAnalyticsError, NeedlingAnalyticsWarning
from ..permissions import warn_if_shared
from ..spreadsheet import write_csv

#: Environment variable read by :func:`load_key` when no key file is given.
KEY_ENV_VAR = "NEEDLING_EXPORT_KEY"
#: Shortest key accepted, in bytes (a 256-bit key written as hex is 64).
MIN_KEY_BYTES = 32
#: Pseudonym prefix of each kind of identifier.
PREFIXES = {"patient": "P", "episode": "E", "session": "S", "practitioner": "PR", "assessment": "A"}
#: Hex characters of the HMAC kept in a pseudonym (64 bits).
PSEUDONYM_HEX_CHARS = 16
#: Three-digit ZIP codes whose area had 20,000 or fewer people (2000 Census,
#: HHS de-identification guidance, November 2012): always exported as "000".
RESTRICTED_ZIP3 = frozenset(
    {
        "036",
        "059",
        "063",
        "102",
        "203",
        "556",
        "692",
        "790",
        "821",
        "823",
        "830",
        "831",
        "878",
        "879",
        "884",
        "890",
        "893",
    }
)
#: Age bands, youngest first; ages of 90 and over are pooled (45 CFR 164.514(b)(2)(i)(C)).
AGE_BANDS = tuple(f"{low}-{low + 4}" for low in range(0, 90, 5)) + ("90+",)
AGE_BAND_DTYPE = pd.CategoricalDtype(list(AGE_BANDS), ordered=True)

_KEY_HINT = (
    'create a key once with `python -c "import secrets; print(secrets.token_hex(32))" > export.key` and '
    "`chmod 600 export.key`, keep it outside the export folder and never send it with an export, then pass the "
    f"file's path as the key file or put its content in the {KEY_ENV_VAR} environment variable. Use the same key "
    "for every export: it is what links a patient's pseudonym across exports."
)

#: The exported columns of each table, in order, and how each was made.
COLUMNS: dict[str, dict[str, str]] = {
    "patients": {
        "patient_id": "keyed pseudonym of the patient ID (`P` + 16 hex characters)",
        "sex": "as recorded (F, M, X, U)",
        "age_band": "5-year band of the age at the patient's first episode (start year minus birth year); 90 and over as `90+`; blank without a birth year or an episode",
        "zip3": "first 3 characters of the postcode when the prefix was allowed (see below), else `000`; blank without a postcode",
    },
    "episodes": {
        "episode_id": "keyed pseudonym of the episode ID (`E` + 16 hex characters)",
        "patient_id": "keyed pseudonym of the patient ID",
        "start_year": "calendar year of the episode start (the only date element kept)",
        "end_day": "days from the episode start to discharge; blank while ongoing",
        "age_band": "5-year band of the age in the start year (start year minus birth year); 90 and over as `90+`",
        "body_region": "as recorded",
        "symptom_duration_weeks": "as recorded",
        "discharge_reason": "as recorded",
    },
    "sessions": {
        "session_id": "keyed pseudonym of the session ID (`S` + 16 hex characters)",
        "episode_id": "keyed pseudonym of the episode ID",
        "patient_id": "keyed pseudonym of the patient ID",
        "practitioner_id": "keyed pseudonym of the practitioner ID (`PR` + 16 hex characters)",
        "session_day": "days from the episode start to the appointment (0 = first consultation day)",
        "status": "as recorded",
        "pain_pre": "as recorded",
        "pain_post": "as recorded",
        "needles": "as recorded",
        "muscles": "as recorded: a list of muscle names, clinical vocabulary rather than free text about the patient",
        "twitch_response": "as recorded",
    },
    "rom": {
        "patient_id": "keyed pseudonym of the patient ID",
        "episode_id": "keyed pseudonym of the episode ID",
        "measured_day": "days from the episode start to the reading",
        "joint": "as recorded",
        "movement": "as recorded",
        "side": "as recorded",
        "degrees": "as recorded",
        "session_id": "keyed pseudonym of the session ID",
        "mode": "as recorded",
        "device": "as recorded",
        "rater_id": "keyed pseudonym of the rater, made as a practitioner ID (so it matches `sessions.practitioner_id`)",
    },
    "proms": {
        "patient_id": "keyed pseudonym of the patient ID",
        "episode_id": "keyed pseudonym of the episode ID",
        "completed_day": "days from the episode start to completion",
        "instrument": "as recorded",
        "score": "as recorded",
    },
    "adverse_events": {
        "session_id": "keyed pseudonym of the session ID",
        "episode_id": "keyed pseudonym of the session's episode (added to link the event to its episode); blank if the session is unknown",
        "patient_id": "keyed pseudonym of the patient ID",
        "event_type": "as recorded",
        "severity": "as recorded",
        "resolved_days": "as recorded",
    },
    "assessments": {
        "patient_id": "keyed pseudonym of the patient ID",
        "episode_id": "keyed pseudonym of the episode ID",
        "assessed_day": "days from the episode start to the assessment",
        "pain": "as recorded",
        "global_change": "as recorded",
        "global_change_scale": "as recorded (grc7, grc15, pgic7)",
        "assessment_id": "keyed pseudonym of the source's assessment ID (`A` + 16 hex characters); blank when it had none",
    },
    "journal": {
        "patient_id": "keyed pseudonym of the patient ID",
        "episode_id": "keyed pseudonym of the episode the entry is linked to: the patient's episode whose dates contain the entry day (the latest-starting one if several do), else the latest episode started before it",
        "entry_day": "days from the start of that episode to the entry",
        "pain": "as recorded",
        "stiffness": "as recorded",
        "mobility": "as recorded",
    },
}

#: Data-model columns not exported as such, and why.
REMOVED: dict[str, dict[str, str]] = {
    "patients": {
        "first_name": "name (Safe Harbor identifier A)",
        "last_name": "name (Safe Harbor identifier A)",
        "birth_year": "replaced by `age_band`: a birth year would reveal ages over 89 (identifier C)",
        "postcode": "geographic subdivision smaller than a State (identifier B); only `zip3` is kept",
    },
    "episodes": {
        "start_date": "date (identifier C); only `start_year` is kept and other dates are counted from it",
        "end_date": "date (identifier C); replaced by `end_day`",
        "condition": "free text in the clinic's words, which may name people, places or dates; `body_region` is kept",
    },
    "sessions": {
        "session_date": "date (identifier C); replaced by `session_day`",
        "session_time": "time of day: an element of a date (identifier C), of no research use without the date",
    },
    "rom": {"measured_on": "date (identifier C); replaced by `measured_day`"},
    "proms": {"completed_on": "date (identifier C); replaced by `completed_day`"},
    "adverse_events": {"notes": "free text, which may identify the patient (the data model says: never exported)"},
    "assessments": {"assessed_on": "date (identifier C); replaced by `assessed_day`"},
    "journal": {
        "entry_date": "date (identifier C); replaced by `entry_day`",
        "activity_note": "free text written by the patient, which may identify them",
    },
}


class PrivacyWarning(NeedlingAnalyticsWarning):
    """A setting weakens the protection of an export (e.g. a key file others can read)."""


def load_key(*, key_file: str | Path | None = None, env_var: str = KEY_ENV_VAR) -> bytes:
    """The secret key that makes the research pseudonyms.

    Parameters
    ----------
    key_file : str or Path, optional
        File holding the key; its bytes, stripped of surrounding whitespace,
        are the key. When given, the environment is not read.
    env_var : str
        Environment variable holding the key when no ``key_file`` is given.

    Returns
    -------
    bytes
        The key, at least :data:`MIN_KEY_BYTES` (32) bytes long.

    Raises
    ------
    InputError
        When there is no key (never falls back to an unkeyed hash), the key
        file is missing, or the key is shorter than 32 bytes. The message
        says how to create a key.

    Warns
    -----
    PrivacyWarning
        When the key file can be read or written by the group or others.
    """
    if key_file is not None:
        path = Path(key_file)
        if not path.is_file():
            raise InputError("export key file not found", path=path, hint=_KEY_HINT)
        warn_if_shared(path, "export key file", PrivacyWarning)
        key = path.read_bytes().strip()
        where: str | Path | None = path
    else:
        key = os.environ.get(env_var, "").encode("utf-8").strip()
        if not key:
            raise InputError(
                f"no export key: the research export needs a secret key (a key file, or the {env_var} "
                "environment variable) and never falls back to an unkeyed hash",
                hint=_KEY_HINT,
            )
        where = None
    if len(key) < MIN_KEY_BYTES:
        source = "the key file" if where is not None else f"the {env_var} environment variable"
        raise InputError(
            f"the export key in {source} is {len(key)} bytes long; at least {MIN_KEY_BYTES} are needed",
            path=where,
            hint=_KEY_HINT,
        )
    return key


def pseudonym(values: pd.Series, key: bytes, *, kind: str) -> pd.Series:
    """Keyed pseudonyms of identifiers: HMAC-SHA256 of ``kind + ":" + value``.

    The kind is part of the hashed message, so a patient and a session with
    the same raw ID get unrelated pseudonyms. Each distinct value is hashed
    once. Without the key a pseudonym cannot be recomputed from an ID, which
    a plain hash of a (guessable) ID would allow (DOMAIN.md, Privacy).

    Parameters
    ----------
    values : Series
        Raw identifiers; missing values stay missing.
    key : bytes
        The secret key (at least 32 bytes), e.g. from :func:`load_key`.
    kind : {"patient", "episode", "session", "practitioner", "assessment"}
        What the values identify.

    Returns
    -------
    Series of string
        Same index and name as ``values``: the kind's prefix (``P``, ``E``,
        ``S``, ``PR`` or ``A``) followed by the first 16 hex characters (64 bits)
        of the HMAC.

    Raises
    ------
    ValueError
        For an unknown ``kind`` or a key that is not bytes of at least 32.
    """
    if kind not in PREFIXES:
        raise ValueError(f"`kind` must be one of {list(PREFIXES)}, got {kind!r}")
    key = _checked_key(key)
    codes, uniques = pd.factorize(values)
    prefix, message_start = PREFIXES[kind], f"{kind}:".encode()
    digests = np.array(
        [
            prefix + hmac.digest(key, message_start + str(value).encode(), "sha256").hex()[:PSEUDONYM_HEX_CHARS]
            for value in np.asarray(uniques, dtype=object)
        ],
        dtype=object,
    )
    if len(set(digests)) < len(digests):  # 64 bits: about 1 in 10^8 for a million IDs
        raise NeedlingAnalyticsError(f"two different {kind} IDs received the same pseudonym; use another key")
    out = np.full(len(codes), None, dtype=object)
    found = codes >= 0
    out[found] = digests[codes[found]]
    return pd.Series(out, index=values.index, name=values.name, dtype="string")


def export_research(
    clinic, out_dir: str | Path, *, key: bytes, allowed_zip3: Iterable[str] | None = None
) -> dict[str, Path]:
    """Write a de-identified copy of the clinic for research (HIPAA Safe Harbor).

    Every table is written as ``<table>.csv`` (text cells that a spreadsheet
    would run as formulas are escaped) and ``<table>.parquet``, with a
    ``README.md`` saying what was removed and how values were transformed
    (see :data:`COLUMNS` and :data:`REMOVED`). Files are created readable
    by the owner only (0600) in a folder only the owner can open (0700).

    Parameters
    ----------
    clinic : Clinic
        The loaded clinic.
    out_dir : str or Path
        Folder to create, or an empty folder, or the folder of an earlier
        research export (its files are replaced).
    key : bytes
        The secret pseudonym key (:func:`load_key`); never written out.
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
    key = _checked_key(key)
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
    readme.write_text(_readme(tables, dropped_journal, allowed), encoding="utf-8")
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


def _checked_key(key) -> bytes:
    if not isinstance(key, bytes | bytearray) or len(key) < MIN_KEY_BYTES:
        got = f"{len(key)} bytes" if isinstance(key, bytes | bytearray) else f"a {type(key).__name__}"
        # The key itself is never shown: it is a secret.
        raise ValueError(f"`key` must be bytes of at least {MIN_KEY_BYTES} (see `load_key`), got {got}")
    return bytes(key)


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


def _readme(tables: dict[str, pd.DataFrame], dropped_journal: int, allowed: frozenset[str]) -> str:
    lines = [
        "# De-identified research export",
        "",
        "Written by needling-analytics (`export_research`) following the HIPAA Safe Harbor method, "
        "45 CFR 164.514(b)(2). Each table is given as CSV (text cells starting with `=`, `+`, `-` or `@` "
        "are prefixed with `'` so that spreadsheets do not run them as formulas) and as Parquet (values unchanged).",
        "",
        "## Tables",
        "",
        "| table | rows | files |",
        "|---|---:|---|",
    ]
    lines += [f"| {name} | {len(frame):,} | `{name}.csv`, `{name}.parquet` |" for name, frame in tables.items()]
    lines += [
        "",
        f"{dropped_journal:,} journal entr{'y was' if dropped_journal == 1 else 'ies were'} left out: "
        "dated before every episode of the patient, so no day since an episode start could be given.",
        "",
        "## What was removed",
        "",
    ]
    for name, removed in REMOVED.items():
        lines += [f"- `{name}.{column}`: {reason}" for column, reason in removed.items()]
    lines += [
        "- Columns outside the data model, if the clinic's files had any: the export is an allow-list.",
        "",
        "## How each exported value was made",
        "",
    ]
    for name, columns in COLUMNS.items():
        lines += [f"### {name}", ""] + [f"- `{column}`: {how}" for column, how in columns.items()] + [""]
    lines += [
        "Days are whole calendar days counted from the start of the row's episode (the day of the first "
        "consultation is day 0). Sessions, ROM readings and questionnaires use their own episode; adverse "
        "events their session's episode; journal entries the episode described above.",
        "",
        "Ages are the start year minus the birth year (the age reached during that year), so a band can be one "
        "year older than the exact age on the day; everyone whose age is 90 or more is in `90+`.",
        "",
        f"Postcodes: {len(allowed - RESTRICTED_ZIP3)} three-digit prefix(es) were allowed by the clinic as areas "
        "of more than 20,000 people according to current Census data; every other postcode, and the 17 prefixes "
        "HHS lists as 20,000 or fewer people, is `000`. Without a population table no prefix is allowed.",
        "",
        "## Pseudonyms and the key",
        "",
        "Patient, episode, session and practitioner IDs are replaced by the first 16 hex characters of "
        "HMAC-SHA256(key, kind + ':' + ID), prefixed `P`, `E`, `S` or `PR`. The key is a secret held by the "
        "clinic and is not part of this export. The same key gives the same pseudonyms in every export, so the "
        "clinic must keep it (to link future exports to this one) and keep it secret: with the key and the clinic's "
        "IDs, anyone could re-identify the rows (45 CFR 164.514(c): the means of re-identification must not be "
        "disclosed). A different key gives unrelated pseudonyms.",
        "",
        "## Before sharing",
        "",
        "- Safe Harbor also requires that the clinic has no actual knowledge that the remaining information could "
        "identify a patient, alone or with other information (45 CFR 164.514(b)(2)(ii)). In a small clinic a rare "
        "combination (sex, age band, body region, start year) can single someone out: review rare rows first.",
        "- `muscles` is kept as recorded: check it holds only muscle names.",
        "",
        "## Sources",
        "",
        "- 45 CFR 164.514(b)(2), de-identification by the Safe Harbor method (identifiers A names, B geography, "
        "C dates and ages over 89, H medical record numbers, R other unique codes).",
        "- 45 CFR 164.514(c), re-identification codes.",
        "- HHS Office for Civil Rights, Guidance Regarding Methods for De-identification of Protected Health "
        "Information (November 2012): the three-digit ZIP codes with 20,000 or fewer people (2000 Census).",
        "",
    ]
    return "\n".join(lines)
