"""The de-identified research export: nothing identifying leaves, values transformed as documented."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import os
import re
import stat
import warnings

import pandas as pd
import pytest

from needling_analytics.clinic import Clinic
from needling_analytics.errors import InputError
from needling_analytics.privacy import (
    COLUMNS,
    REMOVED,
    KeyFileWarning,
    PrivacyWarning,
    export_research,
    load_key,
    pseudonym,
)
from needling_analytics.schema import TABLES

from .conftest import demo_tables

KEY = b"0123456789abcdef0123456789abcdef"  # 32 bytes
OTHER_KEY = b"fedcba9876543210fedcba9876543210"

NAMES = ["Zelda", "Quixote", "Yannick", "Wobbleton", "Xaviera", "Vandermeer"]
NOTES = ["farm", "bruised", "tattoo", "walked", "Juniper"]
RAW_IDS = ["PATIENT-", "EPISODE-", "SESSION-", "PRACT-", "@SUM(", "ASSESS-"]
POSTCODES = ["02134", "10001", "05901"]
HYPERLINK = '=HYPERLINK("http://evil.example/x","click")'
DATE = re.compile(rb"\d{4}-\d{2}-\d{2}")


def _clinic() -> Clinic:
    patients = pd.DataFrame(
        {
            "patient_id": ["PATIENT-ALPHA", "PATIENT-BRAVO", "PATIENT-CHARLIE", "PATIENT-DELTA"],
            "birth_year": [1936, 1980, 1990, None],
            "sex": ["F", "M", "X", "U"],
            "first_name": ["Zelda", "Yannick", "Xaviera", None],
            "last_name": ["Quixote", "Wobbleton", "Vandermeer", None],
            "postcode": ["02134", "10001", "05901", None],
        }
    )
    episodes = pd.DataFrame(
        {
            "episode_id": ["EPISODE-A1", "EPISODE-A2", "EPISODE-B1"],
            "patient_id": ["PATIENT-ALPHA", "PATIENT-ALPHA", "PATIENT-BRAVO"],
            "start_date": ["2025-03-10", "2026-02-02", "2026-01-05"],
            "end_date": ["2025-04-14", None, "2026-03-01"],
            "body_region": ["neck", "low_back", "knee"],
            "condition": ["neck pain after a fall at the farm", "back pain", "knee pain at Juniper gym"],
            "symptom_duration_weeks": [4.0, 10.0, 52.0],
        }
    )
    sessions = pd.DataFrame(
        {
            "session_id": ["SESSION-A1-1", "SESSION-A1-2", "SESSION-A2-1", "SESSION-B1-1", "SESSION-B1-2"],
            "episode_id": ["EPISODE-A1", "EPISODE-A1", "EPISODE-A2", "EPISODE-B1", "EPISODE-B1"],
            "patient_id": ["PATIENT-ALPHA"] * 3 + ["PATIENT-BRAVO"] * 2,
            "practitioner_id": ["PRACT-OAK", "PRACT-OAK", "@SUM(PRACT)", "PRACT-OAK", "PRACT-ELM"],
            "session_date": ["2025-03-10", "2025-03-24", "2026-02-09", "2026-01-05", "2026-02-16"],
            "session_time": ["09:15", "10:45", "11:05", "13:35", "16:55"],
            "status": ["attended", "attended", "attended", "attended", "cancelled"],
            "pain_pre": [7.0, 5.0, 6.0, 4.0, None],
            "muscles": ["upper trapezius", HYPERLINK, "multifidus", "vastus lateralis", None],
        }
    )
    rom = pd.DataFrame(
        {
            "patient_id": ["PATIENT-ALPHA"],
            "episode_id": ["EPISODE-A1"],
            "measured_on": ["2025-03-24"],
            "joint": ["cervical_spine"],
            "movement": ["rotation"],
            "side": ["left"],
            "degrees": [60.0],
            "session_id": ["SESSION-A1-2"],
            "rater_id": ["PRACT-OAK"],
        }
    )
    proms = pd.DataFrame(
        {
            "patient_id": ["PATIENT-BRAVO"],
            "episode_id": ["EPISODE-B1"],
            "completed_on": ["2026-03-01"],
            "instrument": ["ODI"],
            "score": [20.0],
        }
    )
    adverse_events = pd.DataFrame(
        {
            "session_id": ["SESSION-A1-1"],
            "patient_id": ["PATIENT-ALPHA"],
            "event_type": ["bruising"],
            "severity": ["mild"],
            "resolved_days": [3.0],
            "notes": ["Zelda bruised next to her tattoo"],
        }
    )
    journal = pd.DataFrame(
        {
            "patient_id": ["PATIENT-ALPHA"] * 4 + ["PATIENT-BRAVO"] * 2,
            "entry_date": ["2025-03-01", "2025-03-12", "2025-06-01", "2026-02-05", "2026-01-04", "2026-03-10"],
            "pain": [8.0, 6.0, 3.0, 5.0, 7.0, 2.0],
            "activity_note": ["walked to the farm", None, "walked with Yannick", None, None, "gym at Juniper"],
        }
    )
    assessments = pd.DataFrame(
        {
            "patient_id": ["PATIENT-ALPHA", "PATIENT-BRAVO"],
            "episode_id": ["EPISODE-A1", "EPISODE-B1"],
            "assessed_on": ["2025-03-31", "2026-01-19"],
            "pain": [3.0, 2.0],
            "global_change": [2.0, None],
            "global_change_scale": ["grc7", None],
            "assessment_id": ["ASSESS-1", None],
        }
    )
    return Clinic.from_frames(
        patients=patients,
        episodes=episodes,
        sessions=sessions,
        rom=rom,
        proms=proms,
        adverse_events=adverse_events,
        assessments=assessments,
        journal=journal,
    )


def _hmac_id(key: bytes, kind: str, raw: str) -> str:
    return hmac.new(key, f"{kind}:{raw}".encode(), hashlib.sha256).hexdigest()[:16]


@pytest.fixture
def exported(tmp_path):
    files = export_research(_clinic(), tmp_path / "export", key=KEY)
    return tmp_path / "export", files


def _read(folder, table: str) -> pd.DataFrame:
    return pd.read_parquet(folder / f"{table}.parquet")


# ---------------------------------------------------------------- nothing identifying leaves


def test_no_identifier_in_any_file(exported):
    folder, files = exported
    assert sorted(p.name for p in folder.iterdir()) == sorted(files)
    assert len(files) == 2 * 8 + 1
    for path in folder.iterdir():
        blobs = [path.read_bytes()]
        if path.suffix == ".parquet":  # compressed pages: scan the decoded values and column names too
            frame = pd.read_parquet(path)
            blobs.append((",".join(frame.columns) + "\n" + frame.to_csv(index=False)).encode())
        for blob in blobs:
            lower = blob.lower()
            for text in NAMES + NOTES:
                assert text.lower().encode() not in lower, (path.name, text)
            for text in RAW_IDS + POSTCODES + ["1936", "1980", "09:15", "13:35"]:
                assert text.encode() not in blob, (path.name, text)
            assert not DATE.search(blob), (path.name, DATE.search(blob).group())
            assert KEY not in blob


def test_columns_follow_the_documented_plan(exported):
    folder, _ = exported
    for name, spec in TABLES.items():
        documented = set(COLUMNS[name]) | set(REMOVED[name])
        assert set(spec.column_names) <= documented, name
        assert not set(COLUMNS[name]) & set(REMOVED[name]), name
        with (folder / f"{name}.csv").open(newline="") as handle:
            assert next(csv.reader(handle)) == list(COLUMNS[name])
        assert _read(folder, name).columns.tolist() == list(COLUMNS[name])


def test_row_counts_and_readme(exported):
    folder, _ = exported
    counts = {name: len(_read(folder, name)) for name in COLUMNS}
    # Journal: 2025-03-01 (before ALPHA's first episode) and 2026-01-04 (before BRAVO's) are left out.
    assert counts == {
        "patients": 4,
        "episodes": 3,
        "sessions": 5,
        "rom": 1,
        "proms": 1,
        "adverse_events": 1,
        "assessments": 2,
        "journal": 4,
    }
    readme = (folder / "README.md").read_text()
    assert "| journal | 4 |" in readme and "| sessions | 5 |" in readme
    assert "2 journal entries were left out" in readme
    assert "164.514(b)(2)" in readme and "164.514(c)" in readme
    assert "`patients.first_name`" in readme and "`adverse_events.notes`" in readme
    assert "`sessions.session_time`" in readme
    assert "keep it secret" in readme and "link future exports" in readme


# ---------------------------------------------------------------- pseudonyms


def test_pseudonyms_are_keyed_hmac_not_plain_hash(exported):
    folder, _ = exported
    patients = _read(folder, "patients")
    expected = "P" + _hmac_id(KEY, "patient", "PATIENT-ALPHA")
    assert patients["patient_id"].iloc[0] == expected
    digest = expected[1:]
    assert digest != hashlib.sha256(b"PATIENT-ALPHA").hexdigest()[:16]
    assert digest != hashlib.sha256(b"patient:PATIENT-ALPHA").hexdigest()[:16]
    sessions = _read(folder, "sessions")
    assert sessions["session_id"].iloc[0] == "S" + _hmac_id(KEY, "session", "SESSION-A1-1")
    assert sessions["practitioner_id"].iloc[0] == "PR" + _hmac_id(KEY, "practitioner", "PRACT-OAK")
    assert sessions["episode_id"].iloc[2] == "E" + _hmac_id(KEY, "episode", "EPISODE-A2")
    assert sessions["practitioner_id"].nunique() == 3  # OAK, @SUM(PRACT), ELM
    # A rater is a practitioner: same pseudonym in both tables.
    assert _read(folder, "rom")["rater_id"].iloc[0] == sessions["practitioner_id"].iloc[0]


def test_same_key_same_export_other_key_other_pseudonyms(tmp_path, exported):
    folder, _ = exported
    again = tmp_path / "again"
    export_research(_clinic(), again, key=KEY)
    for name in COLUMNS:
        assert (folder / f"{name}.csv").read_bytes() == (again / f"{name}.csv").read_bytes()
    other = tmp_path / "other"
    export_research(_clinic(), other, key=OTHER_KEY)
    for name, column in [("patients", "patient_id"), ("episodes", "episode_id"), ("sessions", "session_id")]:
        first, second = set(_read(folder, name)[column]), set(_read(other, name)[column])
        assert len(first) == len(second) > 0
        assert not first & second


def test_pseudonym_kinds_missing_values_and_errors():
    values = pd.Series(["X1", None, "X1", "X2"], index=[10, 11, 12, 13], name="id")
    patient = pseudonym(values, KEY, kind="patient")
    session = pseudonym(values, KEY, kind="session")
    assert patient.index.tolist() == [10, 11, 12, 13] and patient.name == "id"
    assert patient.iloc[0] == patient.iloc[2] == "P" + _hmac_id(KEY, "patient", "X1")
    assert pd.isna(patient.iloc[1]) and pd.isna(session.iloc[1])
    assert session.iloc[0] == "S" + _hmac_id(KEY, "session", "X1")
    assert patient.iloc[0][1:] != session.iloc[0][1:]  # same raw ID, different kinds
    assert pseudonym(pd.Series([], dtype="string"), KEY, kind="episode").empty
    with pytest.raises(ValueError, match=r"`kind` must be one of .* got 'rater'"):
        pseudonym(values, KEY, kind="rater")
    with pytest.raises(ValueError, match=r"`key` must be bytes of at least 32 .* got 31 bytes"):
        pseudonym(values, KEY[:31], kind="patient")
    with pytest.raises(ValueError, match=r"got a str"):
        pseudonym(values, KEY.decode(), kind="patient")


# ---------------------------------------------------------------- dates, ages, postcodes


def test_days_since_episode_start(exported):
    folder, _ = exported
    episodes = _read(folder, "episodes")
    assert episodes["start_year"].tolist() == [2025, 2026, 2026]
    # A1 2025-03-10 -> 2025-04-14: 21 days left in March + 14 = 35; B1 2026-01-05 -> 2026-03-01: 26 + 28 + 1 = 55.
    assert episodes["end_day"].tolist()[0] == 35 and pd.isna(episodes["end_day"].iloc[1])
    assert episodes["end_day"].iloc[2] == 55
    # Sessions: day 0; 2025-03-24 is 14 days after 03-10; 2026-02-09 is 7 after 02-02; 2026-02-16 is 26 + 16 = 42 after 01-05.
    assert _read(folder, "sessions")["session_day"].tolist() == [0, 14, 7, 0, 42]
    assert _read(folder, "rom")["measured_day"].tolist() == [14]
    assert _read(folder, "proms")["completed_day"].tolist() == [55]
    events = _read(folder, "adverse_events")
    assert events["episode_id"].tolist() == ["E" + _hmac_id(KEY, "episode", "EPISODE-A1")]


def test_journal_linked_to_containing_or_latest_earlier_episode(exported):
    folder, _ = exported
    journal = _read(folder, "journal")
    a1, a2, b1 = ("E" + _hmac_id(KEY, "episode", e) for e in ("EPISODE-A1", "EPISODE-A2", "EPISODE-B1"))
    # 2025-03-12: in A1, day 2. 2025-06-01: after A1 ended (no episode contains it) -> A1, 21 + 30 + 31 + 1 = 83.
    # 2026-02-05: in the ongoing A2, day 3. 2026-03-10: after B1 ended -> B1, 26 + 28 + 10 = 64.
    assert journal["episode_id"].tolist() == [a1, a1, a2, b1]
    assert journal["entry_day"].tolist() == [2, 83, 3, 64]
    assert journal["pain"].tolist() == [6.0, 3.0, 5.0, 2.0]


def test_journal_overlapping_episodes_prefer_containing_then_latest(tmp_path):
    clinic = Clinic.from_frames(
        patients=pd.DataFrame({"patient_id": ["PX"]}),
        episodes=pd.DataFrame(
            {
                "episode_id": ["EX-OPEN", "EX-A-SHORT"],
                "patient_id": ["PX", "PX"],
                "start_date": ["2025-01-01", "2025-06-01"],
                "end_date": [None, "2025-06-30"],
            }
        ),
        sessions=pd.DataFrame(
            {
                "session_id": ["S1"],
                "episode_id": ["EX-OPEN"],
                "patient_id": ["PX"],
                "practitioner_id": ["PR1"],
                "session_date": ["2025-01-01"],
            }
        ),
        journal=pd.DataFrame({"patient_id": ["PX", "PX"], "entry_date": ["2025-06-10", "2025-08-01"], "pain": [4, 3]}),
    )
    export_research(clinic, tmp_path / "x", key=KEY)
    journal = _read(tmp_path / "x", "journal")
    open_, short = ("E" + _hmac_id(KEY, "episode", e) for e in ("EX-OPEN", "EX-A-SHORT"))
    # 2025-06-10 lies in both: the later-starting EX-A-SHORT, day 9. 2025-08-01 lies only in the open
    # EX-OPEN (EX-A-SHORT started later but ended): 31 + 28 + 31 + 30 + 31 + 30 + 31 = 212 days after 01-01.
    assert journal["episode_id"].tolist() == [short, open_]
    assert journal["entry_day"].tolist() == [9, 212]
    assert "0 journal entries were left out" in (tmp_path / "x" / "README.md").read_text()


def test_age_bands(exported):
    folder, _ = exported
    # ALPHA born 1936: 2025 - 1936 = 89 -> "85-89"; 2026 - 1936 = 90 -> "90+". BRAVO 2026 - 1980 = 46 -> "45-49".
    episodes = _read(folder, "episodes")
    assert episodes["age_band"].astype(str).tolist() == ["85-89", "90+", "45-49"]
    patients = _read(folder, "patients")
    # Age at the first episode; CHARLIE has no episode and DELTA no birth year: unknown.
    assert patients["age_band"].iloc[:2].astype(str).tolist() == ["85-89", "45-49"]
    assert patients["age_band"].iloc[2:].isna().all()
    assert "birth_year" not in patients


def test_postcodes_dropped_unless_prefix_allowed(exported, tmp_path):
    folder, _ = exported
    zip3 = _read(folder, "patients")["zip3"]
    assert zip3.iloc[:3].tolist() == ["000", "000", "000"] and pd.isna(zip3.iloc[3])
    with pytest.warns(PrivacyWarning, match=r"\['059'\].*20,000 or fewer"):
        export_research(_clinic(), tmp_path / "zip", key=KEY, allowed_zip3={"021", "059"})
    zip3 = _read(tmp_path / "zip", "patients")["zip3"]
    # 021 allowed; 100 not in the set; 059 allowed by the caller but restricted by HHS.
    assert zip3.iloc[:3].tolist() == ["021", "000", "000"]
    with pytest.raises(ValueError, match=r"`allowed_zip3` must be a collection .* got the string '021'"):
        export_research(_clinic(), tmp_path / "bad", key=KEY, allowed_zip3="021")
    with pytest.raises(ValueError, match=r"`allowed_zip3` must hold 3-character prefixes .* got '21'"):
        export_research(_clinic(), tmp_path / "bad", key=KEY, allowed_zip3=["21"])


# ---------------------------------------------------------------- spreadsheets and files


def test_formula_cells_neutralised_in_csv(exported):
    folder, _ = exported
    rows = list(csv.DictReader(io.StringIO((folder / "sessions.csv").read_text())))
    assert rows[1]["muscles"] == "'" + HYPERLINK
    assert rows[0]["muscles"] == "upper trapezius"
    assert not any(cell.startswith(("=", "+", "@")) for row in rows for cell in row.values())
    assert _read(folder, "sessions")["muscles"].iloc[1] == HYPERLINK  # Parquet keeps the value


def test_file_and_folder_modes(exported, tmp_path):
    folder, files = exported
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for path in files.values():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    # A loosened folder and file of an earlier export are tightened again, even with umask 0.
    os.chmod(folder / "patients.csv", 0o644)
    os.chmod(folder, 0o755)
    old_umask = os.umask(0)
    try:
        export_research(_clinic(), folder, key=KEY)
    finally:
        os.umask(old_umask)
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in folder.iterdir())
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_refuses_a_folder_with_other_files_and_a_short_key(tmp_path):
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "holiday.jpg").write_bytes(b"x")
    with pytest.raises(InputError, match=r"not part of a research export \(holiday.jpg\)"):
        export_research(_clinic(), busy, key=KEY)
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="not a folder"):
        export_research(_clinic(), tmp_path / "file", key=KEY)
    with pytest.raises(ValueError, match=r"`key` must be bytes of at least 32 .* got 16 bytes"):
        export_research(_clinic(), tmp_path / "short", key=KEY[:16])
    assert not (tmp_path / "short").exists()


# ---------------------------------------------------------------- the key


def test_load_key_refuses_to_run_without_a_key(monkeypatch):
    monkeypatch.delenv("NEEDLING_EXPORT_KEY", raising=False)
    with pytest.raises(InputError, match=r"no export key.*never falls back to an unkeyed hash") as info:
        load_key()
    message = str(info.value)
    assert 'python -c "import secrets; print(secrets.token_hex(32))" > export.key' in message
    assert "chmod 600 export.key" in message
    monkeypatch.setenv("NEEDLING_EXPORT_KEY", "   ")
    with pytest.raises(InputError, match="no export key"):
        load_key()


def test_load_key_from_environment(monkeypatch):
    monkeypatch.setenv("MY_KEY", " " + "a" * 64 + "\n")
    assert load_key(env_var="MY_KEY") == b"a" * 64
    monkeypatch.setenv("MY_KEY", "a" * 20)
    with pytest.raises(InputError, match=r"the key in the MY_KEY environment variable is 20 bytes long; at least 32"):
        load_key(env_var="MY_KEY")


def test_load_key_from_file(tmp_path, monkeypatch):
    monkeypatch.setenv("NEEDLING_EXPORT_KEY", "b" * 64)  # a key file wins over the environment
    path = tmp_path / "export.key"
    path.write_bytes(b"\n  " + b"c" * 32 + b"  \n")
    os.chmod(path, 0o600)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_key(key_file=path) == b"c" * 32
    path.write_bytes(b"c" * 31 + b"\n")
    with pytest.raises(InputError, match=r"export.key: the key in the key file is 31 bytes long"):
        load_key(key_file=path)
    with pytest.raises(InputError, match=r"(?s)missing.key: key file not found.*secrets.token_hex"):
        load_key(key_file=tmp_path / "missing.key")


def test_load_key_warns_about_a_readable_key_file(tmp_path):
    path = tmp_path / "export.key"
    path.write_bytes(b"d" * 64)
    os.chmod(path, 0o644)
    with pytest.warns(KeyFileWarning, match=r"can be read by other users \(mode 644\).*chmod 600"):
        assert load_key(key_file=path) == b"d" * 64


# ---------------------------------------------------------------- a generated clinic


def test_generated_clinic_invariants(tmp_path, demo_clinic):
    clinic = demo_clinic
    export_research(clinic, tmp_path / "demo", key=KEY)
    out = {name: _read(tmp_path / "demo", name) for name in COLUMNS}
    for name in COLUMNS:
        if name != "journal":
            assert len(out[name]) == len(clinic.tables[name]), name
    assert 0 < len(out["journal"]) <= len(clinic.journal)
    patterns = {"patient_id": r"P[0-9a-f]{16}", "episode_id": r"E[0-9a-f]{16}", "session_id": r"S[0-9a-f]{16}"}
    for frame in out.values():
        for column, pattern in patterns.items():
            if column in frame:
                assert frame[column].dropna().str.fullmatch(pattern).all(), column
    assert out["sessions"]["practitioner_id"].str.fullmatch(r"PR[0-9a-f]{16}").all()
    assert out["patients"]["patient_id"].is_unique and out["sessions"]["session_id"].is_unique
    assert set(out["sessions"]["episode_id"]) <= set(out["episodes"]["episode_id"])
    assert set(out["journal"]["episode_id"]) <= set(out["episodes"]["episode_id"])
    assert (out["sessions"]["session_day"] >= 0).all() and (out["journal"]["entry_day"] >= 0).all()
    assert set(out["patients"]["zip3"].dropna()) == {"000"}
    raw_ids = set(clinic.patients["patient_id"]) | set(clinic.sessions["session_id"])
    for path in (tmp_path / "demo").glob("*.csv"):
        text = path.read_text()
        assert not DATE.search(text.encode()), path.name
        assert not any(re.search(rf"\b{re.escape(raw)}\b", text) for raw in list(raw_ids)[:50]), path.name


def test_export_command_refuses_without_a_key_and_works_with_one(tmp_path, monkeypatch, capsys):
    from needling_analytics.cli import main
    from needling_analytics.demo import write_clinic

    monkeypatch.delenv("NEEDLING_EXPORT_KEY", raising=False)
    write_clinic(demo_tables(n_patients=20, seed=3), tmp_path / "data")
    assert main(["export", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "out")]) == 2
    assert "secrets.token_hex(32)" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    key = tmp_path / "export.key"
    key.write_text("a" * 64)
    key.chmod(0o600)
    assert (
        main(["export", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "out"), "--key-file", str(key)]) == 0
    )
    assert (tmp_path / "out" / "README.md").is_file() and (tmp_path / "out" / "sessions.parquet").is_file()


def test_assessments_are_exported_with_days_and_pseudonyms(exported):
    folder, _ = exported
    table = _read(folder, "assessments")
    # 2025-03-31 is 21 days after EPISODE-A1's start (2025-03-10); 2026-01-19 is 14 days after EPISODE-B1's
    assert table["assessed_day"].tolist() == [21, 14]
    assert table["pain"].tolist() == [3.0, 2.0]
    assert table["patient_id"].tolist() == ["P" + _hmac_id(KEY, "patient", "PATIENT-ALPHA"),
                                            "P" + _hmac_id(KEY, "patient", "PATIENT-BRAVO")]  # fmt: skip
    assert table["episode_id"].iloc[0] == "E" + _hmac_id(KEY, "episode", "EPISODE-A1")
    assert table["assessment_id"].iloc[0] == "A" + _hmac_id(KEY, "assessment", "ASSESS-1")
    assert pd.isna(table["assessment_id"].iloc[1])
    assert "assessed_on" not in table.columns
