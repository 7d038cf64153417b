"""Foreign exports: mapping files, delimiters, decimal commas, encodings, Excel and Parquet."""

from __future__ import annotations

import datetime as dt
import textwrap
import warnings

import pandas as pd
import pytest

from needling_analytics import DataQualityWarning, load_clinic
from needling_analytics.errors import MappingError, UnreadableFileError
from needling_analytics.load import read_mapping

from .conftest import AS_OF, VALID, write_clinic

# An export from a fictional practice-management system: its own column
# names and labels, semicolons, decimal commas, day-first dates, Windows-1252.
FOREIGN = {
    "patients": """
        Client No;Year of birth;Gender;Forename;Surname
        0007;1961;Female;Renée;Dubois
        0008;1990;Male;José;Núñez
        """,
    "episodes": """
        Case;Client No;Opened;Closed;Area
        C-1;0007;03/02/2026;24/03/2026;Neck
        C-2;0008;10/02/2026;;Lower back
        """,
    "sessions": """
        Appt;Case;Client No;Clinician;Date;Outcome;Pain before;Pain after
        A1;C-1;0007;Dr Müller;03/02/2026;Arrived;7,5;6
        A2;C-1;0007;Dr Müller;10/02/2026;Did not attend;;
        A3;C-1;0007;Dr Müller;17/02/2026;Arrived;5,5;4,5
        A4;C-2;0008;Dr Müller;10/02/2026;Cancelled by clinic;;
        """,
}

MAPPING = """
delimiter: ";"
decimal: ","
encoding: cp1252
date_format: "%d/%m/%Y"
tables:
  patients:
    columns: {Client No: patient_id, Year of birth: birth_year, Gender: sex, Forename: first_name, Surname: last_name}
  episodes:
    columns: {Case: episode_id, Client No: patient_id, Opened: start_date, Closed: end_date, Area: body_region}
    values:
      body_region: {Lower back: low_back}
  sessions:
    columns:
      Appt: session_id
      Case: episode_id
      client no: patient_id   # matched regardless of case
      Clinician: practitioner_id
      Date: session_date
      Outcome: status
      Pain before: pain_pre
      Pain after: pain_post
    values:
      status: {Arrived: attended, Did not attend: no_show}
"""


@pytest.fixture
def foreign(tmp_path):
    folder = write_clinic(tmp_path / "export", FOREIGN, encoding="cp1252")
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(MAPPING, encoding="utf-8")
    return folder, mapping


def test_foreign_export_maps_onto_the_model(foreign):
    folder, mapping = foreign
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataQualityWarning)
        clinic = load_clinic(folder, mapping, as_of=AS_OF)
    assert clinic.quality.is_clean
    assert clinic.patients["patient_id"].tolist() == ["0007", "0008"]
    assert clinic.patients["first_name"].tolist() == ["Renée", "José"]
    assert clinic.patients["sex"].tolist() == ["F", "M"]
    assert clinic.episodes["body_region"].tolist() == ["neck", "low_back"]
    assert clinic.episodes["start_date"].tolist() == [pd.Timestamp("2026-02-03"), pd.Timestamp("2026-02-10")]
    assert pd.isna(clinic.episodes["end_date"].iloc[1])
    sessions = clinic.sessions
    assert sessions["status"].tolist() == ["attended", "no_show", "attended", "cancelled"]
    assert sessions["pain_pre"].tolist()[::2] == [7.5, 5.5]
    assert sessions["pain_post"].iloc[2] == 4.5
    assert sessions["practitioner_id"].iloc[0] == "Dr Müller"


def test_encoding_is_detected_without_a_mapping_setting(foreign, tmp_path):
    folder, mapping = foreign
    text = mapping.read_text().replace("encoding: cp1252\n", "")
    (tmp_path / "no-encoding.yaml").write_text(text)
    clinic = load_clinic(folder, tmp_path / "no-encoding.yaml", as_of=AS_OF)
    assert clinic.patients["first_name"].tolist() == ["Renée", "José"]
    notes = clinic.quality.tables.set_index("table").loc["patients", "notes"]
    assert "were not UTF-8 and were read as Windows-1252" in notes


def test_wrong_declared_encoding_names_the_line(foreign, tmp_path):
    folder, mapping = foreign
    (tmp_path / "utf8.yaml").write_text(mapping.read_text().replace("encoding: cp1252", "encoding: utf-8"))
    with pytest.raises(UnreadableFileError, match=r"patients.csv: line 2 is not valid utf-8"):
        load_clinic(folder, tmp_path / "utf8.yaml", as_of=AS_OF)


def test_utf8_bom_and_mixed_encodings_read_correctly(make_clinic):
    folder = make_clinic()
    text = textwrap.dedent(VALID["patients"]).lstrip()
    lines = text.splitlines()
    body = ("\ufeff" + lines[0] + "\n").encode("utf-8") + (lines[1].replace("Ana", "Zoë") + "\n").encode("utf-8")
    body += (lines[2].replace("Bob", "Chloé") + "\n").encode("cp1252")
    (folder / "patients.csv").write_bytes(body)
    clinic = load_clinic(folder, as_of=AS_OF)
    assert clinic.patients.columns[0] == "patient_id"  # BOM stripped from the header
    assert clinic.patients["first_name"].tolist() == ["Zoë", "Chloé"]


def test_semicolons_and_decimal_commas_are_sniffed_without_a_mapping(make_clinic):
    sessions = textwrap.dedent(VALID["sessions"]).strip().replace(",", ";")
    sessions = sessions.replace("upper trapezius;levator scapulae", '"upper trapezius;levator scapulae"')
    sessions += "\nS9;E2;P2;PR2;2026-02-09;;attended;4,5;3,5;;;\n"
    clinic = load_clinic(make_clinic(sessions=sessions), as_of=AS_OF)
    assert clinic.quality.is_clean
    assert clinic.sessions.set_index("session_id").loc["S9", ["pain_pre", "pain_post"]].tolist() == [4.5, 3.5]
    assert "fields are separated by ';'" in clinic.quality.tables.set_index("table").loc["sessions", "notes"]


def test_several_date_formats_are_tried_in_order(make_clinic, tmp_path):
    sessions = (
        textwrap.dedent(VALID["sessions"]).replace("2026-01-12", "12/01/2026").replace("2026-01-19", "19.01.2026")
    )
    mapping = {"tables": {"sessions": {"date_format": ["%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y"]}}}
    clinic = load_clinic(make_clinic(sessions=sessions), mapping, as_of=AS_OF)
    assert clinic.quality.is_clean
    assert clinic.sessions["session_date"].dt.strftime("%Y-%m-%d").tolist() == [
        "2026-01-05",
        "2026-01-12",
        "2026-01-19",
        "2026-02-02",
    ]


def _write_excel(path, header, rows, extra_sheet=False):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "Export"
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    if extra_sheet:
        book.create_sheet("Read me").append(["exported by PMS 4.2"])
    book.save(path)


def test_excel_with_real_date_cells(make_clinic):
    folder = make_clinic()
    (folder / "episodes.csv").unlink()
    _write_excel(
        folder / "episodes.xlsx",
        ["Episode ID", "Patient ID", "Start date", "End date", "Body region"],
        [
            ["E1", "0012", dt.datetime(2026, 1, 5), dt.date(2026, 3, 1), "Neck"],
            ["E2", "P2", dt.datetime(2026, 2, 2, 10, 30), None, "low back"],
        ],
        extra_sheet=True,
    )
    clinic = load_clinic(folder, as_of=AS_OF)
    assert clinic.quality.is_clean, clinic.quality.problems
    assert clinic.episodes["start_date"].tolist() == [pd.Timestamp("2026-01-05"), pd.Timestamp("2026-02-02")]
    assert clinic.episodes["body_region"].tolist() == ["neck", "low_back"]
    assert "other sheets ignored: ['Read me']" in clinic.quality.tables.set_index("table").loc["episodes", "notes"]


def test_excel_problems_name_the_sheet_row(make_clinic):
    folder = make_clinic()
    (folder / "episodes.csv").unlink()
    _write_excel(
        folder / "episodes.xlsx",
        ["episode_id", "patient_id", "start_date", "end_date"],
        [["E1", "0012", dt.datetime(2026, 1, 5), dt.datetime(2026, 3, 1)], ["E2", "P2", "not yet", None]],
    )
    with pytest.warns(DataQualityWarning):
        clinic = load_clinic(folder, as_of=AS_OF)
    problem = clinic.quality.problems.query("table == 'episodes'").iloc[0]
    assert (problem["line"], problem["column"], problem["rule"]) == (3, "start_date", "not_a_date")
    assert problem["location"] == "row 3 of sheet 'Export'"
    assert "episodes.xlsx row 3 of sheet 'Export': 'not yet' is not" in clinic.quality.summary()


def test_parquet_tables_keep_their_types(make_clinic):
    folder = make_clinic()
    sessions = pd.read_csv(folder / "sessions.csv", dtype={"patient_id": str}, parse_dates=["session_date"])
    (folder / "sessions.csv").unlink()
    sessions.to_parquet(folder / "sessions.parquet")
    clinic = load_clinic(folder, as_of=AS_OF)
    assert clinic.quality.is_clean
    assert clinic.sessions["patient_id"].tolist()[0] == "0012"
    assert clinic.sessions["pain_pre"].tolist()[:2] == [7.0, 5.0]


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"tables": {"visits": {}}}, r"unknown table 'visits'"),
        (
            {"tables": {"sessions": {"columns": {"Date": "visit_date"}}}},
            r"maps column 'Date' to 'visit_date', which is not a column of sessions",
        ),
        ({"tables": {"sessions": {"colums": {}}}}, r"table 'sessions': unknown key 'colums'"),
        ({"date_format": "dd/mm/yyyy"}, r"`date_format` for \* must be a strptime format"),
        ({"decimal": ";"}, r"`decimal` must be '.', ',' or 'auto'"),
        ({"delimeter": ";"}, r"unknown top-level key 'delimeter'"),
    ],
)
def test_mapping_mistakes_are_explained(mapping, message):
    with pytest.raises(MappingError, match=message):
        read_mapping(mapping)


def test_mapping_file_errors(tmp_path):
    with pytest.raises(MappingError, match=r"mapping file not found"):
        read_mapping(tmp_path / "missing.yaml")
    (tmp_path / "bad.yaml").write_text("tables: [unclosed")
    with pytest.raises(MappingError, match=r"bad.yaml: not valid YAML"):
        read_mapping(tmp_path / "bad.yaml")


def test_two_columns_mapped_to_one_are_refused(make_clinic):
    mapping = {"tables": {"patients": {"columns": {"first_name": "last_name"}}}}
    with pytest.raises(MappingError, match=r"columns 'first_name' and 'last_name' both become 'last_name'"):
        load_clinic(make_clinic(), mapping, as_of=AS_OF)


def test_mapped_file_name(make_clinic):
    folder = make_clinic()
    (folder / "sessions.csv").rename(folder / "Appointments export.csv")
    clinic = load_clinic(folder, {"tables": {"sessions": {"file": "Appointments export.csv"}}}, as_of=AS_OF)
    assert len(clinic.sessions) == 4
    with pytest.raises(
        UnreadableFileError, match=r"the mapping says table 'sessions' is in 'nope.csv', but there is no such file"
    ):
        load_clinic(folder, {"tables": {"sessions": {"file": "nope.csv"}}}, as_of=AS_OF)


def test_example_mapping_in_the_repository_is_valid():
    from pathlib import Path

    mapping = read_mapping(Path(__file__).resolve().parents[1] / "data" / "examples" / "mapping-example.yaml")
    assert mapping.for_table("sessions").columns["outcome"] == ("status",)
    assert mapping.for_table("sessions").values["status"]["did not attend"] == "no_show"
    assert mapping.for_table("episodes").date_formats == ("%d/%m/%Y",)
