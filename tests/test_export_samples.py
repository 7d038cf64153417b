"""The Cliniko and Jane App export samples and their mapping templates.

Expected values are computed here from the canonical demo tables, with
``zoneinfo`` for the time zone, not with the generator's own helpers.

The ``test_end_to_end_*`` tests load the samples with ``load_clinic`` and the
sample's ``mapping.yaml`` (``extends:``, ``timezone``, ``compute``,
``measurements``, ``episodes.derive``): they need the loader that implements
the mapping grammar of :mod:`needling_analytics.load.mapping`.
"""

from __future__ import annotations

import re
import warnings
from datetime import UTC, datetime
from importlib import resources
from zoneinfo import ZoneInfo

import openpyxl
import pandas as pd
import pytest
import yaml

from needling_analytics.cli import main
from needling_analytics.demo import DEMO_END
from needling_analytics.demo.exports import write_export
from needling_analytics.schema import TABLES

from .conftest import demo_tables

MELBOURNE = ZoneInfo("Australia/Melbourne")
END = pd.Timestamp(DEMO_END)
CLINIKO_FILES = {
    "appointments.csv",
    "patients.csv",
    "patient_cases.csv",
    "medical_alerts.csv",
    "practitioners.csv",
    "appointment_types.csv",
    "mapping.yaml",
    "excel-eu/appointments.csv",
    "workbook/appointments.xlsx",
}
CLINIKO_APPOINTMENT_FIELDS = [
    "id",
    "starts_at",
    "ends_at",
    "patient_id",
    "practitioner_id",
    "appointment_type_name",
    "patient_arrived",
    "did_not_arrive",
    "cancelled_at",
    "cancellation_reason_description",
    "notes",
    "patient_case_id",
    "Pain before (NPRS)",
    "Pain after (NPRS)",
    "Knee flexion AROM (°)",
    "Needles",
    "Muscles needled",
    "Twitch response",
]
CLINIKO_PATIENT_HEADERS = ["Patient ID", "Title", "First Name", "Last Name", "Date of Birth", "Gender", "Post Code"]
JANE_APPOINTMENT_FIELDS = [
    "id",
    "start_at",
    "end_at",
    "patient_id",
    "staff_member_id",
    "treatment_id",
    "treatment_name",
    "state",
]
JANE_STATES = {"reserved", "booked", "arrived", "no_show", "cancelled", "archived"}
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")

# The mapping grammar, as documented in needling_analytics/load/mapping/__init__.py.
TOP_KEYS = {
    "extends", "source", "password_env", "dictionary", "timezone",
    "delimiter", "decimal", "encoding", "date_format", "tables",
}  # fmt: skip
TABLE_KEYS = {
    "file", "sheet", "form", "event", "resource", "query", "columns", "constants",
    "compute", "values", "measurements", "derive", "delimiter", "decimal", "encoding", "date_format",
}  # fmt: skip
MEASUREMENT_KEYS = {"column", "table", "set", "columns"}
DERIVE_KEYS = {"new_course_types", "type_column", "region_column", "gap_days", "discharge_after_days"}
WHEN_TESTS = {"set", "blank", "true", "false", "future", "past"}


@pytest.fixture(scope="module")
def clinic():
    return demo_tables(n_patients=200, seed=4)


@pytest.fixture(scope="module")
def cliniko(clinic, tmp_path_factory):
    out = tmp_path_factory.mktemp("cliniko")
    paths = write_export("cliniko", clinic, out, seed=4)
    return out, paths


@pytest.fixture(scope="module")
def jane(clinic, tmp_path_factory):
    out = tmp_path_factory.mktemp("jane")
    paths = write_export("jane", clinic, out, seed=4)
    return out, paths


def _read(path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")


def _local_starts(sessions: pd.DataFrame) -> list[datetime]:
    return [
        datetime.strptime(f"{d:%Y-%m-%d} {t}", "%Y-%m-%d %H:%M")
        for d, t in zip(sessions["session_date"], sessions["session_time"], strict=True)
    ]


def _utc_text(local: datetime) -> str:
    return local.replace(tzinfo=MELBOURNE).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _patient_keys(canonical: pd.DataFrame, exported: pd.DataFrame, id_column: str, first: str, last: str) -> dict:
    """Canonical patient_id -> the export's patient ID, matched row by row on the names."""
    assert list(exported[first]) == list(canonical["first_name"])
    assert list(exported[last]) == list(canonical["last_name"])
    return dict(zip(canonical["patient_id"], exported[id_column], strict=True))


# --- Cliniko -------------------------------------------------------------------------------


def test_cliniko_writes_the_files_with_clinikos_column_names(cliniko):
    out, paths = cliniko
    assert {p.relative_to(out).as_posix() for p in paths} == CLINIKO_FILES
    assert all(p.exists() for p in paths)
    appointments = _read(out / "appointments.csv")
    assert set(CLINIKO_APPOINTMENT_FIELDS) <= set(appointments.columns)
    assert set(CLINIKO_PATIENT_HEADERS) <= set(_read(out / "patients.csv").columns)
    assert {"id", "patient_id", "name", "issue_date", "closed"} <= set(_read(out / "patient_cases.csv").columns)
    alerts = _read(out / "medical_alerts.csv")
    assert {"patient_id", "name"} <= set(alerts.columns) and len(alerts) > 0
    assert set(appointments["appointment_type_name"]) == {"Initial Consultation", "Standard Appointment"}
    assert set(appointments["patient_arrived"]) == {"true", "false"}
    assert set(appointments["did_not_arrive"]) == {"true", "false"}


def test_cliniko_ids_are_exact_strings_new_and_legacy(cliniko):
    out, _ = cliniko
    appointments = _read(out / "appointments.csv")
    patients = _read(out / "patients.csv")
    assert appointments["id"].str.fullmatch(r"[1-9]\d{18}").all()
    assert appointments["id"].is_unique
    assert all(int(i) > 2**53 for i in appointments["id"])
    # the raw text has the digits exactly, never 1.39e+18 or 1390726237298631770.0
    raw = (out / "appointments.csv").read_text(encoding="utf-8")
    assert "e+18" not in raw.lower() and not re.search(r"\d{19}\.0", raw)
    lengths = patients["Patient ID"].str.len()
    assert (lengths == 19).any() and lengths.between(7, 9).any() and lengths.isin([7, 8, 9, 19]).all()
    assert set(appointments["patient_id"]) <= set(patients["Patient ID"])
    cases = _read(out / "patient_cases.csv")
    assert set(appointments["patient_case_id"]) <= set(cases["id"])


def test_cliniko_starts_at_is_the_local_time_in_utc(clinic, cliniko):
    out, _ = cliniko
    appointments = _read(out / "appointments.csv")
    keys = _patient_keys(clinic["patients"], _read(out / "patients.csv"), "Patient ID", "First Name", "Last Name")
    sessions = clinic["sessions"]
    expected = pd.DataFrame(
        {
            "patient_id": sessions["patient_id"].map(keys).to_numpy(),
            "starts_at": [_utc_text(t) for t in _local_starts(sessions)],
            "status": sessions["status"].to_numpy(),
            "pain_pre": sessions["pain_pre"].to_numpy(),
        }
    )
    merged = expected.merge(appointments, on=["patient_id", "starts_at"], how="left", validate="one_to_one")
    assert merged["id"].notna().all()
    flags = {
        "attended": ("true", "false", False),
        "no_show": ("false", "true", False),
        "cancelled": ("false", "false", True),
    }
    for status, (arrived, missed, cancelled) in flags.items():
        rows = merged[merged["status"] == status]
        assert (rows["patient_arrived"] == arrived).all() and (rows["did_not_arrive"] == missed).all()
        assert ((rows["cancelled_at"] != "") == cancelled).all()
        assert ((rows["cancellation_reason_description"] != "") == cancelled).all()
    attended = merged[merged["status"] == "attended"]
    written = pd.to_numeric(attended["Pain before (NPRS)"].replace("", None)).to_numpy(dtype=float)
    assert pd.Series(written).equals(pd.Series(attended["pain_pre"].to_numpy(dtype=float)))
    # 08:00 in Melbourne is the evening before in UTC: some appointments change calendar day
    local_dates = sessions["session_date"].dt.strftime("%Y-%m-%d").to_numpy()
    assert (expected["starts_at"].str[:10].to_numpy() != local_dates).any()


def test_cliniko_has_future_bookings_without_flags_and_unmarked_past_ones(clinic, cliniko):
    out, _ = cliniko
    appointments = _read(out / "appointments.csv")
    starts = pd.to_datetime(appointments["starts_at"], format="%Y-%m-%dT%H:%M:%SZ")
    no_flags = (
        (appointments["patient_arrived"] == "false")
        & (appointments["did_not_arrive"] == "false")
        & (appointments["cancelled_at"] == "")
    )
    future = starts > END + pd.Timedelta(days=1)
    assert future.sum() > 0 and no_flags[future].all()
    assert (appointments.loc[future, "Pain before (NPRS)"] == "").all()
    unmarked = no_flags & ~future
    assert unmarked.sum() > 0
    assert len(appointments) == len(clinic["sessions"]) + future.sum() + unmarked.sum()


def test_cliniko_excel_eu_copy_is_cp1252_semicolons_and_formula_ids(cliniko):
    out, _ = cliniko
    raw = (out / "excel-eu" / "appointments.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert "(°)".encode("cp1252") in raw and b"\r\n" in raw
    lines = raw.decode("cp1252").split("\r\n")
    original = _read(out / "appointments.csv")
    assert lines[0].split(";") == list(original.columns)
    first = lines[1].split(";")
    assert re.fullmatch(r'="\d{19}"', first[0])
    ids = [line.split(";")[0] for line in lines[1:] if line]
    protected = [i[2:-1] for i in ids if i.startswith('="')]
    destroyed = [i for i in ids if not i.startswith('="')]
    assert 0 < len(destroyed) <= 10
    assert all(re.fullmatch(r"\d,\d{1,5}E\+18", i) for i in destroyed)
    assert set(protected) <= set(original["id"]) and len(protected) + len(destroyed) == len(original)
    assert re.fullmatch(r"\d{2}/\d{2}/\d{4} \d{2}:\d{2}", first[original.columns.get_loc("starts_at")])


def test_cliniko_workbook_keeps_ids_as_text(cliniko):
    out, _ = cliniko
    sheet = openpyxl.load_workbook(out / "workbook" / "appointments.xlsx", read_only=True).active
    rows = list(sheet.iter_rows(values_only=True))
    original = _read(out / "appointments.csv")
    assert list(rows[0]) == list(original.columns)
    ids = [row[0] for row in rows[1:]]
    assert all(isinstance(i, str) for i in ids) and ids == list(original["id"])
    arrived = original.columns.get_loc("patient_arrived")
    assert {row[arrived] for row in rows[1:]} == {True, False}


# --- Jane App ------------------------------------------------------------------------------


def test_jane_writes_the_api_shape(jane):
    out, paths = jane
    assert {p.name for p in paths} >= {"appointments.csv", "patients.csv", "mapping.yaml"}
    appointments = _read(out / "appointments.csv")
    patients = _read(out / "patients.csv")
    assert set(JANE_APPOINTMENT_FIELDS) <= set(appointments.columns)
    assert {"id", "patient_number", "sex", "date_of_birth"} <= set(patients.columns)
    assert set(appointments["state"]) <= JANE_STATES
    assert set(patients["sex"]) <= {"male", "female", "x", ""}
    for column in ("id", "patient_id", "staff_member_id", "treatment_id"):
        assert appointments[column].str.fullmatch(UUID).all(), column
    assert appointments["id"].is_unique
    assert appointments["start_at"].str.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:00").all()


def test_jane_times_are_local_and_states_match(clinic, jane):
    out, _ = jane
    appointments = _read(out / "appointments.csv")
    keys = _patient_keys(clinic["patients"], _read(out / "patients.csv"), "id", "first_name", "last_name")
    sessions = clinic["sessions"]
    expected = pd.DataFrame(
        {
            "patient_id": sessions["patient_id"].map(keys).to_numpy(),
            "start_at": [t.strftime("%Y-%m-%d %H:%M:%S") for t in _local_starts(sessions)],
            "status": sessions["status"].to_numpy(),
        }
    )
    merged = expected.merge(appointments, on=["patient_id", "start_at"], how="left", validate="one_to_one")
    states = {"attended": "arrived", "no_show": "no_show", "cancelled": "cancelled"}
    assert (merged["state"] == merged["status"].map(states)).all()
    future = pd.to_datetime(appointments["start_at"]) > END + pd.Timedelta(days=1)
    assert future.sum() > 0 and (appointments.loc[future, "state"] == "booked").all()
    assert (appointments.loc[future, ["arrived_at", "no_show_at", "cancelled_at"]] == "").all().all()


# --- Templates -----------------------------------------------------------------------------


def _template(name: str) -> dict:
    text = resources.files("needling_analytics.templates").joinpath(f"{name}.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def _check_grammar(mapping: dict) -> None:
    assert set(mapping) <= TOP_KEYS
    for table, spec in (mapping.get("tables") or {}).items():
        assert table in TABLES, table
        assert set(spec) <= TABLE_KEYS, (table, set(spec) - TABLE_KEYS)
        canonical = TABLES[table].column_names
        for source, target in (spec.get("columns") or {}).items():
            targets = target if isinstance(target, list) else [target]
            assert set(targets) <= set(canonical), (table, source, target)
        for column in spec.get("values") or {}:
            assert column in canonical
        for column, rule in (spec.get("compute") or {}).items():
            assert column in canonical
            if isinstance(rule, dict):
                assert set(rule) in ({"year_of"}, {"age", "at"}), rule
                continue
            assert "when" not in rule[-1], "the last rule is the otherwise"
            for step in rule:
                assert set(step) <= {"when", "value"} and "value" in step
                for test in (step.get("when") or {}).values():
                    assert isinstance(test, bool | list) or str(test) in WHEN_TESTS or isinstance(test, str | int)
        for item in spec.get("measurements") or []:
            assert set(item) <= MEASUREMENT_KEYS and item["table"] in TABLES
            assert set(item.get("set") or {}) <= set(TABLES[item["table"]].column_names)
        if "derive" in spec:
            assert table == "episodes" and set(spec["derive"]) <= DERIVE_KEYS


@pytest.mark.parametrize("name", ["cliniko", "jane"])
def test_templates_use_only_the_documented_grammar(name):
    template = _template(name)
    _check_grammar(template)
    assert "timezone" not in template and "extends" not in template
    assert template["tables"]["episodes"]["derive"]["gap_days"] == 90


@pytest.mark.parametrize("fmt", ["cliniko", "jane"])
def test_sample_mapping_extends_the_template_and_names_real_columns(fmt, cliniko, jane):
    out, _ = cliniko if fmt == "cliniko" else jane
    mapping = yaml.safe_load((out / "mapping.yaml").read_text(encoding="utf-8"))
    _check_grammar(mapping)
    assert mapping["extends"] == fmt and mapping["timezone"] == "Australia/Melbourne"
    template = _template(fmt)
    headers = {
        "sessions": set(_read(out / "appointments.csv").columns),
        "patients": set(_read(out / "patients.csv").columns),
    }
    for table, spec in [*template["tables"].items(), *mapping["tables"].items()]:
        if table not in headers:
            continue
        named = set(spec.get("columns") or {}) | {m["column"] for m in spec.get("measurements") or []}
        named |= {c for m in spec.get("measurements") or [] for c in m.get("columns") or {}}
        named |= {r["year_of"] for r in (spec.get("compute") or {}).values() if isinstance(r, dict)}
        named |= {
            c for r in (spec.get("compute") or {}).values() if isinstance(r, list) for s in r for c in s.get("when", {})
        }
        assert named <= headers[table], (table, named - headers[table])
    derive = {**template["tables"]["episodes"]["derive"], **mapping["tables"].get("episodes", {}).get("derive", {})}
    assert derive["type_column"] in headers["sessions"]
    assert set(derive["new_course_types"]) <= set(_read(out / "appointments.csv")[derive["type_column"]])


def test_cli_demo_data_writes_a_cliniko_export(tmp_path, capsys):
    out = tmp_path / "cliniko"
    assert main(["demo-data", "--format", "cliniko", "--out", str(out), "--patients", "40", "--seed", "2"]) == 0
    assert "written to" in capsys.readouterr().out
    assert {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()} == CLINIKO_FILES
    assert (out / "mapping.yaml").read_text(encoding="utf-8").startswith("#")


# --- End to end: need the loader that implements the mapping grammar ------------------------


def _sessions_key(frame: pd.DataFrame) -> list[tuple]:
    rows = frame[frame["status"].isin(["attended", "cancelled", "no_show"])]
    return sorted(
        zip(
            rows["session_date"].dt.strftime("%Y-%m-%d"),
            rows["session_time"].astype(str),
            rows["status"].astype(str),
            rows["pain_pre"].astype(float).fillna(-1),
            rows["pain_post"].astype(float).fillna(-1),
            strict=True,
        )
    )


@pytest.mark.parametrize("fmt", ["cliniko", "jane"])
def test_end_to_end_loaded_sessions_match_the_demo_clinic(fmt, clinic, cliniko, jane):
    from needling_analytics.load import load_clinic

    out, _ = cliniko if fmt == "cliniko" else jane
    loaded = load_clinic(out, out / "mapping.yaml", as_of=DEMO_END)
    sessions, canonical = loaded.tables["sessions"], clinic["sessions"]
    assert (sessions["status"] == "attended").sum() == (canonical["status"] == "attended").sum()
    assert _sessions_key(sessions) == _sessions_key(canonical)
    appointments = _read(out / "appointments.csv")
    start = "starts_at" if fmt == "cliniko" else "start_at"
    future = (pd.to_datetime(appointments[start].str[:10]) > END).sum()
    assert (sessions["status"] == "booked").sum() == future
    unmarked = len(appointments) - len(canonical) - future
    assert unmarked > 0 and (sessions["status"] == "unmarked").sum() == unmarked
    assert set(sessions["session_id"]) == set(appointments["id"])
    attended = sessions[sessions["status"] == "attended"]
    expected = canonical[canonical["status"] == "attended"]
    assert sorted(attended["needles"].dropna().astype(int)) == sorted(expected["needles"].dropna().astype(int))
    assert sorted(attended["twitch_response"].astype(str)) == sorted(expected["twitch_response"].astype(str))


@pytest.mark.parametrize("fmt", ["cliniko", "jane"])
def test_end_to_end_patients_episodes_and_knee_rom(fmt, clinic, cliniko, jane):
    from needling_analytics.load import load_clinic

    out, _ = cliniko if fmt == "cliniko" else jane
    loaded = load_clinic(out, out / "mapping.yaml", as_of=DEMO_END)
    patients = loaded.tables["patients"]
    assert sorted(patients["birth_year"].astype(int)) == sorted(clinic["patients"]["birth_year"].astype(int))
    sexes = clinic["patients"]["sex"].astype(str).replace("U", pd.NA).dropna()
    assert sorted(patients["sex"].dropna().astype(str)) == sorted(sexes)
    # every course starts with an initial consultation and no course has a 90-day gap
    gaps = clinic["sessions"].sort_values("session_date").groupby("episode_id")["session_date"].diff().dt.days
    assert gaps.max() < 90
    assert len(loaded.tables["episodes"]) == len(clinic["episodes"])
    rom, demo_rom = loaded.tables["rom"], clinic["rom"]
    knee = demo_rom[
        (demo_rom["joint"] == "knee")
        & (demo_rom["movement"] == "flexion")
        & (demo_rom["mode"] == "active")
        & (demo_rom["device"] == "goniometer")
    ]
    assert len(knee) > 0
    got = sorted(zip(rom["measured_on"].dt.strftime("%Y-%m-%d"), rom["side"].astype(str), rom["degrees"], strict=True))
    want = sorted(
        zip(knee["measured_on"].dt.strftime("%Y-%m-%d"), knee["side"].astype(str), knee["degrees"], strict=True)
    )
    assert got == want


def test_end_to_end_cliniko_patient_cases_alternative(clinic, cliniko):
    """The alternative in the template's comments: courses of care from patient_cases.csv."""
    from needling_analytics.load import load_clinic

    out, _ = cliniko
    mapping = out / "cases-mapping.yaml"
    mapping.write_text(
        "extends: mapping.yaml\n"
        "tables:\n"
        "  sessions:\n    columns: {patient_case_id: episode_id}\n"
        "  episodes:\n    derive: null\n    file: patient_cases.csv\n"
        "    columns: {id: episode_id, patient_id: patient_id, issue_date: start_date, name: condition}\n",
        encoding="utf-8",
    )
    loaded = load_clinic(out, mapping, as_of=DEMO_END)
    assert len(loaded.tables["episodes"]) == len(clinic["episodes"])
    assert sorted(loaded.tables["episodes"]["start_date"]) == sorted(clinic["episodes"]["start_date"])


def test_cli_refuses_messy_with_an_export_format(tmp_path, capsys):
    assert main(["demo-data", "--format", "jane", "--messy", "--out", str(tmp_path / "x")]) == 2
    assert "--messy cannot be combined with --format jane" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("fmt", ["cliniko", "jane"])
def test_same_seed_same_files_and_tiny_clinics_work(fmt, tmp_path):
    tables = demo_tables(n_patients=3, months=1, seed=9)
    first = write_export(fmt, tables, tmp_path / "a", seed=9)
    second = write_export(fmt, tables, tmp_path / "b", seed=9)
    assert [p.read_bytes() for p in first if p.suffix != ".xlsx"] == [
        p.read_bytes() for p in second if p.suffix != ".xlsx"
    ]


def _session_rows(clinic) -> list[tuple]:
    s = clinic.tables["sessions"]
    return sorted(
        zip(s["session_id"], s["session_date"].dt.strftime("%Y-%m-%d"), s["session_time"].astype(str),
            s["status"].astype(str), s["pain_pre"].astype(str), strict=True)
    )  # fmt: skip


@pytest.mark.parametrize(
    ("variant", "options"),
    [
        # European Excel: ';', cp1252, decimal comma, dd/mm/yyyy hh:mm that lost its Z, WAHR/FALSCH
        ("excel-eu", "    file: excel-eu/appointments.csv\n    delimiter: ';'\n    encoding: cp1252\n"
                     "    date_format: '%d/%m/%Y %H:%M'\n    source_timezone: UTC\n"),
        ("workbook", "    file: workbook/appointments.xlsx\n"),
    ],
)  # fmt: skip
def test_end_to_end_a_spreadsheet_copy_loads_the_same_sessions(variant, options, cliniko):
    """The same appointments re-saved by a spreadsheet load the same, bar the IDs it destroyed (refused)."""
    from needling_analytics.errors import DataQualityWarning
    from needling_analytics.load import load_clinic

    out, _ = cliniko
    mapping = out / f"{variant}-mapping.yaml"
    mapping.write_text(f"extends: mapping.yaml\ntables:\n  sessions:\n{options}", encoding="utf-8")
    clean = load_clinic(out, out / "mapping.yaml", as_of=DEMO_END)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        copy = load_clinic(out, mapping, as_of=DEMO_END)
    rounded = copy.quality.problems.query("rule == 'id_rounded' and table == 'sessions'")
    if variant == "excel-eu":
        text = (out / "excel-eu" / "appointments.csv").read_bytes().decode("cp1252")
        destroyed = [line.split(";")[0] for line in text.split("\r\n")[1:] if line and not line.startswith('="')]
        assert sorted(rounded["value"]) == sorted(destroyed)
    else:
        assert rounded.empty
    kept = set(copy.tables["sessions"]["session_id"])
    assert len(kept) == len(clean.tables["sessions"]) - len(rounded)
    assert _session_rows(copy) == [row for row in _session_rows(clean) if row[0] in kept]
