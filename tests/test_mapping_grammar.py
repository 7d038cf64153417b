"""The mapping grammar on a practice-management export: each feature, and each way real data went wrong.

The sample is shaped like a Cliniko appointments export (fields named as in
Cliniko's public API: ``starts_at`` in UTC with ``Z``, three attendance
flags, ``cancelled_at``, 19-digit IDs, treatment-note custom fields as
extra columns) with a Title-Case patients export beside it. Expected values
are worked out by hand in the comments: Melbourne is UTC+11 until
2026-04-05 03:00 local, then UTC+10.
"""

from __future__ import annotations

import textwrap
import warnings
from pathlib import Path

import pandas as pd
import pytest

from needling_analytics import DataQualityWarning, load_clinic
from needling_analytics.cli import main
from needling_analytics.errors import MappingError, NothingKeptError
from needling_analytics.load import read_mapping

AS_OF = "2026-06-30"
A, B, C = "1390726237298631001", "1390726237298631002", "1390726237298631003"
PR = "1390726237298630001"

PATIENTS = f"""\
Patient ID,First Name,Last Name,Date of Birth,Sex,Post Code
="{A}",Ana,Silva,1980-05-26,Female,3000
="{B}",Bob,Jones,1975-12-01,Male,3121
'{C},Cy,Lee,2001-07-04,Female,3056
"""

# id, starts_at (UTC), patient, type, arrived, did_not_arrive, cancelled_at, pain, knee flexion, side
APPOINTMENTS = [
    # A: course 1 from an Initial Consultation, 2026-03-01T22:30Z = 2026-03-02 09:30 local (+11)
    ("1390726237298631770", "2026-03-01T22:30:00Z", A, "Initial Consultation", "true", "false", "", "7", "95", "Left"),
    ("1390726237298631771", "2026-03-08T22:30:00Z", A, "Standard Appointment", "true", "false", "", "5", "110", "Left"),
    # cancelled (flag set although arrived false): 2026-03-15T23:00Z = 03-16 10:00 local
    ("1390726237298631772", "2026-03-15T23:00:00Z", A, "Standard Appointment", "false", "false",
     "2026-03-14T02:00:00Z", "", "", ""),
    # missed: 2026-03-22T22:30Z = 03-23 09:30 local
    ("1390726237298631773", "2026-03-22T22:30:00Z", A, "Standard Appointment", "false", "true", "", "", "", ""),
    # A: a new Initial Consultation starts course 2: 2026-05-03T23:00Z = 05-04 09:00 local (+10)
    ("1390726237298631774", "2026-05-03T23:00:00Z", A, "Initial Consultation", "true", "false", "", "6", "", ""),
    # A: booked in the future (after AS_OF): no flag set, course 2 stays ongoing
    ("1390726237298631775", "2026-07-05T23:00:00Z", A, "Standard Appointment", "false", "false", "", "", "", ""),
    # B: evening appointment 2026-01-05T08:00Z = 01-05 19:00 local; pain "7/10" cannot be read (cleared)
    ("1390726237298631776", "2026-01-05T08:00:00Z", B, "Initial Consultation", "true", "false", "", "7/10", "120",
     "Right"),
    # B: never marked, in the past: unmarked (not attended, not missed)
    ("1390726237298631777", "2026-01-12T08:00:00Z", B, "Standard Appointment", "false", "false", "", "", "", ""),
    # B: 118 days later, a plain appointment after a gap > 90 days: course 2. 2026-05-10T14:30Z = 05-11 00:30 local
    ("1390726237298631778", "2026-05-10T14:30:00Z", B, "Standard Appointment", "true", "false", "", "4", "", ""),
    # C: one attended visit long ago: discharged (no session within 60 days, none booked)
    ("1390726237298631779", "2026-02-01T21:00:00Z", C, "Initial Consultation", "true", "false", "", "8", "", ""),
]  # fmt: skip
HEADER = (
    "id,starts_at,ends_at,patient_id,practitioner_id,appointment_type_name,patient_arrived,did_not_arrive,"
    "cancelled_at,cancellation_reason_description,Pain before (NPRS),Knee flexion AROM (°),Side"
)

MAPPING = """\
timezone: Australia/Melbourne
tables:
  patients:
    file: patients.csv
    columns: {Patient ID: patient_id, First Name: first_name, Last Name: last_name, Sex: sex, Post Code: postcode}
    compute:
      birth_year: {year_of: Date of Birth}
  episodes:
    derive:
      new_course_types: [Initial Consultation]
      type_column: appointment_type_name
      gap_days: 90
      discharge_after_days: 60
  sessions:
    file: appointments.csv
    columns:
      id: session_id
      starts_at: [session_date, session_time]
      Pain before (NPRS): pain_pre
    compute:
      status:
        - when: {cancelled_at: set}
          value: cancelled
        - when: {did_not_arrive: true}
          value: no_show
        - when: {patient_arrived: true}
          value: attended
        - when: {starts_at: future}
          value: booked
        - value: unmarked
    measurements:
      - column: Knee flexion AROM (°)
        table: rom
        set: {joint: knee, movement: flexion, mode: active}
        columns: {Side: side}
"""


def appointments_csv(rows=APPOINTMENTS, practitioner=PR) -> str:
    lines = [HEADER]
    for r in rows:
        ends = r[1].replace(":00:00Z", ":45:00Z").replace(":30:00Z", ":59:00Z")
        lines.append(",".join([r[0], r[1], ends, r[2], practitioner, r[3], r[4], r[5], r[6], "", r[7], r[8], r[9]]))
    return "\n".join(lines) + "\n"


def export(tmp_path: Path, *, mapping=MAPPING, appointments=None, patients=PATIENTS) -> tuple[Path, Path]:
    folder = tmp_path / "cliniko"
    folder.mkdir(exist_ok=True)
    (folder / "appointments.csv").write_text(appointments or appointments_csv(), encoding="utf-8")
    (folder / "patients.csv").write_text(patients, encoding="utf-8")
    path = tmp_path / "clinic-mapping.yaml"
    path.write_text(textwrap.dedent(mapping), encoding="utf-8")
    return folder, path


def load(folder, mapping, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        return load_clinic(folder, mapping, as_of=AS_OF, **kwargs)


@pytest.fixture
def clinic(tmp_path):
    return load(*export(tmp_path))


def sessions_by_id(clinic):
    return clinic.sessions.set_index("session_id")


# -- status from three flags (the silent failure: every cancellation counted as attended) ----------


def test_status_from_three_flags_and_the_date(clinic):
    status = sessions_by_id(clinic)["status"].astype(str)
    assert status.to_dict() == {
        "1390726237298631770": "attended",
        "1390726237298631771": "attended",
        "1390726237298631772": "cancelled",
        "1390726237298631773": "no_show",
        "1390726237298631774": "attended",
        "1390726237298631775": "booked",
        "1390726237298631776": "attended",
        "1390726237298631777": "unmarked",
        "1390726237298631778": "attended",
        "1390726237298631779": "attended",
    }
    assert any("1 past appointment(s) were never marked" in fact for fact in clinic.quality.facts)


def test_a_booking_becomes_unmarked_not_attended_once_its_date_passes(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        after = load_clinic(*export(tmp_path), as_of="2026-07-10")
    assert sessions_by_id(after).loc["1390726237298631775", "status"] == "unmarked"


# -- time zones (the silent failure: 26 of 56 sessions dated a day early) --------------------------


def test_utc_timestamps_are_dated_in_the_clinic_time_zone(clinic):
    s = sessions_by_id(clinic)
    expected = {
        "1390726237298631770": ("2026-03-02", "09:30"),  # +11
        "1390726237298631776": ("2026-01-05", "19:00"),  # evening: same day
        "1390726237298631778": ("2026-05-11", "00:30"),  # +10 after DST ended: next day
        "1390726237298631779": ("2026-02-02", "08:00"),
    }
    for session_id, (day, time) in expected.items():
        assert (f"{s.loc[session_id, 'session_date']:%Y-%m-%d}", s.loc[session_id, "session_time"]) == (day, time)


def test_without_a_time_zone_offsets_are_read_as_written_and_the_report_warns(tmp_path):
    folder, mapping = export(tmp_path, mapping=MAPPING.replace("timezone: Australia/Melbourne\n", ""))
    clinic = load(folder, mapping)
    s = sessions_by_id(clinic)
    assert f"{s.loc['1390726237298631770', 'session_date']:%Y-%m-%d}" == "2026-03-01"  # the UTC day
    notes = clinic.quality.tables.set_index("table").loc["sessions", "notes"]
    assert "10 value(s) of session_date carry a UTC offset or Z and no `timezone` is set" in notes


def test_the_command_line_time_zone_overrides_the_mapping(tmp_path):
    folder, mapping = export(tmp_path)
    clinic = load(folder, mapping, timezone="America/New_York")
    # 2026-03-01T22:30Z is 17:30 in New York (EST, UTC-5)
    assert sessions_by_id(clinic).loc["1390726237298631770", "session_time"] == "17:30"
    with pytest.raises(MappingError, match=r"`timezone` 'Mars/Olympus' is not a time zone"):
        load(folder, mapping, timezone="Mars/Olympus")


# -- IDs damaged by spreadsheets ---------------------------------------------------------------------


def test_spreadsheet_protected_ids_are_repaired_and_join(clinic):
    assert sorted(clinic.patients["patient_id"]) == [A, B, C]
    assert set(clinic.sessions["patient_id"]) == {A, B, C}
    notes = clinic.quality.tables.set_index("table").loc["patients", "notes"]
    assert '3 cell(s) written as ="..." or with a leading apostrophe' in notes


def test_ids_rounded_by_a_spreadsheet_are_quarantined_and_counted(tmp_path):
    patients = PATIENTS.replace(f'="{B}"', '"1,39073E+18"')  # as Excel shows it in a decimal-comma locale
    rows = [r if r[2] != C else (r[0], r[1], "1.39073E+18", *r[3:]) for r in APPOINTMENTS]
    clinic = load(*export(tmp_path, patients=patients, appointments=appointments_csv(rows)))
    problems = clinic.quality.problems.query("rule == 'id_rounded'")
    assert problems[["table", "value"]].values.tolist() == [["patients", "1,39073E+18"], ["sessions", "1.39073E+18"]]
    assert problems["reason"].str.contains("this ID was rounded by a spreadsheet; export IDs as text").all()
    assert B not in set(clinic.patients["patient_id"])
    assert any("2 ID(s) were rounded by a spreadsheet" in fact for fact in clinic.quality.facts)


# -- an unreadable optional value costs only itself (no lost visit, no lost ROM reading) ------------


def test_an_unreadable_optional_value_is_cleared_and_the_visit_kept(clinic):
    s = sessions_by_id(clinic)
    assert pd.isna(s.loc["1390726237298631776", "pain_pre"])
    cleared = clinic.quality.problems.query("action == 'cleared'")
    assert cleared[["column", "value", "rule", "location"]].values.tolist() == [
        ["pain_pre", "7/10", "not_a_number", "line 8"]
    ]
    # its knee reading is kept too
    assert "1390726237298631776" in set(clinic.rom["session_id"])


def test_practitioner_is_optional(tmp_path):
    clinic = load(*export(tmp_path, appointments=appointments_csv(practitioner="")))
    assert clinic.sessions["practitioner_id"].isna().all()
    assert clinic.quality.rows_quarantined == 0 and len(clinic.sessions) == len(APPOINTMENTS)


# -- measurements in wide columns become rows -------------------------------------------------------


def test_a_wide_measurement_column_becomes_rom_rows(clinic):
    rom = clinic.rom.sort_values("degrees").reset_index(drop=True)
    assert rom[["session_id", "degrees", "side", "joint", "movement", "mode"]].astype(str).values.tolist() == [
        ["1390726237298631770", "95.0", "left", "knee", "flexion", "active"],
        ["1390726237298631771", "110.0", "left", "knee", "flexion", "active"],
        ["1390726237298631776", "120.0", "right", "knee", "flexion", "active"],
    ]
    assert rom["device"].isna().all()
    # each reading is dated and placed in its session's course
    s = sessions_by_id(clinic)
    for row in rom.itertuples():
        assert row.measured_on == s.loc[row.session_id, "session_date"]
        assert row.episode_id == s.loc[row.session_id, "episode_id"]


# -- courses of care derived from appointments (the silent failure: no episodes table) --------------


def test_courses_of_care_are_derived(clinic):
    e = clinic.episodes.set_index("episode_id")
    assert e.index.tolist() == [f"{A}#1", f"{A}#2", f"{B}#1", f"{B}#2", f"{C}#1"]
    days = e[["start_date", "end_date"]].apply(lambda c: c.dt.strftime("%Y-%m-%d")).fillna("ongoing")
    assert days.values.tolist() == [
        ["2026-03-02", "2026-03-09"],  # ended: a new Initial Consultation started course 2
        ["2026-05-04", "ongoing"],  # a booking is in the future
        ["2026-01-05", "2026-01-05"],  # ended: a later course started after a 118-day gap
        ["2026-05-11", "ongoing"],  # last attended 50 days before AS_OF: within 60
        ["2026-02-02", "2026-02-02"],  # nothing within 60 days, none booked
    ]
    s = sessions_by_id(clinic)["episode_id"]
    assert s.loc["1390726237298631772"] == f"{A}#1"  # the cancellation belongs to the course around it
    assert s.loc["1390726237298631777"] == f"{B}#1"  # so does the unmarked one
    notes = clinic.quality.tables.set_index("table").loc["episodes", "notes"]
    assert "a new course starts at an appointment of type 'Initial Consultation'" in notes
    assert "5 courses were derived" in notes


def test_year_of_birth_from_a_date_of_birth(clinic):
    assert clinic.patients.set_index("patient_id")["birth_year"].to_dict() == {A: 1980, B: 1975, C: 2001}


def test_year_of_birth_from_an_age_at_a_date(tmp_path):
    patients = "Patient ID,Age,Registered\nP1,46,2026-03-01\nP2,30,15/06/2020\n"
    mapping = """\
    date_format: "%d/%m/%Y"
    tables:
      patients:
        columns: {Patient ID: patient_id}
        compute:
          birth_year: {age: Age, at: Registered}
    """
    folder, path = export(tmp_path, patients=patients, mapping=mapping)
    raw = read_mapping(path)
    from needling_analytics.load.read import read_table
    from needling_analytics.load.transform import apply_mapping

    (own,) = apply_mapping(read_table(folder / "patients.csv", "patients", raw.for_table("patients")),
                           raw.for_table("patients"))  # fmt: skip
    assert own.frame["birth_year"].tolist() == ["1980", "1990"]  # 2026 - 46, 2020 - 30


def test_mapping_date_of_birth_to_birth_year_keeps_every_patient_and_says_how_to_fix_it(tmp_path):
    mapping = MAPPING.replace("    compute:\n      birth_year: {year_of: Date of Birth}\n", "").replace(
        "Post Code: postcode}", "Post Code: postcode, Date of Birth: birth_year}"
    )
    clinic = load(*export(tmp_path, mapping=mapping))
    assert len(clinic.patients) == 3
    cleared = clinic.quality.problems.query("column == 'birth_year'")
    assert len(cleared) == 3 and set(cleared["action"]) == {"cleared"}
    assert cleared["reason"].str.contains(r"compute: \{birth_year: \{year_of: COLUMN\}\}").all()


# -- a load that keeps nothing never passes ----------------------------------------------------------


def test_nothing_kept_of_a_required_table_exits_2_naming_the_rule(tmp_path, capsys):
    # the export's ID column came out blank: every patient fails, so every figure would be wrong
    patients = "\n".join(
        line.split(",", 1)[-1].join([",", ""]) if i else line for i, line in enumerate(PATIENTS.splitlines())
    )
    folder, mapping = export(tmp_path, patients=patients + "\n")
    with pytest.raises(NothingKeptError, match=r"table 'patients': none of its 3 rows was kept\. .*missing_required"):
        load(folder, mapping)
    assert main(["validate", str(folder), "--mapping", str(mapping), "--as-of", AS_OF,
                 "--out", str(tmp_path / "q")]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert "none of its 3 rows was kept" in err and "patients.csv line 2: patient_id is required but is blank" in err
    assert (tmp_path / "q" / "quality.md").is_file()  # the report is written all the same


def test_losing_most_of_a_table_to_a_cascade_exits_2(tmp_path):
    # one patient quarantined (rounded ID), and all but one appointment belongs to them
    rows = [(r[0], r[1], A, *r[3:]) for r in APPOINTMENTS[:-1]] + [APPOINTMENTS[-1]]
    patients = PATIENTS.replace(f'="{A}",Ana', f'="{A}",Ana,extra')  # a field too many: A's row is malformed
    folder, mapping = export(tmp_path, appointments=appointments_csv(rows), patients=patients)
    with pytest.raises(NothingKeptError, match=r"9 of its 10 rows were lost because rows they refer to"):
        load(folder, mapping)


# -- the mapping file checks itself ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        (
            "tables:\n  sessions:\n    file: a.csv\n    file: b.csv\n",
            r"line 4: key 'file' appears twice \(first on line 3\)",
        ),
        ("tables:\n  sessions:\n    colums: {}\n", r"line 3: table 'sessions': unknown key 'colums'"),
        (
            "tables:\n  sessions:\n    values:\n      patient_id: {P1: P2}\n",
            r"line 4: table 'sessions': `values` of 'patient_id': identifiers are never relabelled",
        ),
        ("extends: clinikoo\n", r"line 1: `extends: clinikoo` is neither a template"),
        ("timezone: Melbourne\n", r"line 1: `timezone` 'Melbourne' is not a time zone"),
        (
            "tables:\n  sessions:\n    compute:\n      status: [{when: {a: set}}]\n",
            r"line 4: table 'sessions': each rule of `compute.status` needs `value`",
        ),
        (
            "tables:\n  sessions:\n    measurements:\n      - {column: X, table: sessions}\n",
            r"line 4: table 'sessions': measurements go to",
        ),
        (
            "tables:\n  sessions:\n    derive: {gap_days: 90}\n",
            r"line 3: table 'sessions': only `episodes` can be derived",
        ),
    ],
)
def test_mapping_mistakes_name_their_line(tmp_path, mapping, message):
    path = tmp_path / "m.yaml"
    path.write_text(mapping)
    with pytest.raises(MappingError, match=message):
        read_mapping(path)


def test_a_mapped_column_the_file_lacks_names_the_mapping_line(tmp_path):
    folder, mapping = export(tmp_path, mapping=MAPPING.replace("Pain before (NPRS): pain_pre", "Pain (NPRS): pain_pre"))
    with pytest.raises(MappingError, match=r"clinic-mapping\.yaml line 19: the mapping names column 'Pain \(NPRS\)'"):
        load(folder, mapping)


# -- extends: templates and other mappings -----------------------------------------------------------


def test_extends_merges_key_by_key_and_tracks_lines_in_each_file(tmp_path):
    (tmp_path / "base.yaml").write_text(
        "date_format: '%d/%m/%Y'\ntables:\n  sessions:\n    file: a.csv\n    columns: {Appt: session_id, Day: session_date}\n"
    )
    (tmp_path / "clinic.yaml").write_text(
        "extends: base.yaml\ntables:\n  sessions:\n    columns: {Day: [session_date, session_time]}\n"
        "    constants: {twitch_response: 'no'}\n"
    )
    mapping = read_mapping(tmp_path / "clinic.yaml")
    sessions = mapping.for_table("sessions")
    assert sessions.file == "a.csv"
    assert sessions.columns == {"appt": ("session_id",), "day": ("session_date", "session_time")}
    assert sessions.constants == {"twitch_response": "no"}
    assert sessions.date_formats == ("%d/%m/%Y",)
    assert sessions.where("columns.appt") == "base.yaml line 5"
    assert sessions.where("columns.day") == "clinic.yaml line 4"
    (tmp_path / "base.yaml").write_text("extends: clinic.yaml\n")
    with pytest.raises(MappingError, match="goes round in a circle"):
        read_mapping(tmp_path / "clinic.yaml")


def test_constant_columns(tmp_path):
    mapping = MAPPING.replace(
        "      Pain before (NPRS): pain_pre\n",
        "      Pain before (NPRS): pain_pre\n    constants: {twitch_response: 'no'}\n",
    )
    clinic = load(*export(tmp_path, mapping=mapping))
    assert set(clinic.sessions["twitch_response"].astype(str)) == {"no"}


# -- duplicates compare mapped columns only ----------------------------------------------------------


def test_rows_differing_only_in_unmapped_columns_are_duplicates_not_conflicts(tmp_path):
    patients = PATIENTS + f'="{A}",Ana,Silva,1980-05-26,Female,3000,exported twice\n'
    patients = patients.replace("Post Code\n", "Post Code,Note\n", 1)
    clinic = load(*export(tmp_path, patients=patients))
    assert sorted(clinic.patients["patient_id"]) == [A, B, C]
    assert clinic.quality.tables.set_index("table").loc["patients", "duplicates_collapsed"] == 1
    assert clinic.quality.problems.query("rule == 'duplicate_id'").empty


def test_every_worked_example_in_the_data_dictionary_is_a_valid_mapping(tmp_path):
    import re

    guide = (Path(__file__).resolve().parents[1] / "docs" / "data-dictionary.md").read_text(encoding="utf-8")
    examples = re.findall(r"```yaml\n(.*?)```", guide, flags=re.S)
    assert len(examples) >= 10
    for i, example in enumerate(examples):
        path = tmp_path / f"example{i}.yaml"
        path.write_text(example, encoding="utf-8")
        read_mapping(path)  # raises MappingError on any mistake


# -- cases a review found -------------------------------------------------------------------------


def test_future_appointments_cancelled_or_booked_by_a_new_patient_are_kept(tmp_path):
    rows = [
        *APPOINTMENTS,
        # A cancels a future appointment: a cancellation may lie in the future
        ("1390726237298631780", "2026-07-20T23:00:00Z", A, "Standard Appointment", "false", "false",
         "2026-06-29T02:00:00Z", "", "", ""),
        # a new patient's first visit is booked for next month: a course starting in the future
        ("1390726237298631781", "2026-07-14T23:00:00Z", "1390726237298631004", "Initial Consultation", "false",
         "false", "", "", "", ""),
    ]  # fmt: skip
    patients = PATIENTS + "1390726237298631004,Di,Ng,1990-01-01,Female,3000\n"
    clinic = load(*export(tmp_path, appointments=appointments_csv(rows), patients=patients))
    s = sessions_by_id(clinic)
    assert s.loc["1390726237298631780", "status"] == "cancelled"
    assert s.loc["1390726237298631781", "status"] == "booked"
    e = clinic.episodes.set_index("episode_id")
    assert f"{e.loc['1390726237298631004#1', 'start_date']:%Y-%m-%d}" == "2026-07-15"
    assert pd.isna(e.loc["1390726237298631004#1", "end_date"])
    assert clinic.quality.rows_quarantined == 0


def test_a_patient_with_only_cancelled_appointments_has_a_course_that_ends(tmp_path):
    rows = [("1390726237298631790", "2026-02-01T21:00:00Z", C, "Initial Consultation", "false", "false",
             "2026-01-30T01:00:00Z", "", "", "")]  # fmt: skip
    clinic = load(*export(tmp_path, appointments=appointments_csv(APPOINTMENTS[:-1] + rows)))
    course = clinic.episodes.set_index("episode_id").loc[f"{C}#1"]
    assert (f"{course['start_date']:%Y-%m-%d}", f"{course['end_date']:%Y-%m-%d}") == ("2026-02-02", "2026-02-02")


def test_source_timezone_moves_timestamps_but_never_a_date_alone(tmp_path):
    from needling_analytics.load.coerce import parse_dates, parse_times

    values = pd.Series(["1980-01-01", "09/03/2026", "09/03/2026 02:00"], dtype=object)
    dates, bad = parse_dates(values, ("%d/%m/%Y %H:%M", "%d/%m/%Y"), "America/New_York", "UTC")
    assert not bad.any()
    # 02:00 UTC is 22:00 the evening before in New York (EDT, UTC-4, since 8 March); dates alone stay as written
    assert dates.dt.strftime("%Y-%m-%d").tolist() == ["1980-01-01", "2026-03-09", "2026-03-08"]
    times, _ = parse_times(values.iloc[2:], ("%d/%m/%Y %H:%M",), "America/New_York", "UTC")
    assert times.tolist() == ["22:00"]


def test_a_column_both_mapped_and_unpivoted_is_read_twice(tmp_path):
    mapping = MAPPING.replace("        columns: {Side: side}\n", "        columns: {Side: side}\n"
                              "      - column: Pain before (NPRS)\n        table: assessments\n")  # fmt: skip
    clinic = load(*export(tmp_path, mapping=mapping))
    assert clinic.sessions["pain_pre"].notna().sum() == 5  # every readable score, 7/10 cleared
    assert len(clinic.assessments) == 6 and clinic.assessments["pain"].notna().sum() == 5


def test_losing_most_rows_through_two_wide_columns_is_counted_per_row(tmp_path):
    # two wide columns give rom two rows per appointment; their appointments are quarantined (unknown patient)
    rows = [(f"13907262372986318{i:02d}", f"2026-03-{i + 1:02d}T22:30:00Z", "nobody", "Standard Appointment",
             "true", "false", "", "5", "100", "Left") for i in range(10)]  # fmt: skip
    mapping = MAPPING.replace("        columns: {Side: side}\n", "        columns: {Side: side}\n"
                              "      - column: Knee flexion AROM (°)\n        table: rom\n"
                              "        set: {joint: knee, movement: extension, mode: active}\n"
                              "        columns: {Side: side}\n")  # fmt: skip
    mapping = mapping.replace("movement: flexion, mode: active}", "movement: flexion, mode: passive}")
    with pytest.raises(NothingKeptError, match=r"table 'sessions': 10 of its 20 rows|20 of its"):
        load(*export(tmp_path, mapping=mapping, appointments=appointments_csv(APPOINTMENTS + rows)))


def test_a_required_table_with_no_rows_exits_2(tmp_path):
    folder, mapping = export(tmp_path, appointments=HEADER + "\n")
    with pytest.raises(NothingKeptError, match=r"table 'sessions' has no rows"):
        load(folder, mapping)


def test_an_apostrophe_in_text_is_kept_and_only_spreadsheet_ids_are_refused_as_rounded(tmp_path):
    from needling_analytics.load.coerce import rounded_ids

    patients = PATIENTS.replace("Ana,Silva", "'Tis me,O'Neil")
    clinic = load(*export(tmp_path, patients=patients))
    assert clinic.patients.set_index("patient_id").loc[A, "first_name"] == "'Tis me"
    ids = pd.Series(["12E3", "1E5", "3e01", "1,39073E+18", "1.4E+15", "1E+18", "P0001"], dtype=object)
    assert rounded_ids(ids).tolist() == [False, False, False, True, True, True, False]


def test_a_monthly_run_on_a_load_that_keeps_nothing_says_so_in_its_manifest(tmp_path, capsys):
    """The scheduler's morning read: exit status 2, and the manifest, log and quality report agree."""
    import json

    folder, mapping = export(tmp_path, appointments=HEADER + "\n")
    out = tmp_path / "reports"
    code = main(["monthly", "--month", "2026-05", "--data", str(folder), "--mapping", str(mapping), "--out", str(out),
                 "--clinic-name", "Empty"])  # fmt: skip
    assert code == 2
    assert "table 'sessions' has no rows" in capsys.readouterr().err
    run = out / "empty" / "2026-05"
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["exit_code"] == 2 and "table 'sessions' has no rows" in manifest["input_error"]
    assert "done: exit 2" in (run / "run.log").read_text()
    assert (run / "quality" / "quality.md").is_file()
