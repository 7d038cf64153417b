"""The demo clinic as FHIR R4: a transaction Bundle and the same data as Bulk Data NDJSON.

``bundle.json`` is a ``transaction`` Bundle of ``PUT`` entries with
``urn:uuid`` fullUrls and references by urn; ``ndjson/`` holds one
``<Type>.ndjson`` file per resource type with ``Type/id`` references, as
a Bulk Data ``$export`` gives them. Times carry the Melbourne offset
(+10:00 or +11:00). Pain (LOINC 72514-3) is a ``valueInteger`` in some
Observations and a ``valueQuantity`` in others, under the categories
vital-signs, survey or exam, its code's text saying before or after needling; range of motion uses local codes, SNOMED
body sites, the laterality extension and UCUM ``deg``. Attended sessions
are ``finished`` Encounters; no-shows, and some cancellations, are
Appointments with no Encounter; about one Encounter in twenty has no
participant. The journal has no FHIR form here and is not written.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import numpy as np
import pandas as pd

from ...load.sources import fhir_codes as codes

TIMEZONE = "Australia/Melbourne"
_NAMESPACE = uuid.UUID("5b0c6a55-3f43-4a8e-9d0e-6f1d2b7c9a10")
_LOCAL = "http://example.org/fhir/needling"
_OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
_PAIN_CATEGORIES = ("vital-signs", "survey", "exam")
_SEX = {"M": "male", "F": "female", "X": "other", "U": "unknown"}
_SIDE = {"left": "7771000", "right": "24028007"}
_SEVERITY = {"mild": "mild", "significant": "moderate", "serious": "severe"}
_JOINT_CODE = {v: k for k, v in codes.JOINT_CODES.items()}
_REGION_CODE = {v: k for k, v in codes.REGION_CODES.items()}


def _blank(value) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value))


class _Writer:
    """Resources in the order written, each referable as ``Type/id`` or by its urn."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.resources: list[dict] = []

    @staticmethod
    def urn(kind: str, ident: str) -> str:
        return f"urn:uuid:{uuid.uuid5(_NAMESPACE, f'{kind}/{ident}')}"

    @staticmethod
    def ref(kind: str, ident) -> dict:
        return {"reference": f"{kind}/{ident}"}

    def add(self, resource: dict) -> None:
        self.resources.append(resource)


def _when(day, time) -> str:
    """ISO dateTime with the Melbourne offset of that day and time (the date alone without a time)."""
    if _blank(time):
        return pd.Timestamp(day).strftime("%Y-%m-%d")
    local = pd.Timestamp(f"{pd.Timestamp(day):%Y-%m-%d} {time}").tz_localize(TIMEZONE)
    return local.isoformat()


def _patients(w: _Writer, patients: pd.DataFrame) -> None:
    for row in patients.itertuples(index=False):
        resource = {"resourceType": "Patient", "id": row.patient_id, "identifier": [
            {"system": f"{_LOCAL}/patient-number", "value": row.patient_id}]}  # fmt: skip
        if not _blank(row.last_name):
            resource["name"] = [{"use": "official", "family": row.last_name, "given": [row.first_name]}]
        if not _blank(row.sex):
            resource["gender"] = _SEX[row.sex]
        if not _blank(row.birth_year):
            resource["birthDate"] = f"{int(row.birth_year)}-{w.rng.integers(1, 13):02d}-{w.rng.integers(1, 29):02d}"
        if not _blank(row.postcode):
            resource["address"] = [{"use": "home", "postalCode": row.postcode, "country": "AU"}]
        w.add(resource)


def _episodes(w: _Writer, episodes: pd.DataFrame) -> None:
    for row in episodes.itertuples(index=False):
        condition = {
            "resourceType": "Condition",
            "id": f"C{row.episode_id}",
            "subject": w.ref("Patient", row.patient_id),
            "code": {"text": row.condition},
            "bodySite": [
                {"coding": [{"system": codes.SNOMED, "code": _REGION_CODE[row.body_region]}], "text": row.body_region}
                if row.body_region in _REGION_CODE
                else {"text": row.body_region}
            ],
        }
        period = {"start": f"{row.start_date:%Y-%m-%d}"}
        if not _blank(row.end_date) and row.end_date is not pd.NaT:
            period["end"] = f"{row.end_date:%Y-%m-%d}"
        episode = {
            "resourceType": "EpisodeOfCare",
            "id": row.episode_id,
            "status": "finished" if "end" in period else "active",
            "patient": w.ref("Patient", row.patient_id),
            "period": period,
            "diagnosis": [{"condition": w.ref("Condition", condition["id"]), "rank": 1}],
        }
        if not _blank(row.discharge_reason):
            episode["extension"] = [{"url": f"{_LOCAL}/StructureDefinition/discharge-reason",
                                     "valueCode": row.discharge_reason}]  # fmt: skip
        w.add(condition)
        w.add(episode)


def _pain(w: _Writer, session, value, when: str, suffix: str) -> dict:
    category = _PAIN_CATEGORIES[int(w.rng.integers(len(_PAIN_CATEGORIES)))]
    obs = {
        "resourceType": "Observation",
        "id": f"{session.session_id}-{suffix}",
        "status": "final",
        "category": [{"coding": [{"system": _OBS_CATEGORY, "code": category}]}],
        "code": {"coding": [{"system": codes.LOINC, "code": codes.PAIN_CODE,
                             "display": "Pain severity - 0-10 verbal numeric rating [Score] - Reported"}],
                 "text": "Pain before needling" if suffix == "pain-pre" else "Pain after needling"},
        "subject": w.ref("Patient", session.patient_id),
        "encounter": w.ref("Encounter", session.session_id),
        "effectiveDateTime": when,
    }  # fmt: skip
    if float(value).is_integer() and w.rng.random() < 0.5:
        obs["valueInteger"] = int(value)
    else:
        obs["valueQuantity"] = {"value": float(value), "unit": "{score}", "system": codes.UCUM, "code": "{score}"}
    return obs


def _sessions(w: _Writer, sessions: pd.DataFrame) -> None:
    for s in sessions.itertuples(index=False):
        start = _when(s.session_date, s.session_time)
        who = [] if _blank(s.practitioner_id) else [w.ref("Practitioner", s.practitioner_id)]
        as_appointment = s.status == "no_show" or (s.status == "cancelled" and w.rng.random() < 0.5)
        if as_appointment:
            w.add({
                "resourceType": "Appointment", "id": s.session_id,
                "status": "noshow" if s.status == "no_show" else "cancelled",
                "start": start,
                "participant": [{"actor": w.ref("Patient", s.patient_id), "status": "accepted"}]
                + [{"actor": ref, "status": "accepted"} for ref in who],
                "supportingInformation": [w.ref("EpisodeOfCare", s.episode_id)],
            })  # fmt: skip
            continue
        status = {"attended": "finished", "cancelled": "cancelled", "booked": "planned", "unmarked": "unknown"}
        encounter = {
            "resourceType": "Encounter",
            "id": s.session_id,
            "status": status[s.status],
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "subject": w.ref("Patient", s.patient_id),
            "episodeOfCare": [w.ref("EpisodeOfCare", s.episode_id)],
            "period": {"start": start},
        }
        if who and w.rng.random() >= 0.05:
            encounter["participant"] = [{"individual": who[0]}]
        w.add(encounter)
        if not _blank(s.pain_pre):
            w.add(_pain(w, s, s.pain_pre, start, "pain-pre"))
        if not _blank(s.pain_post):
            later = (pd.Timestamp(start) + pd.Timedelta(minutes=25)).isoformat() if "T" in start else start
            w.add(_pain(w, s, s.pain_post, later, "pain-post"))


def _rom(w: _Writer, rom: pd.DataFrame, times: dict) -> None:
    for i, r in enumerate(rom.itertuples(index=False), start=1):
        site = {"coding": [{"system": codes.SNOMED, "code": _JOINT_CODE[r.joint]}]} if r.joint in _JOINT_CODE else {}
        site["text"] = r.joint.replace("_", " ")
        if r.side in _SIDE:
            site["extension"] = [{"url": codes.LATERALITY_URL, "valueCodeableConcept": {
                "coding": [{"system": codes.SNOMED, "code": _SIDE[r.side], "display": r.side.title()}]}}]  # fmt: skip
        code = f"{r.joint}-{r.movement}".replace("_", "-") + ("" if _blank(r.mode) else f"-{r.mode}")
        obs = {
            "resourceType": "Observation",
            "id": f"ROM{i:06d}",
            "status": "final",
            "category": [{"coding": [{"system": _OBS_CATEGORY, "code": "exam"}]}],
            "code": {"coding": [{"system": f"{_LOCAL}/CodeSystem/rom", "code": code}],
                     "text": f"{r.joint} {r.movement} range of motion".replace("_", " ")},
            "subject": w.ref("Patient", r.patient_id),
            "effectiveDateTime": times.get(r.session_id) or f"{r.measured_on:%Y-%m-%d}",
            "bodySite": site,
            "valueQuantity": {"value": float(r.degrees), "unit": "deg", "system": codes.UCUM, "code": "deg"},
        }  # fmt: skip
        if not _blank(r.session_id):
            obs["encounter"] = w.ref("Encounter", r.session_id)
        if not _blank(r.device):
            obs["method"] = {"coding": [{"system": f"{_LOCAL}/CodeSystem/rom-device", "code": r.device}]}
        if not _blank(r.rater_id):
            obs["performer"] = [w.ref("Practitioner", r.rater_id)]
        w.add(obs)


def _proms(w: _Writer, proms: pd.DataFrame, sessions: pd.DataFrame) -> None:
    attended = sessions[sessions["status"] == "attended"]
    on_day = {(e, d): s for s, e, d in attended[["session_id", "episode_id", "session_date"]].itertuples(index=False)}
    for i, p in enumerate(proms.itertuples(index=False), start=1):
        response = {
            "resourceType": "QuestionnaireResponse",
            "id": f"QR{i:06d}",
            "questionnaire": f"{_LOCAL}/Questionnaire/{p.instrument}",
            "status": "completed",
            "subject": w.ref("Patient", p.patient_id),
            "authored": f"{p.completed_on:%Y-%m-%d}",
            "item": [{"linkId": "total", "text": "Total score", "answer": [{"valueDecimal": float(p.score)}]}],
        }
        session = on_day.get((p.episode_id, p.completed_on))
        if session:
            response["encounter"] = w.ref("Encounter", session)
        w.add(response)


def _adverse_events(w: _Writer, events: pd.DataFrame, times: dict) -> None:
    for i, a in enumerate(events.itertuples(index=False), start=1):
        event = {
            "resourceType": "AdverseEvent",
            "id": f"AE{i:05d}",
            "actuality": "actual",
            "event": {"coding": [{"system": f"{_LOCAL}/CodeSystem/adverse-event", "code": a.event_type}],
                      "text": a.event_type.replace("_", " ")},
            "subject": w.ref("Patient", a.patient_id),
            "encounter": w.ref("Encounter", a.session_id),
            "date": times.get(a.session_id, ""),
            "severity": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/adverse-event-severity",
                                     "code": _SEVERITY[a.severity]}]},
        }  # fmt: skip
        if a.severity == "serious":
            event["seriousness"] = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/adverse-event-seriousness",
                                                "code": "serious"}]}  # fmt: skip
        w.add(event)


def _by_urn(resources: list[dict]) -> list[dict]:
    """Bundle entries whose references point to the urn:uuid fullUrls of the referenced resources."""

    def swap(value):
        if isinstance(value, dict):
            out = {k: swap(v) for k, v in value.items()}
            ref = out.get("reference")
            if isinstance(ref, str) and "/" in ref and set(out) == {"reference"}:
                out["reference"] = _Writer.urn(*ref.split("/", 1))
            return out
        return [swap(v) for v in value] if isinstance(value, list) else value

    return [
        {
            "fullUrl": _Writer.urn(r["resourceType"], r["id"]),
            "resource": swap(r),
            "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"},
        }
        for r in resources
    ]


def write(tables: dict[str, pd.DataFrame], out_dir: Path, *, seed: int = 0) -> list[Path]:
    """Write ``bundle.json``, ``ndjson/<Type>.ndjson`` and ``mapping.yaml``; return the files written."""
    w = _Writer(np.random.default_rng(seed))
    sessions = tables["sessions"]
    times = {s: _when(d, t) for s, d, t in sessions[["session_id", "session_date", "session_time"]].itertuples(index=False)}  # fmt: skip
    _patients(w, tables["patients"])
    for pr in sorted(set(sessions["practitioner_id"].dropna()) | set(tables["rom"]["rater_id"].dropna())):
        w.add({"resourceType": "Practitioner", "id": pr, "active": True})
    _episodes(w, tables["episodes"])
    _sessions(w, sessions)
    _rom(w, tables["rom"], times)
    _proms(w, tables["proms"], sessions)
    _adverse_events(w, tables["adverse_events"], times)
    out_dir = Path(out_dir)
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": _by_urn(w.resources)}
    paths = [out_dir / "bundle.json"]
    paths[0].write_text(json.dumps(bundle, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    folder = out_dir / "ndjson"
    folder.mkdir(exist_ok=True)
    for kind in dict.fromkeys(r["resourceType"] for r in w.resources):
        path = folder / f"{kind}.ndjson"
        lines = (json.dumps(r, ensure_ascii=False) for r in w.resources if r["resourceType"] == kind)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        paths.append(path)
    mapping = out_dir / "mapping.yaml"
    mapping.write_text(
        "# The demo clinic's FHIR export: bundle.json (a transaction Bundle) or the ndjson/ folder.\n"
        "extends: fhir\nsource: fhir\ntimezone: Australia/Melbourne\n",
        encoding="utf-8",
    )
    return [*paths, mapping]
