"""The demo clinic as a Cliniko clinic exports it.

Field names follow Cliniko's public API (``redguava/cliniko-api``:
``sections/individual_appointments.md``, ``patients.md``,
``patient_cases.md``, ``medical_alerts.md``, ``practitioners.md``,
``appointment_types.md``) and the live-shaped booking in
``PipedreamHQ/pipedream`` ``components/cliniko/sources/new-booking-created/
test-event.mjs``. The API returns links, not names, for an appointment's
patient, practitioner, type and case; the files here hold what an exporter
resolves them to (``patient_id``, ``practitioner_id``,
``appointment_type_name``, ``patient_case_id``). Treatment notes are
separate records in Cliniko (``sections/treatment_notes.md``); the
clinic's note questions are flattened here into one column per question
on the appointment they belong to. See /work/shared/EXPORTS.md section 1.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ._cliniko_ids import IdMaker
from ._cliniko_variants import write_excel_eu, write_workbook
from ._diary import CLINIC_TZ, build_diary, local_to_utc, to_utc_iso
from ._notes import note_columns

INITIAL, STANDARD = "Initial Consultation", "Standard Appointment"
#: Minutes booked per appointment type.
DURATIONS = {INITIAL: 60, STANDARD: 30}
#: Cliniko's cancellation reason codes (API docs), with how often each is used here.
CANCELLATION_REASONS = {
    10: ("Feeling better", 0.15),
    20: ("Condition worse", 0.05),
    30: ("Sick", 0.35),
    40: ("Away", 0.15),
    50: ("Other", 0.15),
    60: ("Work", 0.15),
}
#: The clinic's treatment-note questions, flattened to one column each.
NOTE_FIELDS = {
    "pain_pre": "Pain before (NPRS)",
    "pain_post": "Pain after (NPRS)",
    "needles": "Needles",
    "muscles": "Muscles needled",
    "twitch_response": "Twitch response",
}
KNEE_SIDE, KNEE_FLEXION = "Affected side", "Knee flexion AROM (°)"
_SEX = {"F": "Female", "M": "Male", "X": "Non-binary", "U": ""}
_ALERTS = ("On warfarin", "Needle phobia", "Pacemaker", "Type 2 diabetes", "Lymphoedema left arm", "Nickel allergy")
_NOTES = ("Prefers afternoons", "Running late, SMS sent", "Parking ticket validated", "Rebooked by phone")
_PRACTITIONER_NAMES = [("Sarah", "Nguyen"), ("James", "O'Brien"), ("Priya", "Sharma"), ("Tom", "Walsh")]


def write(tables: dict[str, pd.DataFrame], out_dir: Path, *, seed: int) -> list[Path]:
    """Write the demo clinic as a Cliniko export, with its damaged copies.

    Parameters
    ----------
    tables : dict of str to DataFrame
        The canonical tables of :func:`~needling_analytics.demo.generate_clinic`.
    out_dir : Path
        Folder to write into (it exists).
    seed : int
        Seed for IDs, creation times, reasons and the extra diary rows.

    Returns
    -------
    list of Path
        The files written:

        * ``appointments.csv``: one row per appointment (individual
          appointment), past and future: id, created_at, updated_at,
          starts_at, ends_at (UTC, ``...Z``), patient_id, patient_name,
          practitioner_id, appointment_type_id, appointment_type_name,
          patient_arrived, did_not_arrive (``true``/``false``),
          cancelled_at, cancellation_reason, cancellation_reason_description
          (``""`` unless cancelled), cancellation_note, notes,
          patient_case_id, then the treatment-note questions
          Pain before (NPRS), Pain after (NPRS), Needles, Muscles needled
          (comma-separated), Twitch response (Yes/No), Affected side and
          Knee flexion AROM (°) (knee courses only).
        * ``patients.csv``: the Patients data export, Title-Case headers:
          Patient ID, Title, First Name, Preferred First Name, Last Name,
          Date of Birth, Gender, Email, Mobile Phone, Address 1, City,
          State, Post Code, Country, Occupation, Referral Source,
          Created At, Updated At, Last Appointment, Next Appointment.
        * ``patient_cases.csv``: one case per course of care: id,
          patient_id, name, issue_date, expiry_date, closed, max_sessions,
          referral, notes, created_at, updated_at.
        * ``medical_alerts.csv``: id, patient_id, name, created_at.
        * ``practitioners.csv``: id, title, first_name, last_name,
          designation, active.
        * ``appointment_types.csv``: id, name, duration_in_minutes.
        * ``mapping.yaml``: ``extends: cliniko`` plus the clinic's time
          zone and treatment-note questions.
        * ``excel-eu/appointments.csv`` and ``workbook/appointments.xlsx``:
          the appointments after a trip through Excel (see
          :mod:`._cliniko_variants`).
    """
    rng = np.random.default_rng([seed, 1])
    ids = IdMaker(rng)
    diary = build_diary(tables, rng)
    practitioners = _practitioners(diary, ids)
    types = pd.DataFrame({"name": [INITIAL, STANDARD], "duration_in_minutes": [60, 30]})
    types.insert(0, "id", ids.many(pd.Series([pd.Timestamp("2019-05-01T00:00:00Z")] * 2)))
    patients = _patients(tables, diary, rng, ids)
    cases = _patient_cases(tables, diary, rng, ids, patients)
    appointments = _appointments(tables, diary, rng, ids, patients, practitioners, types, cases)
    alerts = _medical_alerts(patients, rng, ids)

    frames = {
        "appointments.csv": appointments,
        "patients.csv": patients.drop(columns="demo_patient_id"),
        "patient_cases.csv": cases.drop(columns="episode_id"),
        "medical_alerts.csv": alerts,
        "practitioners.csv": practitioners.drop(columns="demo_practitioner_id"),
        "appointment_types.csv": types,
    }
    paths = []
    for name, frame in frames.items():
        frame.to_csv(out_dir / name, index=False, encoding="utf-8")
        paths.append(out_dir / name)
    paths.append(_write_mapping(out_dir))
    paths.append(write_excel_eu(appointments, out_dir / "excel-eu", rng))
    paths.append(write_workbook(appointments, out_dir / "workbook"))
    return paths


def _practitioners(diary: pd.DataFrame, ids: IdMaker) -> pd.DataFrame:
    codes = sorted(diary["practitioner_id"].dropna().unique())
    names = [_PRACTITIONER_NAMES[i % len(_PRACTITIONER_NAMES)] for i in range(len(codes))]
    created = pd.Series([pd.Timestamp("2018-02-01T00:00:00Z") + pd.Timedelta(days=300 * i) for i in range(len(codes))])
    return pd.DataFrame(
        {
            "id": ids.many(created),
            "title": "",
            "first_name": [n[0] for n in names],
            "last_name": [n[1] for n in names],
            "designation": "Physiotherapist",
            "active": "true",
            "demo_practitioner_id": codes,
        }
    )


def _patients(tables, diary: pd.DataFrame, rng: np.random.Generator, ids: IdMaker) -> pd.DataFrame:
    demo = tables["patients"]
    n = len(demo)
    first_seen = diary.groupby("patient_id")["start"].min().reindex(demo["patient_id"]).to_numpy()
    # About a third were registered years ago (legacy short IDs); the rest just before their first visit.
    legacy = rng.random(n) < 0.3
    old = pd.Timestamp("2017-03-01") + pd.to_timedelta(rng.integers(0, 6 * 365, n), unit="D")
    recent = pd.to_datetime(first_seen) - pd.to_timedelta(rng.integers(1, 11, n), unit="D")
    created = pd.Series(np.where(legacy, old, recent)) + pd.to_timedelta(rng.integers(8 * 60, 18 * 60, n), unit="min")
    created_utc = local_to_utc(created)
    birthday = pd.to_datetime(demo["birth_year"].astype(int).astype(str) + "-01-01") + pd.to_timedelta(
        rng.integers(0, 365, n), unit="D"
    )
    sex = demo["sex"].astype(str)
    attended = diary[diary["status"] == "attended"].groupby("patient_id")["start"].max()
    upcoming = diary[diary["status"] == "booked"].groupby("patient_id")["start"].min()
    return pd.DataFrame(
        {
            "Patient ID": ids.many(created_utc),
            "Title": np.where(sex == "F", "Ms", np.where(sex == "M", "Mr", "")),
            "First Name": demo["first_name"],
            "Preferred First Name": "",
            "Last Name": demo["last_name"],
            "Date of Birth": birthday.dt.strftime("%Y-%m-%d"),
            "Gender": sex.map(_SEX).fillna(""),
            "Email": (demo["first_name"] + "." + demo["last_name"]).str.lower().str.replace("'", "") + "@example.com",
            "Mobile Phone": ["614" + f"{rng.integers(0, 10**8):08d}" for _ in range(n)],
            "Address 1": "",
            "City": "Melbourne",
            "State": "VIC",
            "Post Code": demo["postcode"],
            "Country": "Australia",
            "Occupation": "",
            "Referral Source": rng.choice(["Google", "GP referral", "Friend or family", ""], n),
            "Created At": created_utc.dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Updated At": created_utc.dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Last Appointment": _local_text(attended.reindex(demo["patient_id"])),
            "Next Appointment": _local_text(upcoming.reindex(demo["patient_id"])),
            "demo_patient_id": demo["patient_id"],
        }
    ).reset_index(drop=True)


def _patient_cases(tables, diary, rng, ids: IdMaker, patients: pd.DataFrame) -> pd.DataFrame:
    episodes = tables["episodes"]
    patient_ids = dict(zip(patients["demo_patient_id"], patients["Patient ID"], strict=True))
    first = diary[diary["first_of_episode"]].set_index("episode_id")["start"].reindex(episodes["episode_id"])
    created = local_to_utc(first).reset_index(drop=True)
    return pd.DataFrame(
        {
            "id": ids.many(created),
            "patient_id": episodes["patient_id"].map(patient_ids).to_numpy(),
            "name": episodes["condition"].str.capitalize().to_numpy(),
            "issue_date": episodes["start_date"].dt.strftime("%Y-%m-%d").to_numpy(),
            "expiry_date": (episodes["start_date"] + pd.DateOffset(years=1)).dt.strftime("%Y-%m-%d").to_numpy(),
            "closed": np.where(episodes["end_date"].notna(), "true", "false"),
            "max_sessions": "",
            "referral": np.where(rng.random(len(episodes)) < 0.1, "true", "false"),
            "notes": "",
            "created_at": created.dt.strftime("%Y-%m-%dT%H:%M:%SZ").to_numpy(),
            "updated_at": created.dt.strftime("%Y-%m-%dT%H:%M:%SZ").to_numpy(),
            "episode_id": episodes["episode_id"].to_numpy(),
        }
    )


def _appointments(tables, diary, rng, ids: IdMaker, patients, practitioners, types, cases) -> pd.DataFrame:
    n = len(diary)
    kind = np.where(diary["first_of_episode"], INITIAL, STANDARD)
    start = diary["start"]
    end = start + pd.to_timedelta([DURATIONS[k] for k in kind], unit="min")
    booked = start - pd.to_timedelta(rng.integers(1 * 24 * 60, 28 * 24 * 60, n), unit="min")
    created = local_to_utc(booked)
    status = diary["status"].astype(str)
    cancelled = status == "cancelled"
    cancelled_at = start - pd.to_timedelta(rng.integers(2 * 60, 3 * 24 * 60, n), unit="min")
    codes = rng.choice(list(CANCELLATION_REASONS), n, p=[w for _, w in CANCELLATION_REASONS.values()])
    names = dict(zip(patients["demo_patient_id"], patients["First Name"] + " " + patients["Last Name"], strict=True))
    patient_ids = dict(zip(patients["demo_patient_id"], patients["Patient ID"], strict=True))
    practitioner_ids = dict(zip(practitioners["demo_practitioner_id"], practitioners["id"], strict=True))
    type_ids = dict(zip(types["name"], types["id"], strict=True))
    case_ids = dict(zip(cases["episode_id"], cases["id"], strict=True))
    out = pd.DataFrame(
        {
            "id": ids.many(created),
            "created_at": created.dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "updated_at": created.dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "starts_at": to_utc_iso(start),
            "ends_at": to_utc_iso(end),
            "patient_id": diary["patient_id"].map(patient_ids),
            "patient_name": diary["patient_id"].map(names),
            "practitioner_id": diary["practitioner_id"].map(practitioner_ids),
            "appointment_type_id": [type_ids[k] for k in kind],
            "appointment_type_name": kind,
            "patient_arrived": np.where(status == "attended", "true", "false"),
            "did_not_arrive": np.where(status == "no_show", "true", "false"),
            "cancelled_at": to_utc_iso(cancelled_at.where(cancelled)),
            "cancellation_reason": np.where(cancelled, codes.astype(str), ""),
            "cancellation_reason_description": np.where(cancelled, [CANCELLATION_REASONS[c][0] for c in codes], ""),
            "cancellation_note": "",
            "notes": np.where(rng.random(n) < 0.05, rng.choice(_NOTES, n), ""),
            "patient_case_id": diary["episode_id"].map(case_ids),
        }
    )
    notes = note_columns(tables, diary, NOTE_FIELDS, KNEE_SIDE, KNEE_FLEXION)
    # a checkboxes question flattened: the ticked answers joined with commas
    notes[NOTE_FIELDS["muscles"]] = notes[NOTE_FIELDS["muscles"]].str.replace(";", ", ")
    return pd.concat([out, notes], axis=1)


def _local_text(moments: pd.Series) -> list[str]:
    """Local timestamps as Cliniko's UI export prints them (blank when none)."""
    return [m.strftime("%d %b %Y, %I:%M %p") if pd.notna(m) else "" for m in moments]


def _medical_alerts(patients: pd.DataFrame, rng: np.random.Generator, ids: IdMaker) -> pd.DataFrame:
    chosen = patients[rng.random(len(patients)) < 0.08]
    created = pd.to_datetime(chosen["Created At"])
    return pd.DataFrame(
        {
            "id": ids.many(created),
            "patient_id": chosen["Patient ID"].to_numpy(),
            "name": rng.choice(_ALERTS, len(chosen)),
            "created_at": chosen["Created At"].to_numpy(),
        }
    )


_MAPPING = f"""\
# How this Cliniko clinic's export loads: the shipped `cliniko` template
# (appointments.csv, patients.csv, status from the attendance flags,
# courses of care derived from Initial Consultations) plus what only this
# clinic knows: its time zone and its treatment-note questions.
extends: cliniko
timezone: {CLINIC_TZ}
tables:
  sessions:
    columns:
      {NOTE_FIELDS["pain_pre"]}: pain_pre
      {NOTE_FIELDS["pain_post"]}: pain_post
      {NOTE_FIELDS["needles"]}: needles
      {NOTE_FIELDS["muscles"]}: muscles
      {NOTE_FIELDS["twitch_response"]}: twitch_response
    values:
      twitch_response: {{"Yes": "yes", "No": "no"}}
    measurements:
      - column: {KNEE_FLEXION}
        table: rom
        set: {{joint: knee, movement: flexion, mode: active, device: goniometer}}
        columns: {{{KNEE_SIDE}: side}}
  rom:
    values:
      side: {{"Left": "left", "Right": "right"}}
"""


def _write_mapping(out_dir: Path) -> Path:
    path = out_dir / "mapping.yaml"
    path.write_text(_MAPPING, encoding="utf-8")
    return path
