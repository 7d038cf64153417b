"""The FHIR R4 source: hand-written Bundles and NDJSON checked against rows written by hand."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
import yaml

from needling_analytics.demo.exports import write_export
from needling_analytics.errors import InputError, UnreadableFileError
from needling_analytics.load import load_clinic
from needling_analytics.load.mapping import Mapping, TableMapping, read_mapping
from needling_analytics.load.sources import fhir as fhir_source
from needling_analytics.load.sources import open_source

from .conftest import demo_tables

AS_OF = "2026-11-28"
LOINC, SNOMED = "http://loinc.org", "http://snomed.info/sct"
LATERALITY = "http://hl7.org/fhir/StructureDefinition/observation-structureLaterality"
FHIR = Mapping(kind="fhir")


def ref(text):
    return {"reference": text}


def pain(ident, value, *, when, encounter=None, patient="Patient/P1", display="Pain severity", **extra):
    obs = {
        "resourceType": "Observation",
        "id": ident,
        "status": "final",
        "category": [{"coding": [{"code": extra.pop("category", "vital-signs")}]}],
        "code": {"coding": [{"system": LOINC, "code": "72514-3", "display": display}]},
        "subject": ref(patient),
        "effectiveDateTime": when,
        **value,
        **extra,
    }
    if encounter:
        obs["encounter"] = ref(encounter)
    return obs


def rom_obs(ident, code, degrees, *, site, side=None, encounter="Encounter/S1", method=None, when="2026-03-02"):
    body = {"coding": [{"system": SNOMED, "code": site}]}
    if side:
        body["extension"] = [
            {"url": LATERALITY, "valueCodeableConcept": {"coding": [{"system": SNOMED, "code": side}]}}
        ]
    obs = {
        "resourceType": "Observation",
        "id": ident,
        "status": "final",
        "code": {"coding": [{"system": "http://clinic.example/rom", "code": code}]},
        "subject": ref("Patient/P1"),
        "encounter": ref(encounter),
        "effectiveDateTime": when,
        "bodySite": body,
        "valueQuantity": {"value": degrees, "unit": "deg", "system": "http://unitsofmeasure.org", "code": "deg"},
    }
    if method:
        obs["method"] = {"text": method}
    return obs


def bundle(kind: str, resources: list[dict]) -> dict:
    return {"resourceType": "Bundle", "type": kind, "entry": [{"resource": r} for r in resources]}


def write(tmp_path, data, name="bundle.json"):
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def rows(raw):
    return raw.frame.to_dict("records")


# A collection Bundle holding every resource type and variant once. Entry numbers (from 1) in comments.
COLLECTION = [
    {"resourceType": "Patient", "id": "P1", "gender": "female", "birthDate": "1980-05-02",  # 1
     "name": [{"use": "official", "family": "Silva", "given": ["Ana", "Maria"]}],
     "address": [{"use": "work", "postalCode": "3001"}, {"use": "home", "postalCode": "3000"}]},
    {"resourceType": "Patient", "id": "P2"},  # 2: nothing but an id
    {"resourceType": "Patient", "gender": "male"},  # 3: no id -> malformed
    {"resourceType": "Condition", "id": "C1", "code": {"text": "patellofemoral pain"},  # 4
     "bodySite": [{"coding": [{"system": SNOMED, "code": "49076000"}]}]},
    {"resourceType": "EpisodeOfCare", "id": "E1", "status": "finished", "patient": ref("Patient/P1"),  # 5
     "period": {"start": "2026-03-02", "end": "2026-04-20"},
     "diagnosis": [{"condition": ref("Condition/C1"), "rank": 1}],
     "extension": [{"url": "http://clinic.example/StructureDefinition/discharge-reason", "valueCode": "goals_met"}]},
    {"resourceType": "EpisodeOfCare", "id": "E9", "status": "entered-in-error", "patient": ref("Patient/P1")},  # 6
    {"resourceType": "Practitioner", "id": "PR1"},  # 7
    {"resourceType": "Encounter", "id": "S1", "status": "finished", "subject": ref("Patient/P1"),  # 8
     "episodeOfCare": [ref("EpisodeOfCare/E1")], "participant": [{"individual": ref("Practitioner/PR1")}],
     "period": {"start": "2026-03-02T09:30:00+11:00", "end": "2026-03-02T10:15:00+11:00"}},
    {"resourceType": "Encounter", "id": "S2", "status": "cancelled", "subject": ref("Patient/P1"),  # 9: no participant
     "episodeOfCare": [ref("EpisodeOfCare/E1")], "period": {"start": "2026-03-09T14:00:00+11:00"}},
    {"resourceType": "Encounter", "id": "S3", "status": "entered-in-error", "subject": ref("Patient/P1")},  # 10
    {"resourceType": "Encounter", "id": "S4", "status": "planned", "subject": ref("Patient/P1"),  # 11: no episode
     "period": {"start": "2026-04-14T08:05:00+10:00"}},
    {"resourceType": "Encounter", "id": "S5", "status": "in-progress", "subject": ref("Patient/P1"),  # 12
     "episodeOfCare": [ref("EpisodeOfCare/E1")], "period": {"start": "2026-03-16"}},
    # pain of S1: 7 (valueInteger) first, 4 (valueQuantity) last, 5 between (counted); listed out of order
    pain("O1", {"valueQuantity": {"value": 4, "unit": "{score}"}}, when="2026-03-02T10:10:00+11:00",  # 13
         encounter="Encounter/S1", category="survey"),
    pain("O2", {"valueInteger": 7}, when="2026-03-02T09:31:00+11:00", encounter="Encounter/S1",  # 14
         display="Wound bed granulation tissue percentage"),  # wrong display: the code decides
    pain("O3", {"valueInteger": 5}, when="2026-03-02T09:50:00+11:00", encounter="Encounter/S1", category="exam"),  # 15
    pain("O4", {"valueInteger": 8}, when="2026-03-02", encounter="Encounter/S3"),  # 16: its encounter was dropped
    # S5: one reading, as a LOINC answer code (LA10138-8 = 6)
    pain("O5", {"valueCodeableConcept": {"coding": [{"system": LOINC, "code": "LA10138-8"}]}},  # 17
         when="2026-03-16", encounter="Encounter/S5"),
    pain("O6", {"valueQuantity": {"value": 3.5}}, when="2026-04-06T11:00:00+10:00"),  # 18: no encounter -> assessment
    {"resourceType": "Observation", "id": "O7", "status": "final",  # 19: "pain" display, another code: not pain
     "code": {"coding": [{"system": LOINC, "code": "29463-7", "display": "Pain severity"}]},
     "subject": ref("Patient/P1"), "valueQuantity": {"value": 70, "unit": "kg"}},
    pain("O8", {"valueInteger": 9}, when="2026-03-02", encounter="Encounter/S1", status="entered-in-error"),  # 20
    rom_obs("R1", "knee-flexion-active", 120, site="49076000", side="7771000", method="goniometer"),  # 21
    rom_obs("R2", "cervical-rotation", 62, site="122494005", side="24028007", method="CROM device"),  # 22
    rom_obs("R3", "neck-flexion-passive", 45, site="122494005"),  # 23: midline, no laterality -> none
    rom_obs("R4", "shoulder-abduction", 150, site="91774008", encounter=None, when="2026-03-03"),  # 24: no side
    {"resourceType": "QuestionnaireResponse", "id": "Q1", "status": "completed",  # 25
     "questionnaire": "http://clinic.example/Questionnaire/neck-disability-index|2.0",
     "subject": ref("Patient/P1"), "encounter": ref("Encounter/S1"), "authored": "2026-03-02T09:20:00+11:00",
     "item": [{"linkId": "q1", "answer": [{"valueInteger": 2}]},
              {"linkId": "section", "item": [{"linkId": "ndi-total", "answer": [{"valueDecimal": 18}]}]}]},
    {"resourceType": "QuestionnaireResponse", "id": "Q2", "status": "in-progress",  # 26
     "subject": ref("Patient/P1"), "item": [{"linkId": "total", "answer": [{"valueInteger": 9}]}]},
    {"resourceType": "QuestionnaireResponse", "id": "Q3", "status": "completed",  # 27: no total
     "subject": ref("Patient/P1"), "item": [{"linkId": "q1", "answer": [{"valueInteger": 1}]}]},
    {"resourceType": "AdverseEvent", "id": "A1", "actuality": "actual", "subject": ref("Patient/P1"),  # 28
     "encounter": ref("Encounter/S1"), "event": {"coding": [{"system": SNOMED, "code": "302227002"}],
                                                 "text": "Bruising at needle site"},
     "severity": {"coding": [{"code": "mild"}]}},
    {"resourceType": "Procedure", "id": "N1", "status": "completed", "subject": ref("Patient/P1"),  # 29
     "encounter": ref("Encounter/S5")},
    {"resourceType": "AdverseEvent", "id": "A2", "actuality": "actual", "subject": ref("Patient/P1"),  # 30
     "suspectEntity": [{"instance": ref("Procedure/N1")}], "event": {"text": "Pneumothorax"},
     "severity": {"coding": [{"code": "severe"}]},
     "seriousness": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/adverse-event-seriousness",
                                 "code": "serious"}]}},
    {"resourceType": "AdverseEvent", "id": "A3", "actuality": "potential", "subject": ref("Patient/P1")},  # 31
    {"resourceType": "Organization", "id": "ORG1", "name": "Clinic"},  # 32
]  # fmt: skip


@pytest.fixture
def collection(tmp_path):
    return fhir_source.open_source(write(tmp_path, bundle("collection", COLLECTION)), FHIR)


def test_patients_from_patient(collection):
    raw = collection.read("patients", TableMapping())
    assert rows(raw) == [
        {"patient_id": "P1", "birth_year": "1980", "sex": "F", "first_name": "Ana", "last_name": "Silva",
         "postcode": "3000"},
        {"patient_id": "P2", "birth_year": "", "sex": "", "first_name": "", "last_name": "", "postcode": ""},
        {"patient_id": "", "birth_year": "", "sex": "", "first_name": "", "last_name": "", "postcode": ""},
    ]  # fmt: skip
    assert raw.malformed == {2: "Patient without an id"}
    assert raw.lines.tolist() == [1, 2, 3] and raw.line_label == "entry"
    notes = " ".join(raw.notes)
    assert "Bundle of type 'collection' with 32 entries" in notes
    assert "Organization (1)" in notes  # the one resource type no table reads
    assert "1 Observation(s) neither pain (LOINC 72514-3) nor range of motion" in notes and "'Pain severity'" in notes


def test_episodes_from_episode_of_care(collection):
    raw = collection.read("episodes", TableMapping())
    assert rows(raw) == [
        {"episode_id": "E1", "patient_id": "P1", "start_date": "2026-03-02", "end_date": "2026-04-20",
         "body_region": "knee", "condition": "patellofemoral pain", "discharge_reason": "goals_met"},
    ]  # fmt: skip
    assert raw.lines.tolist() == [5]
    assert "1 EpisodeOfCare entered in error dropped." in raw.notes


def test_sessions_from_encounters_with_their_pain(collection):
    raw = collection.read("sessions", TableMapping())
    assert rows(raw) == [
        {"session_id": "S1", "episode_id": "E1", "patient_id": "P1", "practitioner_id": "PR1",
         "session_date": "2026-03-02T09:30:00+11:00", "session_time": "2026-03-02T09:30:00+11:00", "status": "attended",
         "pain_pre": "7", "pain_post": "4"},
        {"session_id": "S2", "episode_id": "E1", "patient_id": "P1", "practitioner_id": "",
         "session_date": "2026-03-09T14:00:00+11:00", "session_time": "2026-03-09T14:00:00+11:00", "status": "cancelled",
         "pain_pre": "", "pain_post": ""},
        {"session_id": "S4", "episode_id": "E1", "patient_id": "P1", "practitioner_id": "",
         "session_date": "2026-04-14T08:05:00+10:00", "session_time": "2026-04-14T08:05:00+10:00", "status": "booked",
         "pain_pre": "", "pain_post": ""},
        {"session_id": "S5", "episode_id": "E1", "patient_id": "P1", "practitioner_id": "",
         "session_date": "2026-03-16", "session_time": "", "status": "attended",
         "pain_pre": "6", "pain_post": ""},
    ]  # fmt: skip
    assert raw.lines.tolist() == [8, 9, 11, 12]
    assert set(raw.notes) == {
        "1 Encounter entered in error dropped.",
        "1 Encounters without an EpisodeOfCare: episode taken from the patient's only episode covering the date.",
        "3 Encounters without a practitioner (practitioner_id blank).",
        "1 pain readings of an encounter beyond its first (pain_pre) and last (pain_post) not kept.",
        "1 pain Observations linked to an encounter that is not in the source (or was dropped).",
        "1 pain Observations entered in error or cancelled dropped.",
    }


def test_assessments_are_pain_readings_without_an_encounter(collection):
    raw = collection.read("assessments", TableMapping())
    assert rows(raw) == [
        {"patient_id": "P1", "episode_id": "E1", "assessed_on": "2026-04-06T11:00:00+10:00", "pain": "3.5",
         "assessment_id": "O6"},
    ]  # fmt: skip
    assert raw.lines.tolist() == [18]


def test_rom_from_observations_in_degrees(collection):
    raw = collection.read("rom", TableMapping())
    base = {"patient_id": "P1", "episode_id": "E1", "session_id": "S1", "measured_on": "2026-03-02", "rater_id": ""}
    assert rows(raw) == [
        {**base, "joint": "knee", "movement": "flexion", "side": "left", "degrees": "120", "mode": "active",
         "device": "goniometer"},
        {**base, "joint": "cervical_spine", "movement": "rotation", "side": "right", "degrees": "62", "mode": "",
         "device": "crom"},
        {**base, "joint": "cervical_spine", "movement": "flexion", "side": "none", "degrees": "45",
         "mode": "passive", "device": ""},
        {**base, "session_id": "", "measured_on": "2026-03-03", "joint": "shoulder", "movement": "abduction",
         "side": "", "degrees": "150", "mode": "", "device": ""},
    ]  # fmt: skip
    assert raw.lines.tolist() == [21, 22, 23, 24]
    assert "1 readings of a limb joint without laterality (side blank)." in raw.notes


def test_proms_from_scored_questionnaire_responses(collection):
    raw = collection.read("proms", TableMapping())
    assert rows(raw) == [
        {"patient_id": "P1", "episode_id": "E1", "completed_on": "2026-03-02T09:20:00+11:00", "instrument": "NDI",
         "score": "18"},
    ]  # fmt: skip
    assert set(raw.notes) == {
        "1 QuestionnaireResponses with status 'in-progress' left out.",
        "1 QuestionnaireResponses without a scored total left out.",
    }


def test_adverse_events_linked_by_encounter_or_suspect_procedure(collection):
    raw = collection.read("adverse_events", TableMapping())
    assert rows(raw) == [
        {"session_id": "S1", "patient_id": "P1", "event_type": "bruising", "severity": "mild", "notes": ""},
        {"session_id": "S5", "patient_id": "P1", "event_type": "pneumothorax", "severity": "serious", "notes": ""},
    ]
    assert raw.notes == ["1 potential AdverseEvents (near misses) left out."]


def test_tables_without_resources_are_absent(collection):
    assert collection.read("journal", TableMapping()) is None


def test_transaction_bundle_with_urn_references_and_no_ids(tmp_path):
    pid, eid, sid = (f"urn:uuid:0000000{i}-aaaa-4bbb-8ccc-dddddddddddd" for i in (1, 2, 3))
    entries = [
        {"fullUrl": pid, "resource": {"resourceType": "Patient", "gender": "unknown"},
         "request": {"method": "POST", "url": "Patient"}},
        {"fullUrl": eid, "resource": {"resourceType": "EpisodeOfCare", "status": "active", "patient": ref(pid),
                                      "period": {"start": "2026-05-01"}},
         "request": {"method": "POST", "url": "EpisodeOfCare"}},
        {"fullUrl": sid, "resource": {"resourceType": "Encounter", "status": "arrived", "subject": ref(pid),
                                      "episodeOfCare": [ref(eid)], "period": {"start": "2026-05-01T07:00:00Z"},
                                      "participant": [{"individual": ref(
                                          "https://fhir.example.org/r4/Practitioner/PR7/_history/2")}]},
         "request": {"method": "PUT", "url": "Encounter/S77"}},
        {"fullUrl": "urn:uuid:00000004-aaaa-4bbb-8ccc-dddddddddddd",
         "resource": pain("", {"valueInteger": 2}, when="2026-05-01T07:05:00Z", encounter=sid, patient=pid),
         "request": {"method": "POST", "url": "Observation"}},
        {"request": {"method": "DELETE", "url": "Patient/OLD"}},
    ]  # fmt: skip
    entries[3]["resource"].pop("id")
    source = fhir_source.open_source(
        write(tmp_path, {"resourceType": "Bundle", "type": "transaction", "entry": entries}), FHIR
    )
    patient, episode = pid.removeprefix("urn:uuid:"), eid.removeprefix("urn:uuid:")
    assert rows(source.read("patients", TableMapping()))[0]["patient_id"] == patient
    assert rows(source.read("episodes", TableMapping()))[0]["patient_id"] == patient
    assert rows(source.read("sessions", TableMapping())) == [
        {"session_id": "S77", "episode_id": episode, "patient_id": patient, "practitioner_id": "PR7",
         "session_date": "2026-05-01T07:00:00Z", "session_time": "2026-05-01T07:00:00Z", "status": "attended",
         "pain_pre": "2", "pain_post": ""},
    ]  # fmt: skip
    notes = source.read("patients", TableMapping()).notes
    assert "1 DELETE requests without a resource skipped." in notes


def test_searchset_outcomes_are_counted_not_read(tmp_path):
    data = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [
            {"resource": {"resourceType": "Patient", "id": "P1"}, "search": {"mode": "match"}},
            {"resource": {"resourceType": "OperationOutcome", "issue": []}, "search": {"mode": "outcome"}},
            {"resource": {"resourceType": "Patient", "id": "P2"}, "search": {"mode": "include"}},
        ],
    }
    raw = fhir_source.open_source(write(tmp_path, data), FHIR).read("patients", TableMapping())
    assert raw.frame["patient_id"].tolist() == ["P1", "P2"]
    assert raw.lines.tolist() == [1, 3]
    assert "1 search outcomes (OperationOutcome) skipped." in raw.notes


def test_bulk_data_ndjson_folder(tmp_path):
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "Patient.ndjson").write_text(
        '{"resourceType":"Patient","id":"P1","gender":"other"}\n\n{"resourceType":"Patient","id":\n'
        '{"resourceType":"Patient","id":"P2","birthDate":"1990"}\n',
        encoding="utf-8",
    )
    (folder / "Encounter.ndjson").write_text(
        json.dumps({"resourceType": "Encounter", "id": "S1", "status": "finished", "subject": ref("Patient/P1"),
                    "period": {"start": "2026-01-05T09:00:00+11:00"}}) + "\n",
        encoding="utf-8",
    )  # fmt: skip
    (folder / "README.txt").write_text("export manifest", encoding="utf-8")
    source = open_source(folder, Mapping())
    assert source.kind == "fhir"
    raw = source.read("patients", TableMapping())
    assert raw.frame[["patient_id", "birth_year", "sex"]].values.tolist() == [
        ["P1", "", "X"],
        ["", "", ""],
        ["P2", "1990", ""],
    ]
    assert raw.lines.tolist() == [1, 3, 4] and raw.line_label == "line"
    assert raw.path == folder / "Patient.ndjson"
    assert raw.malformed == {1: "line is not JSON (Expecting value)"}
    assert "files that are not NDJSON were not read: ['README.txt']." in raw.notes
    sessions = source.read("sessions", TableMapping())
    assert sessions.path == folder / "Encounter.ndjson" and sessions.frame["session_id"].tolist() == ["S1"]


def test_mapping_resource_picks_one_resource_type(tmp_path):
    resources = [
        {"resourceType": "Patient", "id": "P1"},
        {"resourceType": "Encounter", "id": "S1", "status": "finished", "subject": ref("Patient/P1")},
        {"resourceType": "Appointment", "id": "S2", "status": "noshow", "start": "2026-01-05T09:00:00+11:00",
         "participant": [{"actor": ref("Patient/P1")}]},
        {"resourceType": "Flag", "id": "F1", "status": "active", "subject": ref("Patient/P1"),
         "code": {"text": "needle phobia"}},
    ]  # fmt: skip
    source = fhir_source.open_source(write(tmp_path, bundle("collection", resources)), FHIR)
    assert source.read("sessions", TableMapping()).frame["status"].tolist() == [
        "attended",
        "no_show",
    ]
    assert source.read("sessions", TableMapping(resource="Appointment")).frame["session_id"].tolist() == ["S2"]
    flags = source.read("journal", TableMapping(resource="Flag"))
    assert rows(flags) == [
        {"resourceType": "Flag", "id": "F1", "status": "active", "subject.reference": "Patient/P1",
         "code.text": "needle phobia"},
    ]  # fmt: skip
    with pytest.raises(InputError, match="names a `file`, which a FHIR source does not have"):
        source.read("sessions", TableMapping(file="appointments.csv"))


def test_load_clinic_detects_a_bundle_without_a_mapping(tmp_path):
    path = write(tmp_path, bundle("collection", COLLECTION))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clinic = load_clinic(path, as_of=AS_OF)
    assert clinic.patients["patient_id"].tolist() == ["P1", "P2"]
    assert clinic.sessions["session_id"].tolist() == ["S1", "S2", "S4", "S5"]
    assert clinic.sessions["session_date"].dt.strftime("%Y-%m-%d").tolist() == [
        "2026-03-02", "2026-03-09", "2026-04-14", "2026-03-16"
    ]  # fmt: skip
    assert clinic.sessions["pain_pre"].tolist()[0] == 7.0
    assert clinic.assessments["pain"].tolist() == [3.5]
    problems = clinic.quality.problems
    assert problems.loc[problems["table"] == "patients", ["line", "rule"]].values.tolist() == [[3, "malformed_record"]]
    assert "side" in problems.loc[problems["table"] == "rom", "column"].tolist()  # the shoulder without laterality


@pytest.mark.parametrize(
    ("name", "content"),
    [("data.json", b'{"patients": [1, 2]}'), ("report.pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n")],
)
def test_unsupported_file_names_the_supported_formats(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(UnreadableFileError, match="not a format needling-analytics can read") as caught:
        load_clinic(path, as_of=AS_OF)
    assert "a FHIR R4 Bundle (.json) or Bulk Data NDJSON files" in caught.value.hint


def test_broken_json_that_looks_like_fhir(tmp_path):
    path = tmp_path / "bundle.json"
    path.write_text('{"resourceType": "Bundle", "entry": [', encoding="utf-8")
    with pytest.raises(UnreadableFileError, match="not valid JSON"):
        load_clinic(path, as_of=AS_OF)


# Round trip: the demo clinic written as FHIR, loaded back, compared with the canonical tables.


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    tables = demo_tables(n_patients=40, seed=11)
    out = tmp_path_factory.mktemp("fhir-demo")
    paths = write_export("fhir", tables, out, seed=11)
    return tables, out, paths


def _load(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_clinic(path, Mapping(kind="fhir", timezone="Australia/Melbourne"), as_of="2026-10-31")


def test_demo_export_files(demo):
    tables, out, paths = demo
    names = {p.relative_to(out).as_posix() for p in paths}
    assert {"bundle.json", "mapping.yaml", "ndjson/Patient.ndjson", "ndjson/Encounter.ndjson"} <= names
    data = json.loads((out / "bundle.json").read_text(encoding="utf-8"))
    assert data["type"] == "transaction"
    resources = [e["resource"] for e in data["entry"]]
    assert all(e["fullUrl"].startswith("urn:uuid:") for e in data["entry"])
    encounter = next(r for r in resources if r["resourceType"] == "Encounter")
    assert encounter["subject"]["reference"].startswith("urn:uuid:")
    starts = {r["period"]["start"][-6:] for r in resources if r["resourceType"] == "Encounter"}
    assert starts == {"+10:00", "+11:00"}  # both sides of daylight saving
    pains = [r for r in resources if r["resourceType"] == "Observation" and r["code"]["coding"][0]["code"] == "72514-3"]
    assert {"valueInteger", "valueQuantity"} <= {k for r in pains for k in r if k.startswith("value")}
    assert len({r["category"][0]["coding"][0]["code"] for r in pains}) == 3
    assert any("extension" in r.get("bodySite", {}) for r in resources if r["resourceType"] == "Observation")
    assert yaml.safe_load((out / "mapping.yaml").read_text(encoding="utf-8")) == {
        "extends": "fhir", "source": "fhir", "timezone": "Australia/Melbourne"
    }  # fmt: skip


@pytest.mark.parametrize("where", ["bundle.json", "ndjson"])
def test_demo_round_trip(demo, where):
    tables, out, _ = demo
    clinic = _load(out / where)
    assert clinic.quality.rows_quarantined == 0
    # patients: ids, birth years and sex as generated
    want = tables["patients"][["patient_id", "birth_year", "sex"]].astype(str)
    got = clinic.patients[["patient_id", "birth_year", "sex"]].astype(str)
    pd.testing.assert_frame_equal(got.reset_index(drop=True), want.reset_index(drop=True))
    # attended sessions: same ids, dates, times, patients, episodes and pain
    columns = ["session_id", "episode_id", "patient_id", "session_date", "session_time", "pain_pre", "pain_post"]
    s = tables["sessions"]
    want = s.loc[s["status"] == "attended", columns].sort_values("session_id").reset_index(drop=True)
    got = clinic.sessions.loc[clinic.sessions["status"] == "attended", columns].sort_values("session_id")
    got = got.reset_index(drop=True)
    for column in columns[:5]:
        assert got[column].astype(str).tolist() == want[column].astype(str).tolist(), column
    for column in columns[5:]:
        np.testing.assert_array_equal(got[column].to_numpy(float), want[column].to_numpy(float), err_msg=column)
    # every session comes back with its status (no-shows from Appointments)
    statuses = clinic.sessions.set_index("session_id")["status"].astype(str)
    assert statuses.sort_index().to_dict() == s.set_index("session_id")["status"].astype(str).sort_index().to_dict()
    # episodes, PROMs, ROM and adverse events
    e = tables["episodes"]
    assert clinic.episodes[["episode_id", "patient_id", "body_region"]].astype(str).values.tolist() == (
        e[["episode_id", "patient_id", "body_region"]].astype(str).values.tolist()
    )
    assert sorted(clinic.proms["score"]) == sorted(tables["proms"]["score"])
    r = tables["rom"]
    rom_columns = ["episode_id", "session_id", "joint", "movement", "side", "degrees", "mode", "device"]
    assert clinic.rom[rom_columns].astype(str).values.tolist() == r[rom_columns].astype(str).values.tolist()
    a = tables["adverse_events"]
    ae_columns = ["session_id", "event_type", "severity"]
    assert clinic.adverse_events[ae_columns].astype(str).values.tolist() == a[ae_columns].astype(str).values.tolist()


def test_demo_mapping_file_loads(demo):
    """The demo's mapping.yaml (extends, source, timezone) loads the bundle with nothing quarantined."""
    _, out, _ = demo
    mapping = read_mapping(out / "mapping.yaml")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clinic = load_clinic(out / "bundle.json", mapping, as_of="2026-10-31")
    assert clinic.quality.rows_quarantined == 0


def test_template_names_resources_the_reader_knows():
    from importlib.resources import files

    template = yaml.safe_load(files("needling_analytics.templates").joinpath("fhir.yaml").read_text("utf-8"))
    for table, spec in template["tables"].items():
        assert spec["resource"] in fhir_source.TABLE_RESOURCES[table][0]


def test_utc_times_become_the_clinic_day(tmp_path):
    resources = [
        {"resourceType": "Patient", "id": "P1"},
        {"resourceType": "EpisodeOfCare", "id": "E1", "patient": ref("Patient/P1"), "period": {"start": "2026-03-01"}},
        {"resourceType": "Encounter", "id": "S1", "status": "finished", "subject": ref("Patient/P1"),
         "episodeOfCare": [ref("EpisodeOfCare/E1")], "period": {"start": "2026-03-01T23:30:00Z"}},
    ]  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clinic = load_clinic(write(tmp_path, bundle("collection", resources)),
                             Mapping(kind="fhir", timezone="Australia/Melbourne"), as_of=AS_OF)  # fmt: skip
    assert clinic.sessions["session_date"].dt.strftime("%Y-%m-%d").tolist() == ["2026-03-02"]
    assert clinic.sessions["session_time"].tolist() == ["10:30"]


def test_pain_before_and_after_needling_named_in_the_code(tmp_path):
    def labelled(ident, value, when, text, encounter="Encounter/S1"):
        obs = pain(ident, {"valueInteger": value}, when=when, encounter=encounter)
        obs["code"]["text"] = text
        return obs

    resources = [
        {"resourceType": "Patient", "id": "P1"},
        {"resourceType": "Encounter", "id": "S1", "status": "finished", "subject": ref("Patient/P1")},
        # recorded in the wrong order: the after-needling reading first
        labelled("O1", 3, "2026-03-02T09:00:00+11:00", "Pain after needling"),
        labelled("O2", 8, "2026-03-02T09:05:00+11:00", "NPRS before treatment"),
        {"resourceType": "Encounter", "id": "S2", "status": "finished", "subject": ref("Patient/P1")},
        labelled("O3", 2, "2026-03-09T09:00:00+11:00", "Post-needling pain", "Encounter/S2"),  # only a post reading
    ]
    raw = fhir_source.open_source(write(tmp_path, bundle("collection", resources)), FHIR).read(
        "sessions", TableMapping()
    )
    assert raw.frame[["session_id", "pain_pre", "pain_post"]].values.tolist() == [["S1", "8", "3"], ["S2", "", "2"]]


def test_a_single_ndjson_file_and_a_folder_of_other_ndjson(tmp_path):
    path = tmp_path / "export.ndjson"
    path.write_text(
        '{"resourceType":"Patient","id":"P1"}\n{"resourceType":"Observation","status":"final",'
        '"code":{"coding":[{"system":"http://loinc.org","code":"72514-3"}]},"subject":{"reference":"Patient/P1"},'
        '"effectiveDateTime":"2026-02-01","valueInteger":4}\n',
        encoding="utf-8",
    )
    source = open_source(path, Mapping())
    assert source.kind == "fhir"
    patients = source.read("patients", TableMapping())
    assert patients.frame["patient_id"].tolist() == ["P1"] and patients.line_label == "line"
    assessments = source.read("assessments", TableMapping())  # no id is no problem for an assessment
    assert rows(assessments) == [
        {"patient_id": "P1", "episode_id": "", "assessed_on": "2026-02-01", "pain": "4", "assessment_id": ""}
    ]
    assert assessments.lines.tolist() == [2] and assessments.malformed == {}
    assert "1 no episode: no encounter with an EpisodeOfCare, and not one EpisodeOfCare covering the date." in (
        assessments.notes
    )
    other = tmp_path / "logs"
    other.mkdir()
    (other / "events.ndjson").write_text('{"level": "info"}\n', encoding="utf-8")
    assert not fhir_source.detect(other)


def test_a_reference_that_cannot_be_resolved_is_blank_and_quarantined(tmp_path):
    resources = [
        {"resourceType": "Patient", "id": "P1"},
        {"resourceType": "EpisodeOfCare", "id": "E1", "patient": ref("Patient/P1"), "period": {"start": "2026-03-01"}},
        {"resourceType": "Encounter", "id": "S1", "status": "finished", "subject": ref("Patient/P1"),
         "episodeOfCare": [ref("EpisodeOfCare/E1")], "period": {"start": "2026-03-02T09:00:00+11:00"}},
        {"resourceType": "Encounter", "id": "S2", "status": "finished", "subject": ref("urn:uuid:not-in-bundle"),
         "episodeOfCare": [ref("EpisodeOfCare/E1")], "period": {"start": "2026-03-03T09:00:00+11:00"}},
    ]  # fmt: skip
    path = write(tmp_path, bundle("collection", resources))
    assert rows(fhir_source.open_source(path, FHIR).read("sessions", TableMapping()))[1]["patient_id"] == ""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clinic = load_clinic(path, as_of=AS_OF)
    assert clinic.sessions["session_id"].tolist() == ["S1"]
    problems = clinic.quality.problems
    assert problems.loc[problems["table"] == "sessions", ["line", "column"]].values.tolist() == [[4, "patient_id"]]


def test_a_range_of_motion_observation_with_components_only_gives_a_row_per_component(tmp_path):
    """Knee flexion and extension in one Observation, each a component in degrees; no value of its own."""
    deg = {"unit": "deg", "system": "http://unitsofmeasure.org", "code": "deg"}
    knee = rom_obs("R9", "knee-rom", 0, site="49076000", side="24028007")
    del knee["valueQuantity"]
    knee["component"] = [
        {"code": {"coding": [{"system": "http://clinic.example/rom", "code": "knee-flexion-active"}]},
         "valueQuantity": {"value": 118, **deg}},
        {"code": {"coding": [{"system": "http://clinic.example/rom", "code": "knee-extension-active"}]},
         "valueQuantity": {"value": -5, **deg}},
    ]  # fmt: skip
    empty = rom_obs("R10", "knee-flexion-active", 0, site="49076000", side="24028007")
    del empty["valueQuantity"]
    resources = [{"resourceType": "Patient", "id": "P1"}, knee, empty]
    source = fhir_source.open_source(write(tmp_path, bundle("collection", resources)), Mapping())
    raw = source.read("rom", TableMapping())
    got = [(r["movement"], r["side"], r["degrees"], r["mode"]) for r in rows(raw)]
    assert got == [("flexion", "right", "118", "active"), ("extension", "right", "-5", "active")]
    # the one without any value is not taken for a reading, and is counted, not lost silently
    notes = " ".join(source.read("patients", TableMapping()).notes)
    assert "1 Observation(s) neither pain (LOINC 72514-3) nor range of motion (degrees) were skipped" in notes
