"""The REDCap source: hand-written flat exports and data dictionaries, checked row by row."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from needling_analytics.errors import InputError, UnreadableFileError
from needling_analytics.load.mapping import Mapping, TableMapping
from needling_analytics.load.sources import open_source, source_kind
from needling_analytics.load.sources.redcap import ROW_ID, detect

from .conftest import demo_tables

# A longitudinal project with a repeating instrument: DAG-prefixed record IDs,
# a checkbox with a non-numeric code, a note holding a comma, quotes and a
# line break, an empty follow-up event row, incomplete and unverified forms.
LONGITUDINAL = """\
record_id,redcap_event_name,redcap_repeat_instrument,redcap_repeat_instance,redcap_data_access_group,sex,dob,demographics_complete,tx_date,muscles___1,muscles___2,muscles___ut,twitch,tx_notes,treatment_session_complete,fu_date,fu_pain,grc,follow_up_complete
806-1,baseline_arm_1,,,north,1,1980-01-02,2,,,,,,,,,,,
806-1,baseline_arm_1,treatment_session,1,north,,,,2026-01-05,1,0,1,1,"said ""ouch"", then
fine",2,,,,
806-1,baseline_arm_1,treatment_session,2,north,,,,2026-01-09,0,0,0,0,,1,,,,
806-1,week_2_arm_1,,,north,,,,,,,,,,,2026-01-19,3,2,2
806-1,week_4_arm_1,,,north,,,,,,,,,,,,,,
806-2,baseline_arm_1,,,south,2,,0,,,,,,,,,,,
806-2,baseline_arm_1,treatment_session,1,south,,,,2026-02-01,0,1,0,,,0,,,,
806-2,week_2_arm_1,,,south,,,,,,,,,,,2026-02-15,5,-1,1
"""
DICTIONARY_UI = """\
"Variable / Field Name","Form Name","Section Header","Field Type","Field Label","Choices, Calculations, OR Slider Labels","Field Note"
record_id,demographics,,text,Record ID,,
sex,demographics,,radio,Sex,"1, Female | 2, Male | 3, Another, or not listed",
dob,demographics,,text,Date of birth,,
intro,treatment_session,,descriptive,Read this first,,
tx_date,treatment_session,,text,Date,,
muscles,treatment_session,,checkbox,Muscles needled,"1, upper trapezius | 2, levator scapulae | ut, other, specify",
twitch,treatment_session,,yesno,Twitch response,,
tx_notes,treatment_session,,notes,Notes,,
fu_date,follow_up,,text,Date,,
fu_pain,follow_up,,text,Pain (0-10),,
grc,follow_up,,radio,Global rating of change,"-3, -3 | -2, -2 | -1, -1 | 0, 0 | 1, 1 | 2, 2 | 3, 3",
"""

# A non-longitudinal project whose first field is `row`; checkbox codes are
# words (one with a hyphen, written with an underscore in the column name);
# the API's dictionary header.
CLASSIC = """\
row,redcap_repeat_instrument,redcap_repeat_instance,pain,side,colour___red,colour___dark_blue,baseline_complete,visit_date,visit_pain,visit_complete
"Ana, from Porto",,,7,l,1,1,2,,,
"Ana, from Porto",visit,1,,,,,,2026-03-02,5,2
"Ana, from Porto",visit,2,,,,,,2026-03-09,4,0
Bob,,,,,0,0,0,,,
Bob,visit,1,,,,,,2026-03-03,6,2
"""
DICTIONARY_API = """\
field_name,form_name,section_header,field_type,field_label,select_choices_or_calculations,field_note
row,baseline,,text,Name,,
pain,baseline,,text,Pain,,
side,baseline,,dropdown,Side,"l, Left | r, Right",
colour,baseline,,checkbox,Colour,"red, Red | dark-blue, Dark blue",
visit_date,visit,,text,Date,,
visit_pain,visit,,text,Pain,,
"""


def _write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def longitudinal(tmp_path):
    return _write(
        tmp_path / "project", {"Clinic_DATA_2026.csv": LONGITUDINAL, "Clinic_DataDictionary.csv": DICTIONARY_UI}
    )


@pytest.fixture
def classic(tmp_path):
    return _write(tmp_path / "classic", {"export.csv": CLASSIC, "metadata.csv": DICTIONARY_API})


def _rows(raw, columns):
    return [tuple(row) for row in raw.frame[columns].itertuples(index=False)]


def test_a_repeating_instrument_gives_one_row_per_instance_with_checkboxes_joined(longitudinal):
    source = open_source(longitudinal, Mapping())
    raw = source.read("sessions", TableMapping(form="treatment_session"))
    assert list(raw.frame.columns) == [
        "record_id", "redcap_event_name", "redcap_repeat_instance", ROW_ID,
        "tx_date", "muscles", "twitch", "tx_notes", "treatment_session_complete",
    ]  # fmt: skip
    assert _rows(raw, ["record_id", "redcap_repeat_instance", ROW_ID, "tx_date", "muscles", "twitch"]) == [
        ("806-1", "1", "806-1/baseline_arm_1/1", "2026-01-05", "upper trapezius;other, specify", "Yes"),
        ("806-1", "2", "806-1/baseline_arm_1/2", "2026-01-09", "", "No"),
        ("806-2", "1", "806-2/baseline_arm_1/1", "2026-02-01", "levator scapulae", ""),
    ]
    assert raw.frame["tx_notes"].iloc[0] == 'said "ouch", then\nfine'
    # header is line 1; the first session's note spans lines 3-4
    assert raw.lines.tolist() == [3, 5, 9]
    assert raw.line_label == "line"
    assert raw.frame["treatment_session_complete"].tolist() == ["2", "1", "0"]


def test_incomplete_and_unverified_forms_are_kept_and_counted_with_their_lines(longitudinal):
    raw = open_source(longitudinal, Mapping()).read("sessions", TableMapping(form="treatment_session"))
    assert len(raw.frame) == 3
    assert any(
        n.startswith("1 treatment_session forms are incomplete (status 0)") and "lines [9]" in n for n in raw.notes
    )
    assert any(
        n.startswith("1 treatment_session forms are unverified (status 1)") and "lines [5]" in n for n in raw.notes
    )
    assert "3 of the export's 8 rows hold form treatment_session." in raw.notes


def test_a_non_repeating_form_takes_only_the_rows_where_it_holds_data(longitudinal):
    source = open_source(longitudinal, Mapping())
    patients = source.read("patients", TableMapping(form="demographics"))
    assert _rows(patients, ["record_id", "redcap_event_name", "sex", "dob", "demographics_complete"]) == [
        ("806-1", "baseline_arm_1", "Female", "1980-01-02", "2"),
        ("806-2", "baseline_arm_1", "Male", "", "0"),
    ]
    assert patients.lines.tolist() == [2, 8]
    follow_up = source.read("assessments", TableMapping(form="follow_up", event="week_2_arm_1"))
    assert _rows(follow_up, [ROW_ID, "fu_date", "fu_pain", "grc", "follow_up_complete"]) == [
        ("806-1/week_2_arm_1", "2026-01-19", "3", "2", "2"),
        ("806-2/week_2_arm_1", "2026-02-15", "5", "-1", "1"),
    ]


def test_events_filter_rows_and_an_event_with_no_rows_is_noted(longitudinal):
    source = open_source(longitudinal, Mapping())
    only_week_4 = source.read("assessments", TableMapping(form="follow_up", event=["week_4_arm_1", "week_8_arm_1"]))
    assert only_week_4.frame.empty  # the week 4 row of 806-1 is blank
    assert "event(s) ['week_8_arm_1'] have no rows in the export." in only_week_4.notes
    both = source.read("assessments", TableMapping(form="follow_up", event="week_2_arm_1, week_4_arm_1"))
    assert len(both.frame) == 2
    with pytest.raises(InputError, match="none of which is in the export"):
        source.read("assessments", TableMapping(form="follow_up", event="week_2_arm"))


def test_a_code_missing_from_the_dictionary_is_kept_and_noted(tmp_path):
    export = LONGITUDINAL.replace("806-2,baseline_arm_1,,,south,2,", "806-2,baseline_arm_1,,,south,9,")
    folder = _write(tmp_path / "p", {"Clinic_DATA.csv": export, "Clinic_DataDictionary.csv": DICTIONARY_UI})
    raw = open_source(folder, Mapping()).read("patients", TableMapping(form="demographics"))
    assert raw.frame["sex"].tolist() == ["Female", "9"]
    assert "1 value(s) of sex are not among its choices in the data dictionary and were kept as written: ['9']." in (
        raw.notes
    )


def test_first_column_need_not_be_record_id_and_word_codes_are_labelled(classic):
    source = open_source(classic, Mapping())
    baseline = source.read("patients", TableMapping(form="baseline"))
    assert list(baseline.frame.columns) == [
        "row",
        "redcap_repeat_instance",
        ROW_ID,
        "pain",
        "side",
        "colour",
        "baseline_complete",
    ]
    # Bob's baseline row has only zeros and status 0: never filled, so not a row
    assert _rows(baseline, ["row", ROW_ID, "pain", "side", "colour"]) == [
        ("Ana, from Porto", "Ana, from Porto", "7", "Left", "Red;Dark blue"),
    ]
    visits = source.read("sessions", TableMapping(form="visit"))
    assert _rows(visits, ["row", ROW_ID, "visit_date", "visit_pain", "visit_complete"]) == [
        ("Ana, from Porto", "Ana, from Porto/1", "2026-03-02", "5", "2"),
        ("Ana, from Porto", "Ana, from Porto/2", "2026-03-09", "4", "0"),
        ("Bob", "Bob/1", "2026-03-03", "6", "2"),
    ]
    assert visits.lines.tolist() == [3, 4, 6]


def test_checkbox_codes_written_without_underscores_by_old_redcap_are_matched(tmp_path):
    folder = _write(
        tmp_path / "old",
        {"export.csv": CLASSIC.replace("colour___dark_blue", "colour___darkblue"), "metadata.csv": DICTIONARY_API},
    )
    baseline = open_source(folder, Mapping()).read("patients", TableMapping(form="baseline"))
    assert baseline.frame["colour"].tolist() == ["Red;Dark blue"]


def test_without_a_dictionary_forms_come_from_the_complete_columns_and_codes_stay(tmp_path):
    export = _write(tmp_path / "bare", {"export.csv": CLASSIC}) / "export.csv"
    source = open_source(export, Mapping())
    baseline = source.read("patients", TableMapping(form="baseline"))
    assert _rows(baseline, ["row", "pain", "side", "colour"]) == [("Ana, from Porto", "7", "l", "red;dark_blue")]
    assert any("no REDCap data dictionary" in n and "codes" in n for n in baseline.notes)


def test_a_sparse_export_used_for_patients_keeps_every_record(tmp_path):
    """83 patients, each with a baseline row, 3 sessions and 2 follow-ups: 83 patients, no duplicates."""
    lines = ["record_id,redcap_event_name,redcap_repeat_instrument,redcap_repeat_instance,sex,demographics_complete,"
             "tx_date,treatment_session_complete,fu_pain,follow_up_complete"]  # fmt: skip
    for i in range(1, 84):
        lines.append(f"{i},baseline_arm_1,,,{1 + i % 2},2,,,,")
        lines += [f"{i},baseline_arm_1,treatment_session,{k},,,2026-01-{k + 1:02d},2,," for k in (1, 2, 3)]
        lines += [f"{i},{event},,,,,,,{i % 10},2" for event in ("week_2_arm_1", "week_4_arm_1")]
    dictionary = DICTIONARY_UI.splitlines()[0] + "\n" + textwrap.dedent("""\
        record_id,demographics,,text,ID,,
        sex,demographics,,radio,Sex,"1, Female | 2, Male",
        tx_date,treatment_session,,text,Date,,
        fu_pain,follow_up,,text,Pain,,
        """)  # fmt: skip
    folder = _write(tmp_path / "sparse", {"export.csv": "\n".join(lines) + "\n", "DataDictionary.csv": dictionary})
    source = open_source(folder, Mapping())
    patients = source.read("patients", TableMapping(form="demographics"))
    assert len(patients.frame) == 83
    assert patients.frame["record_id"].tolist() == [str(i) for i in range(1, 84)]
    assert patients.frame["sex"].value_counts().to_dict() == {"Female": 41, "Male": 42}
    assert len(source.read("sessions", TableMapping(form="treatment_session")).frame) == 83 * 3
    assert len(source.read("assessments", TableMapping(form="follow_up")).frame) == 83 * 2


def test_detection_by_content(longitudinal, classic, tmp_path):
    assert detect(longitudinal)
    assert detect(longitudinal / "Clinic_DATA_2026.csv")
    assert not detect(longitudinal / "Clinic_DataDictionary.csv")
    assert detect(classic / "export.csv")  # no redcap_event_name, but repeat and _complete columns
    only_complete = _write(tmp_path / "plain", {"x.csv": "row,pain,baseline_complete\nA,3,2\n"}) / "x.csv"
    assert detect(only_complete)
    clinic = _write(tmp_path / "clinic", {"patients.csv": "patient_id,sex\nP1,F\n"})
    assert not detect(clinic)
    assert not detect(clinic / "patients.csv")
    export_alone = _write(tmp_path / "alone", {"export.csv": CLASSIC})
    assert not detect(export_alone)  # a folder needs the dictionary too; the file alone is detected
    assert source_kind(longitudinal, Mapping()) == "redcap"
    assert source_kind(export_alone, Mapping(kind="redcap")) == "redcap"


def test_the_dictionary_named_by_the_mapping_is_used(tmp_path):
    folder = _write(tmp_path / "named", {"export.csv": CLASSIC, "codes.csv": DICTIONARY_API})
    raw = open_source(folder / "export.csv", Mapping(dictionary="codes.csv")).read(
        "patients", TableMapping(form="baseline")
    )
    assert raw.frame["side"].tolist() == ["Left"]
    with pytest.raises(UnreadableFileError, match="names data dictionary 'nope.csv'"):
        open_source(folder / "export.csv", Mapping(dictionary="nope.csv"))


def test_several_dictionaries_must_be_named(tmp_path):
    folder = _write(
        tmp_path / "two",
        {"export.csv": CLASSIC, "metadata.csv": DICTIONARY_API, "A_DataDictionary.csv": DICTIONARY_API},
    )
    with pytest.raises(UnreadableFileError, match="several data dictionaries"):
        open_source(folder / "export.csv", Mapping())


def test_mapping_mistakes_are_errors_not_empty_tables(longitudinal, classic):
    source = open_source(longitudinal, Mapping())
    assert source.read("journal", TableMapping()) is None
    with pytest.raises(InputError, match="no form 'treatment'"):
        source.read("sessions", TableMapping(form="treatment"))
    with pytest.raises(InputError, match="names a `file`"):
        source.read("sessions", TableMapping(file="sessions.csv", form="treatment_session"))
    with pytest.raises(InputError, match="not longitudinal"):
        open_source(classic, Mapping()).read("sessions", TableMapping(form="visit", event="baseline_arm_1"))


def test_a_broken_record_is_kept_as_malformed_in_its_form(tmp_path):
    broken = CLASSIC.replace("Bob,visit,1,,,,,,2026-03-03,6,2", 'Bob,visit,1,,,,,,"2026-03-03,6,2')
    folder = _write(tmp_path / "broken", {"export.csv": broken, "metadata.csv": DICTIONARY_API})
    visits = open_source(folder, Mapping()).read("sessions", TableMapping(form="visit"))
    assert visits.frame["row"].tolist() == ["Ana, from Porto", "Ana, from Porto", "Bob"]
    assert list(visits.malformed) == [2]
    assert "quote" in visits.malformed[2]


def _sparse_project(folder: Path) -> Path:
    """83 patients: demographics and a course of care at baseline, 3 sessions each, follow-ups at weeks 2 and 4."""
    header = (
        "record_id,redcap_event_name,redcap_repeat_instrument,redcap_repeat_instance,sex,birth_year,demographics_complete,"
        "episode_id,start_date,body_region,course_complete,session_date,pain_pre,session_episode,"
        "treatment_session_complete,fu_date,fu_pain,fu_episode,follow_up_complete"
    )
    lines = [header]
    for i in range(1, 84):
        lines.append(f"{i},baseline_arm_1,,,{1 + i % 2},{1930 + i},2,E{i},2026-01-02,2,2,,,,,,,,")
        for k in (1, 2, 3):
            status = 1 if i % 10 == 0 and k == 3 else 2  # records 10, 20, ..., 80: last session unverified
            lines.append(
                f"{i},baseline_arm_1,treatment_session,{k},,,,,,,,2026-01-{2 + 7 * k:02d},{7 - k},E{i},{status}"
            )
        lines.append(f"{i},week_2_arm_1,,,,,,,,,,,,,,2026-01-16,4,E{i},2")
        lines.append(f"{i},week_4_arm_1,,,,,,,,,,,,,,2026-01-30,3,E{i},{0 if i == 5 else 2}")
    dictionary = DICTIONARY_UI.splitlines()[0] + "\n" + textwrap.dedent("""\
        record_id,demographics,,text,ID,,
        sex,demographics,,radio,Sex,"1, Female | 2, Male",
        birth_year,demographics,,text,Year of birth,,
        episode_id,course,,text,Course,,
        start_date,course,,text,Start,,
        body_region,course,,dropdown,Region,"1, neck | 2, low back",
        session_date,treatment_session,,text,Date,,
        pain_pre,treatment_session,,text,Pain before,,
        session_episode,treatment_session,,text,Course,,
        fu_date,follow_up,,text,Date,,
        fu_pain,follow_up,,text,Pain,,
        fu_episode,follow_up,,text,Course,,
        """)  # fmt: skip
    return _write(folder, {"Clinic_DATA.csv": "\n".join(lines) + "\n", "Clinic_DataDictionary.csv": dictionary})


def _mapping(tables: dict) -> Mapping:
    """The mapping of ``tables``: through read_mapping once it parses `form`, built directly until then."""
    from needling_analytics.errors import MappingError
    from needling_analytics.load.mapping import read_mapping

    try:
        parsed = read_mapping({"tables": tables})
        if parsed.for_table(next(iter(tables))).form:
            return parsed
    except MappingError:
        pass
    return Mapping(tables={name: TableMapping(**spec) for name, spec in tables.items()})


def test_load_clinic_on_a_sparse_export_loses_no_patient(tmp_path):
    from needling_analytics.load import load_clinic

    folder = _sparse_project(tmp_path / "sparse")
    mapping = _mapping(
        {
            "patients": {"form": "demographics", "columns": {"record_id": "patient_id"}},
            "episodes": {"form": "course", "columns": {"record_id": "patient_id"}},
            "sessions": {
                "form": "treatment_session",
                "columns": {"record_id": "patient_id", ROW_ID: "session_id", "session_episode": "episode_id"},
            },
            "assessments": {
                "form": "follow_up",
                "event": "week_2_arm_1,week_4_arm_1",
                "columns": {
                    "record_id": "patient_id",
                    "fu_episode": "episode_id",
                    "fu_date": "assessed_on",
                    "fu_pain": "pain",
                },
            },
        }
    )
    clinic = load_clinic(folder, mapping, as_of="2026-11-28")
    assert clinic.quality.rows_quarantined == 0
    assert clinic.quality.problems.empty
    assert len(clinic.patients) == 83
    assert clinic.patients["sex"].value_counts().to_dict() == {"M": 42, "F": 41, "X": 0, "U": 0}
    assert len(clinic.episodes) == 83
    assert clinic.episodes["body_region"].astype(str).value_counts().to_dict() == {"low_back": 83}
    assert len(clinic.sessions) == 83 * 3
    assert clinic.sessions.loc[clinic.sessions["session_id"] == "10/baseline_arm_1/3", "pain_pre"].tolist() == [4.0]
    assert len(clinic.assessments) == 83 * 2
    notes = clinic.quality.tables.set_index("table")["notes"]
    assert "8 treatment_session forms are unverified (status 1)" in notes["sessions"]
    assert "1 follow_up forms are incomplete (status 0)" in notes["assessments"]
    assert "83 of the export's 498 rows hold form demographics." in notes["patients"]


class _FakeProject:
    """Stands in for ``redcap.Project``: returns the CSV texts REDCap's API would."""

    calls: list = []

    def __init__(self, url, token):
        self.calls.append(("init", url, token))

    def export_records(self, format_type="json"):
        self.calls.append(("records", format_type))
        return CLASSIC

    def export_metadata(self, format_type="json"):
        self.calls.append(("metadata", format_type))
        return DICTIONARY_API


def test_export_from_server_writes_the_export_and_dictionary_with_pycap(tmp_path, monkeypatch):
    import types

    from needling_analytics.load.sources.redcap_server import export_from_server

    monkeypatch.setitem(sys.modules, "redcap", types.SimpleNamespace(Project=_FakeProject))
    monkeypatch.setenv("CLINIC_REDCAP_TOKEN", "ABC123")
    _FakeProject.calls = []
    written = export_from_server("https://redcap.example.org/api/", "CLINIC_REDCAP_TOKEN", tmp_path / "pulled")
    assert [p.name for p in written] == ["redcap_export.csv", "redcap_DataDictionary.csv"]
    assert _FakeProject.calls == [
        ("init", "https://redcap.example.org/api/", "ABC123"),
        ("records", "csv"),
        ("metadata", "csv"),
    ]
    assert written[0].read_text(encoding="utf-8") == CLASSIC
    raw = open_source(tmp_path / "pulled", Mapping()).read("patients", TableMapping(form="baseline"))
    assert raw.frame["side"].tolist() == ["Left"]  # the pulled dictionary is found and used


def test_export_from_server_needs_the_token_and_pycap(tmp_path, monkeypatch):
    from needling_analytics.load.sources.redcap_server import export_from_server

    monkeypatch.delenv("CLINIC_REDCAP_TOKEN", raising=False)
    with pytest.raises(InputError, match="CLINIC_REDCAP_TOKEN .* is not set"):
        export_from_server("https://redcap.example.org/api/", "CLINIC_REDCAP_TOKEN", tmp_path)
    monkeypatch.setenv("CLINIC_REDCAP_TOKEN", "ABC123")
    monkeypatch.setitem(sys.modules, "redcap", None)  # import redcap now fails
    with pytest.raises(InputError, match="needs PyCap") as caught:
        export_from_server("https://redcap.example.org/api/", "CLINIC_REDCAP_TOKEN", tmp_path)
    assert "pip install pycap" in str(caught.value)
    assert "ABC123" not in str(caught.value)


@pytest.fixture(scope="module")
def demo_export(tmp_path_factory):
    from needling_analytics.demo.exports import write_export

    tables = demo_tables(n_patients=60, seed=3)
    folder = tmp_path_factory.mktemp("redcap_demo")
    files = write_export("redcap", tables, folder, seed=3)
    return tables, folder, files


def test_demo_export_files_and_detection(demo_export):
    _, folder, files = demo_export
    names = [p.name for p in files]
    assert names[0].startswith("NeedlingClinic_DATA_") and names[1].startswith("NeedlingClinic_DataDictionary_")
    assert names[2] == "mapping.yaml"
    assert source_kind(folder, Mapping()) == "redcap"
    header = files[0].read_text(encoding="utf-8").splitlines()[0].split(",")
    assert header[:4] == ["record_id", "redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance"]
    assert "tx_muscles___1" in header and "follow_up_complete" in header


def test_demo_export_read_back_matches_the_demo_clinic(demo_export):
    tables, folder, _ = demo_export
    source = open_source(folder, Mapping())
    patients = source.read("patients", TableMapping(form="demographics", event="baseline_arm_1")).frame
    expected = tables["patients"]
    assert patients["record_id"].tolist() == [str(int(p[1:])) for p in expected["patient_id"]]
    assert patients["dem_sex"].tolist() == expected["sex"].astype(str).map({"F": "Female", "M": "Male"}).tolist()
    assert patients["dem_last_name"].tolist() == expected["last_name"].tolist()

    sessions = source.read("sessions", TableMapping(form="treatment_session")).frame
    attended = tables["sessions"][tables["sessions"]["status"].astype(str) == "attended"]
    assert len(sessions) == len(attended)
    key = ["patient_id", "session_date", "session_time"]
    want = attended.assign(patient_id=attended["patient_id"].str[1:].astype(int).astype(str)).sort_values(key)
    got = sessions.assign(patient_id=sessions["record_id"], session_date=pd.to_datetime(sessions["tx_date"]))
    got = got.assign(session_time=got["tx_time"]).sort_values(key)
    np.testing.assert_array_equal(pd.to_numeric(got["tx_pain_before"]).to_numpy(), want["pain_pre"].to_numpy(float))
    np.testing.assert_array_equal(pd.to_numeric(got["tx_needles"]).to_numpy(), want["needles"].to_numpy(float))
    assert got["tx_twitch"].str.lower().tolist() == want["twitch_response"].astype(object).fillna("").tolist()
    # a checkbox has no order: the same muscles, ticked
    assert [set(m.split(";")) for m in got["tx_muscles"]] == [set(m.split(";")) for m in want["muscles"]]

    follow_up = source.read("assessments", TableMapping(form="follow_up", event=["week_2_arm_1", "week_4_arm_1"]))
    assert len(follow_up.frame) > 0
    assert set(follow_up.frame["redcap_event_name"]) == {"week_2_arm_1", "week_4_arm_1"}
    assert follow_up.frame["fu_grc"].astype(int).between(-3, 3).all()
    assert (follow_up.frame.groupby(["record_id", "redcap_event_name"]).size() == 1).all()


def test_demo_export_incomplete_forms_are_counted(demo_export):
    _, folder, files = demo_export
    text = files[0].read_text(encoding="utf-8")
    source = open_source(folder, Mapping())
    raw = source.read("sessions", TableMapping(form="treatment_session"))
    # counted independently from the status column of the repeating rows
    import csv
    import io

    statuses = [
        r["treatment_session_complete"] for r in csv.DictReader(io.StringIO(text)) if r["redcap_repeat_instrument"]
    ]
    n_zero, n_one = statuses.count("0"), statuses.count("1")
    assert n_zero + n_one > 0
    if n_zero:
        assert any(n.startswith(f"{n_zero} treatment_session forms are incomplete (status 0)") for n in raw.notes)
    if n_one:
        assert any(n.startswith(f"{n_one} treatment_session forms are unverified (status 1)") for n in raw.notes)


def test_demo_export_loads_end_to_end_through_its_mapping(demo_export):
    """The demo project loads through its mapping (`form`, `event`, `extends`, `constants`, episodes `derive`)."""
    from needling_analytics.load import load_clinic
    from needling_analytics.load.mapping import read_mapping

    tables, folder, _ = demo_export
    mapping = read_mapping(folder / "mapping.yaml")
    assert mapping.for_table("sessions").form == "treatment_session"
    clinic = load_clinic(folder, mapping, as_of="2026-11-28")
    attended = tables["sessions"]["status"].astype(str).eq("attended").sum()
    assert len(clinic.patients) == len(tables["patients"])
    assert len(clinic.sessions) + clinic.quality.problems.query("table == 'sessions'")["line"].nunique() == attended
    assert not (clinic.quality.problems["rule"] == "duplicate_id").any()
    assert len(clinic.episodes) > 0 and len(clinic.assessments) > 0


def test_a_form_filled_in_several_events_gives_a_row_per_event_and_a_note(longitudinal):
    source = open_source(longitudinal, Mapping())
    follow_up = source.read("assessments", TableMapping(form="follow_up"))
    assert len(follow_up.frame) == 2  # week 2 only: no note, one event
    assert not any("more than one event" in n for n in follow_up.notes)
    export = LONGITUDINAL.replace(
        "806-1,week_4_arm_1,,,north,,,,,,,,,,,,,,", "806-1,week_4_arm_1,,,north,,,,,,,,,,,2026-02-02,2,3,2"
    )
    folder = longitudinal.parent / "twice"
    _write(folder, {"Clinic_DATA.csv": export, "Clinic_DataDictionary.csv": DICTIONARY_UI})
    raw = open_source(folder, Mapping()).read("assessments", TableMapping(form="follow_up"))
    assert raw.frame[ROW_ID].tolist() == ["806-1/week_2_arm_1", "806-1/week_4_arm_1", "806-2/week_2_arm_1"]
    assert any(n.startswith("1 record(s) have follow_up data in more than one event") for n in raw.notes)


def test_an_export_with_a_header_only_gives_empty_tables(tmp_path):
    folder = _write(
        tmp_path / "empty", {"export.csv": LONGITUDINAL.splitlines()[0] + "\n", "DataDictionary.csv": DICTIONARY_UI}
    )
    raw = open_source(folder, Mapping()).read("sessions", TableMapping(form="treatment_session"))
    assert raw.frame.empty
    assert "muscles" in raw.frame.columns and "treatment_session_complete" in raw.frame.columns


def test_choices_are_parsed_as_redcap_writes_them():
    from needling_analytics.load.sources.redcap_dictionary import parse_choices

    assert parse_choices("1, Yes|0, No") == {"1": "Yes", "0": "No"}
    assert parse_choices('1, "Normal" - no irregularities | 2, Minor, or none | 88, Other') == {
        "1": '"Normal" - no irregularities',
        "2": "Minor, or none",
        "88": "Other",
    }
    assert parse_choices("") == {}
    assert parse_choices("red | dark-blue, Dark blue") == {"red": "red", "dark-blue": "Dark blue"}


def test_checkbox_values_exported_as_labels_are_read_and_odd_values_shown(tmp_path):
    export = CLASSIC.replace('"Ana, from Porto",,,7,l,1,1,2', '"Ana, from Porto",,,7,l,Checked,maybe,2')
    folder = _write(tmp_path / "labels", {"export.csv": export, "metadata.csv": DICTIONARY_API})
    raw = open_source(folder, Mapping()).read("patients", TableMapping(form="baseline"))
    assert raw.frame["colour"].tolist() == ["Red;Dark blue=maybe"]
    assert any("hold checkbox values other than 0 or 1" in n for n in raw.notes)


def test_an_export_with_another_delimiter_is_detected_and_read(tmp_path):
    export = "record_id;redcap_event_name;pain;visit_complete\n1;baseline_arm_1;4,5;2\n"
    path = _write(tmp_path / "semi", {"export.csv": export}) / "export.csv"
    assert detect(path)
    raw = open_source(path, Mapping()).read("assessments", TableMapping(form="visit"))
    assert _rows(raw, ["record_id", "pain", "visit_complete"]) == [("1", "4,5", "2")]
