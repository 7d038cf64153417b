"""Loading and validation: every rule, its message, and nothing lost."""

from __future__ import annotations

import re
import textwrap
import warnings

import numpy as np
import pandas as pd
import pytest

from needling_analytics import DataQualityWarning, load_clinic
from needling_analytics.errors import MissingColumnsError, MissingTableError, UnreadableFileError
from needling_analytics.load import RULES, output_schema
from needling_analytics.schema import TABLES

from .conftest import AS_OF, VALID


def load(folder, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        return load_clinic(folder, as_of=AS_OF, **kwargs)


def plus(table: str, *rows: str) -> str:
    """The valid table's CSV text with ``rows`` appended."""
    return textwrap.dedent(VALID[table]).strip("\n") + "\n" + "\n".join(rows) + "\n"


def test_valid_clinic_loads_clean_with_typed_columns(make_clinic):
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataQualityWarning)
        clinic = load_clinic(make_clinic(), as_of=AS_OF)
    assert clinic.quality.is_clean
    assert set(clinic.supplied) == set(TABLES)
    for name, spec in TABLES.items():
        output_schema(spec).validate(clinic.tables[name])
        assert list(clinic.tables[name].columns) == spec.column_names
    # IDs stay text: the leading zeros of patient 0012 and postcode 02134 survive
    assert clinic.patients["patient_id"].tolist() == ["0012", "P2"]
    assert clinic.patients["postcode"].tolist()[0] == "02134"
    assert clinic.sessions["session_date"].dtype == "datetime64[ns]"
    assert clinic.sessions["status"].tolist() == ["attended", "attended", "cancelled", "attended"]
    assert clinic.sessions["pain_pre"].iloc[0] == 7.0 and np.isnan(clinic.sessions["pain_pre"].iloc[2])
    assert clinic.sessions["needles"].dtype == "Int64"
    counts = clinic.quality.tables.set_index("table")
    assert counts.loc["sessions", ["rows_read", "rows_kept", "rows_quarantined"]].tolist() == [4, 4, 0]


def test_optional_tables_may_be_missing(make_clinic):
    clinic = load(make_clinic(rom=None, proms=None, adverse_events=None, assessments=None, journal=None))
    assert clinic.supplied == ("patients", "episodes", "sessions")
    assert not clinic.has("rom") and clinic.has("sessions")
    assert clinic.rom.empty and list(clinic.rom.columns) == TABLES["rom"].column_names
    output_schema(TABLES["rom"]).validate(clinic.rom)


# Each case: table, bad row appended, its line, column, value as written, rule, reason pattern.
RULE_CASES = [
    (
        "sessions",
        "S9,E1,0012,PR1,,,attended,5,4,,,",
        6,
        "session_date",
        "",
        "missing_required",
        r"session_date is required but is blank",
    ),
    (
        "sessions",
        "S9,E1,0012,PR1,2026-01-20,,attended,seven,4,,,",
        6,
        "pain_pre",
        "seven",
        "not_a_number",
        r"'seven' is not a number",
    ),
    (
        "sessions",
        "S9,E1,0012,PR1,2026-01-20,,attended,5,4,2.5,,",
        6,
        "needles",
        "2.5",
        "not_a_whole_number",
        r"'2.5' is not a whole number",
    ),
    (
        "sessions",
        "S9,E1,0012,PR1,2026-13-05,,attended,5,4,,,",
        6,
        "session_date",
        "2026-13-05",
        "not_a_date",
        r"'2026-13-05' is not an ISO date",
    ),
    (
        "sessions",
        "S9,E1,0012,PR1,20/01/2026,,attended,5,4,,,",
        6,
        "session_date",
        "20/01/2026",
        "not_a_date",
        r"set `date_format` in a mapping",
    ),
    (
        "sessions",
        "S9,E1,0012,PR1,2026-01-20,25:00,attended,5,4,,,",
        6,
        "session_time",
        "25:00",
        "not_a_time",
        r"not a time of day",
    ),
    (
        "sessions",
        "S9,E1,0012,PR1,2026-01-20,,attnded,5,4,,,",
        6,
        "status",
        "attnded",
        "not_allowed",
        r"'attnded' is not an allowed status; use one of: attended, cancelled, no_show",
    ),
    (
        "sessions",
        "S9,E1,0012,PR1,2026-01-20,,attended,11,4,,,",
        6,
        "pain_pre",
        "11",
        "out_of_range",
        r"11 is outside the allowed range 0 to 10",
    ),
    (
        "sessions",
        "S9,E1,0012,PR1,2026-01-20,,attended,5,-1,,,",
        6,
        "pain_post",
        "-1",
        "out_of_range",
        r"-1 is outside the allowed range 0 to 10",
    ),
    (
        "sessions",
        "S9,E2,P2,PR1,2031-01-20,,attended,5,4,,,",
        6,
        "session_date",
        "2031-01-20",
        "future_date",
        r"after the as-of date 2026-11-28",
    ),
    (
        "sessions",
        "S9,E1,0012,PR1,2026-03-20,,attended,5,4,,,",
        6,
        "session_date",
        "2026-03-20",
        "outside_episode",
        r"outside episode 'E1' \(2026-01-05 to 2026-03-01\)",
    ),
    (
        "sessions",
        "S9,E1,0012,PR1,2025-12-20,,attended,5,4,,,",
        6,
        "session_date",
        "2025-12-20",
        "outside_episode",
        r"outside episode 'E1'",
    ),
    (
        "sessions",
        "S9,E7,0012,PR1,2026-01-20,,attended,5,4,,,",
        6,
        "episode_id",
        "E7",
        "unknown_episode",
        r"episode_id 'E7' is not in the episodes table",
    ),
    (
        "sessions",
        "S9,E1,P2,PR1,2026-01-20,,attended,5,4,,,",
        6,
        "patient_id",
        "P2",
        "patient_mismatch",
        r"patient_id 'P2' differs from the patient of episode 'E1' \('0012'\)",
    ),
    (
        "sessions",
        "S9,E1,P404,PR1,2026-01-20,,attended,5,4,,,",
        6,
        "patient_id",
        "P404",
        "unknown_patient",
        r"patient_id 'P404' is not in the patients table",
    ),
    (
        "sessions",
        "S9,E1,0012,PR1,2026-01-20,,attended,5,4,,,,extra",
        6,
        "(whole record)",
        "",
        "malformed_record",
        r"the record has 13 fields but the header has 12",
    ),
    (
        "patients",
        "P3,2030,F,,,",
        4,
        "birth_year",
        "2030",
        "out_of_range",
        r"2030 is outside the allowed range 1900 to 2026",
    ),
    ("patients", "P3,1970,female?,,,", 4, "sex", "female?", "not_allowed", r"not an allowed sex"),
    (
        "episodes",
        "E3,P2,2026-05-01,2026-04-01,knee,,,",
        4,
        "end_date",
        "2026-04-01",
        "end_before_start",
        r"end_date 2026-04-01 is before start_date 2026-05-01",
    ),
    (
        "episodes",
        "E3,P404,2026-05-01,,knee,,,",
        4,
        "patient_id",
        "P404",
        "unknown_patient",
        r"'P404' is not in the patients table",
    ),
    (
        "episodes",
        "E3,P2,2026-05-01,,sholder,,,",
        4,
        "body_region",
        "sholder",
        "not_allowed",
        r"'sholder' is not an allowed body_region",
    ),
    (
        "rom",
        "0012,E1,2026-01-19,cervical_spine,rotation,left,400,S2,active,crom,PR1",
        4,
        "degrees",
        "400",
        "implausible_degrees",
        r"400 degrees is not plausible for cervical_spine rotation \(accepted 0 to 110\)",
    ),
    (
        "rom",
        "0012,E1,2026-01-19,cervical_spine,rotation,left,60,S77,active,crom,PR1",
        4,
        "session_id",
        "S77",
        "unknown_session",
        r"session_id 'S77' is not in the sessions table",
    ),
    (
        "rom",
        "0012,E1,2026-04-19,cervical_spine,rotation,left,60,,active,crom,PR1",
        4,
        "measured_on",
        "2026-04-19",
        "outside_episode",
        r"outside episode 'E1'",
    ),
    (
        "proms",
        "0012,E1,2026-02-01,NDI,70",
        4,
        "score",
        "70",
        "score_out_of_range",
        r"70 is outside the NDI range 0 to 50",
    ),
    (
        "proms",
        "P2,E1,2026-02-01,NDI,20",
        4,
        "patient_id",
        "P2",
        "patient_mismatch",
        r"differs from the patient of episode 'E1'",
    ),
    (
        "adverse_events",
        "S3,0012,bruising,mild,,",
        3,
        "session_id",
        "S3",
        "session_not_attended",
        r"session 'S3' has status cancelled, so no needling took place",
    ),
    (
        "adverse_events",
        "S1,P2,bruising,mild,,",
        3,
        "patient_id",
        "P2",
        "patient_mismatch",
        r"differs from the patient of session 'S1' \('0012'\)",
    ),
    (
        "adverse_events",
        "S1,0012,bruising,catastrophic,,",
        3,
        "severity",
        "catastrophic",
        "not_allowed",
        r"use one of: mild, significant, serious",
    ),
    (
        "journal",
        "0012,2026-01-07,9,4,6,",
        4,
        "patient_id",
        "0012 / 2026-01-07",
        "duplicate_entry",
        r"is used by lines 3, 4 with different values",
    ),
    ("journal", "P404,2026-01-07,5,,,", 4, "patient_id", "P404", "unknown_patient", r"not in the patients table"),
]


@pytest.mark.parametrize(
    ("table", "row", "line", "column", "value", "rule", "reason"),
    RULE_CASES,
    ids=[f"{c[0]}-{c[5]}-{i}" for i, c in enumerate(RULE_CASES)],
)
def test_each_rule_quarantines_the_row_with_its_reason(make_clinic, table, row, line, column, value, rule, reason):
    """A broken rule quarantines its row, except in an optional value, which is cleared and the row kept."""
    folder = make_clinic(**{table: plus(table, row)})
    with pytest.warns(DataQualityWarning, match=r"were quarantined and .* cleared"):
        clinic = load_clinic(folder, as_of=AS_OF)
    problems = clinic.quality.problems
    hit = problems[(problems["line"] == line) & (problems["rule"] == rule)]
    assert len(hit) == 1, problems.to_string()
    hit = hit.iloc[0]
    assert (hit["table"], hit["column"], hit["value"]) == (table, column, value)
    assert hit["file"].endswith(f"{table}.csv")
    assert re.search(reason, hit["reason"]), hit["reason"]
    assert rule in RULES
    # every valid row was kept
    n_valid = len(textwrap.dedent(VALID[table]).strip().splitlines()) - 1
    n_rows = len(clinic.tables[table])
    spec = TABLES[table]
    optional = column in spec.column_names and not spec.column(column).required and column not in ("status", spec.key)
    cell_rule = rule in {
        "not_a_number",
        "not_a_whole_number",
        "not_a_date",
        "not_a_time",
        "not_allowed",
        "out_of_range",
        "future_date",
    }
    if optional and cell_rule:
        assert hit["action"] == "cleared"
        assert n_rows == n_valid + 1  # the row is kept, its unreadable value blank
        assert clinic.tables[table][column].isna().iloc[-1]
    else:
        assert hit["action"] == "quarantined"
        assert n_rows == n_valid - (1 if rule == "duplicate_entry" else 0)


def test_problems_are_found_in_one_pass(make_clinic):
    folder = make_clinic(
        sessions=plus(
            "sessions",
            "S9,E1,0012,PR1,2026-01-20,,attended,11,4,,,",
            "S10,E1,0012,PR1,not a date,,attended,5,4,,,",
            "S11,E1,0012,PR1,2026-01-20,,maybe,5,4,,,",
        ),
        patients=plus("patients", "P3,1850,F,,,"),
    )
    clinic = load(folder)
    found = set(zip(clinic.quality.problems["table"], clinic.quality.problems["rule"], strict=True))
    assert {
        ("sessions", "out_of_range"),
        ("sessions", "not_a_date"),
        ("sessions", "not_allowed"),
        ("patients", "out_of_range"),
    } <= found
    # the bad session date and status quarantine their rows; the out-of-range pain and birth year are cleared
    assert clinic.quality.rows_quarantined == 2
    assert clinic.quality.values_cleared == 2
    assert clinic.patients.set_index("patient_id").loc["P3", "birth_year"] is pd.NA


def test_one_row_with_several_problems_lists_each(make_clinic):
    clinic = load(make_clinic(sessions=plus("sessions", "S9,E1,0012,PR1,2026-01-20,,attended,11,12,,,")))
    rows = clinic.quality.problems.query("line == 6")
    assert sorted(rows["column"]) == ["pain_post", "pain_pre"]
    assert set(rows["action"]) == {"cleared"}
    counts = clinic.quality.tables.set_index("table").loc["sessions"]
    assert (counts["rows_quarantined"], counts["values_cleared"], counts["rows_kept"]) == (0, 2, 5)


def test_exact_duplicates_are_collapsed_and_counted_not_quarantined(make_clinic):
    row = "S4,E2,P2,PR2,2026-02-02,14:00,attended,6,5,5,multifidus,yes"
    clinic = load(make_clinic(sessions=plus("sessions", row, row)))
    summary = clinic.quality.tables.set_index("table").loc["sessions"]
    assert summary[["rows_read", "duplicates_collapsed", "rows_quarantined", "rows_kept"]].tolist() == [6, 2, 0, 4]
    assert clinic.quality.collapsed[["line", "first_line"]].values.tolist() == [[6, 5], [7, 5]]
    assert clinic.sessions["session_id"].tolist() == ["S1", "S2", "S3", "S4"]


def test_conflicting_duplicate_ids_quarantine_every_copy(make_clinic):
    clinic = load(make_clinic(sessions=plus("sessions", "S4,E2,P2,PR2,2026-02-02,14:00,attended,9,5,5,multifidus,yes")))
    hits = clinic.quality.problems.query("rule == 'duplicate_id'")
    assert hits["line"].tolist() == [5, 6]
    assert hits["reason"].str.contains("session_id 'S4' is used by lines 5, 6 with different values").all()
    assert "S4" not in clinic.sessions["session_id"].tolist()
    # the adverse event of a quarantined session follows it, with the cause named
    events = load(make_clinic(sessions=plus("sessions", "S1,E1,0012,PR1,2026-01-05,09:00,attended,9,5,4,x,yes")))
    ae = events.quality.problems.query("table == 'adverse_events'")
    assert ae["rule"].tolist() == ["unknown_session"]
    assert "was quarantined in sessions (see quarantine/sessions.csv)" in ae["reason"].iloc[0]


def test_quarantine_file_keeps_the_row_as_written(make_clinic, tmp_path):
    clinic = load(make_clinic(sessions=plus("sessions", "S9,E9,0012,PR1,2026-01-20,,attended,11,=cmd(),,,")))
    paths = clinic.quality.write(tmp_path / "out")
    quarantine = pd.read_csv(paths["quarantine/sessions"], dtype=str, keep_default_na=False)
    assert list(quarantine.columns[:7]) == [
        "source_file", "line", "problem_column", "problem_value", "rule", "reason", "location"
    ]  # fmt: skip
    first = quarantine.iloc[0]
    assert (first["source_file"], first["line"], first["problem_column"], first["problem_value"]) == (
        "sessions.csv",
        "6",
        "episode_id",
        "E9",
    )
    assert first["location"] == "line 6"
    # the row's other problems are listed with it, though alone they would only clear the value
    assert quarantine["problem_column"].tolist() == ["episode_id", "pain_pre", "pain_post"]
    assert first["session_id"] == "S9" and first["session_date"] == "2026-01-20"
    assert quarantine["pain_post"].tolist()[0] == "'=cmd()"  # a formula is neutralised, not run
    assert (tmp_path / "out" / "quality.json").is_file() and (tmp_path / "out" / "quality.md").is_file()


def test_blank_status_defaults_to_attended_and_common_labels_are_understood(make_clinic):
    clinic = load(
        make_clinic(
            sessions=plus(
                "sessions", "S9,E1,0012,PR1,2026-01-20,,,5,4,,,Y", "S10,E1,0012,PR1,2026-01-21,,Did not attend,,,,,"
            ),
            patients=plus("patients", "P3,1970,female,,,"),
        )
    )
    assert clinic.quality.is_clean, clinic.quality.problems
    sessions = clinic.sessions.set_index("session_id")
    assert sessions.loc["S9", "status"] == "attended" and sessions.loc["S9", "twitch_response"] == "yes"
    assert sessions.loc["S10", "status"] == "no_show"
    assert clinic.patients.set_index("patient_id").loc["P3", "sex"] == "F"


def test_missing_values_written_as_tokens_are_blank(make_clinic):
    clinic = load(make_clinic(sessions=plus("sessions", "S9,E1,0012,PR1,2026-01-20,,attended,N/A,-,NA,,")))
    assert clinic.quality.is_clean
    row = clinic.sessions.set_index("session_id").loc["S9"]
    assert np.isnan(row["pain_pre"]) and np.isnan(row["pain_post"]) and pd.isna(row["needles"])


def test_extra_columns_are_kept_with_a_note(make_clinic):
    text = (
        VALID["patients"]
        .replace("postcode\n", "postcode,referrer\n")
        .replace("02134\n", "02134,Dr X\n")
        .replace("10001\n", "10001,\n")
    )
    clinic = load(make_clinic(patients=text))
    assert clinic.patients["referrer"].tolist()[0] == "Dr X"
    assert (
        "columns not in the data model were kept" in clinic.quality.tables.set_index("table").loc["patients", "notes"]
    )


# -- input that cannot be read ----------------------------------------------


def test_missing_folder(tmp_path):
    with pytest.raises(Exception, match=r"folder not found"):
        load_clinic(tmp_path / "nowhere")


def test_missing_required_table(make_clinic):
    with pytest.raises(
        MissingTableError, match=r"required table 'sessions' not found.*\n.*What to do: add the sessions export"
    ):
        load(make_clinic(sessions=None))


def test_missing_required_column_names_the_file_and_the_fix(make_clinic):
    text = VALID["sessions"].replace("session_date", "visit_day")
    with pytest.raises(
        MissingColumnsError,
        match=r"sessions.csv: table 'sessions' lacks required column\(s\) \['session_date'\].*visit_day.*\n.*--mapping",
    ):
        load(make_clinic(sessions=text))


def test_binary_file_is_refused(make_clinic):
    folder = make_clinic()
    (folder / "sessions.csv").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(UnreadableFileError, match=r"sessions.csv: the file holds binary data, not text"):
        load(folder)


def test_empty_file_is_refused(make_clinic):
    folder = make_clinic()
    (folder / "episodes.csv").write_bytes(b"")
    with pytest.raises(UnreadableFileError, match=r"episodes.csv: the file is empty"):
        load(folder)


def test_header_only_table_has_no_rows(make_clinic):
    clinic = load(make_clinic(journal="patient_id,entry_date,pain\n"))
    assert clinic.journal.empty and "journal" in clinic.supplied and not clinic.has("journal")


def test_two_candidate_files_are_ambiguous(make_clinic):
    folder = make_clinic()
    pd.read_csv(folder / "proms.csv").to_parquet(folder / "proms.parquet")
    with pytest.raises(UnreadableFileError, match=r"several files could hold table 'proms'"):
        load(folder)
