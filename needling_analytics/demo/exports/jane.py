"""The demo clinic as a Jane App clinic exports it.

Field names follow Jane's partner (JDP) API, version 2026-01-01, as mirrored
in ``api-evangelist/jane-app`` (``openapi/jane-app-appointments-api-openapi.yml``,
``jane-app-patients-api-openapi.yml``, ``jane-app-treatments-api-openapi.yml``):
uuid IDs, ``start_at``/``end_at``, ``staff_member_id``, ``treatment_id``,
``first_visit``, the ``*_at`` markers and ``state`` in {reserved, booked,
arrived, no_show, cancelled, archived}; patients with ``patient_number``,
``sex`` in {male, female, x} and ``date_of_birth``. Timestamps are written
as the clinic-local, offset-free ``2026-03-09 14:30:00`` of a report
download; the column names of Jane's UI report CSVs are not public, so the
API names stand in for them. Chart (treatment note) fields are flattened to
one column each under the clinic's own labels.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pandas as pd

from ._diary import CLINIC_TZ, build_diary
from ._notes import note_columns

INITIAL, FOLLOW_UP = "Initial Assessment - Dry Needling", "Dry Needling Treatment"
DURATIONS = {INITIAL: 60, FOLLOW_UP: 30}
#: Canonical status -> Jane ``state``. A past booking nobody marked stays ``booked``.
STATES = {
    "attended": "arrived",
    "no_show": "no_show",
    "cancelled": "cancelled",
    "booked": "booked",
    "unmarked": "booked",
}
#: Jane's predefined cancellation reasons (free text comes out as "Other").
CANCEL_REASONS = ("Illness", "Schedule conflict", "Feeling better", "Other")
#: The clinic's chart fields, flattened to one column each.
CHART_FIELDS = {
    "pain_pre": "NPRS pre",
    "pain_post": "NPRS post",
    "needles": "Number of needles",
    "muscles": "Muscles treated",
    "twitch_response": "LTR elicited",
}
KNEE_SIDE, KNEE_FLEXION = "Side", "Knee flexion AROM (deg)"
_SEX = {"F": "female", "M": "male", "X": "x", "U": ""}
_STAFF_NAMES = [("Sarah", "Nguyen"), ("James", "O'Brien"), ("Priya", "Sharma"), ("Tom", "Walsh")]
_LOCAL = "%Y-%m-%d %H:%M:%S"


def write(tables: dict[str, pd.DataFrame], out_dir: Path, *, seed: int) -> list[Path]:
    """Write the demo clinic as a Jane App export.

    Parameters
    ----------
    tables : dict of str to DataFrame
        The canonical tables of :func:`~needling_analytics.demo.generate_clinic`.
    out_dir : Path
        Folder to write into (it exists).
    seed : int
        Seed for the uuids, booking times and the extra diary rows.

    Returns
    -------
    list of Path
        The files written:

        * ``appointments.csv``: one row per one-on-one appointment, past and
          future: id, start_at, end_at (clinic-local ``YYYY-MM-DD HH:MM:SS``),
          patient_id, staff_member_id, location_id, treatment_id,
          treatment_name, first_visit, booked_at, arrived_at, checked_in_at,
          no_show_at, cancelled_at, cancelled_reason, archived_at, state,
          then the chart fields NPRS pre, NPRS post, Number of needles,
          Muscles treated (semicolon-separated), LTR elicited (Yes/No),
          Side and Knee flexion AROM (deg) (knee courses only).
        * ``patients.csv``: id, patient_number, first_name, last_name,
          preferred_name, sex, gender, pronouns, date_of_birth, email,
          province, postal, country, status, patient_since.
        * ``staff_members.csv``: id, first_name, last_name.
        * ``treatments.csv``: id, name, treatment_duration (seconds), booking_type.
        * ``mapping.yaml``: ``extends: jane`` plus the clinic's course
          types and chart fields.
    """
    rng = np.random.default_rng([seed, 2])
    diary = build_diary(tables, rng)
    staff = _staff(diary, rng)
    treatments = pd.DataFrame(
        {
            "id": _uuids(rng, 2),
            "name": [INITIAL, FOLLOW_UP],
            "treatment_duration": [DURATIONS[INITIAL] * 60, DURATIONS[FOLLOW_UP] * 60],
            "booking_type": "one_on_one_booking",
        }
    )
    patients = _patients(tables, diary, rng)
    appointments = _appointments(tables, diary, rng, patients, staff, treatments)
    frames = {
        "appointments.csv": appointments,
        "patients.csv": patients.drop(columns="demo_patient_id"),
        "staff_members.csv": staff.drop(columns="demo_practitioner_id"),
        "treatments.csv": treatments,
    }
    paths = []
    for name, frame in frames.items():
        frame.to_csv(out_dir / name, index=False, encoding="utf-8")
        paths.append(out_dir / name)
    mapping = out_dir / "mapping.yaml"
    mapping.write_text(_MAPPING, encoding="utf-8")
    return [*paths, mapping]


def _uuids(rng: np.random.Generator, n: int) -> list[str]:
    return [str(uuid.UUID(bytes=rng.bytes(16), version=4)) for _ in range(n)]


def _staff(diary: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    codes = sorted(diary["practitioner_id"].dropna().unique())
    names = [_STAFF_NAMES[i % len(_STAFF_NAMES)] for i in range(len(codes))]
    return pd.DataFrame(
        {
            "id": _uuids(rng, len(codes)),
            "first_name": [n[0] for n in names],
            "last_name": [n[1] for n in names],
            "demo_practitioner_id": codes,
        }
    )


def _patients(tables, diary: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    demo = tables["patients"]
    n = len(demo)
    first_seen = diary.groupby("patient_id")["start"].min().reindex(demo["patient_id"]).dt.normalize()
    birthday = pd.to_datetime(demo["birth_year"].astype(int).astype(str) + "-01-01") + pd.to_timedelta(
        rng.integers(0, 365, n), unit="D"
    )
    since = first_seen.to_numpy() - pd.to_timedelta(rng.integers(0, 8, n), unit="D")
    return pd.DataFrame(
        {
            "id": _uuids(rng, n),
            "patient_number": np.arange(1001, 1001 + n),
            "first_name": demo["first_name"],
            "last_name": demo["last_name"],
            "preferred_name": "",
            "sex": demo["sex"].astype(str).map(_SEX).fillna(""),
            "gender": "",
            "pronouns": "",
            "date_of_birth": birthday.dt.strftime("%Y-%m-%d"),
            "email": (demo["first_name"] + "." + demo["last_name"]).str.lower().str.replace("'", "") + "@example.com",
            "province": "VIC",
            "postal": demo["postcode"],
            "country": "AU",
            "status": "active",
            "patient_since": pd.Series(since).dt.strftime("%Y-%m-%d"),
            "demo_patient_id": demo["patient_id"],
        }
    )


def _appointments(tables, diary, rng, patients, staff, treatments) -> pd.DataFrame:
    n = len(diary)
    name = np.where(diary["first_of_episode"], INITIAL, FOLLOW_UP)
    start = diary["start"]
    status = diary["status"].astype(str)
    booked_at = start - pd.to_timedelta(rng.integers(24 * 60, 28 * 24 * 60, n), unit="min")
    arrived_at = start - pd.to_timedelta(rng.integers(0, 10, n), unit="min")
    cancelled_at = start - pd.to_timedelta(rng.integers(2 * 60, 3 * 24 * 60, n), unit="min")
    patient_ids = dict(zip(patients["demo_patient_id"], patients["id"], strict=True))
    staff_ids = dict(zip(staff["demo_practitioner_id"], staff["id"], strict=True))
    treatment_ids = dict(zip(treatments["name"], treatments["id"], strict=True))
    first_visit = diary.groupby("patient_id")["start"].transform("min") == start
    location = _uuids(rng, 1)[0]
    out = pd.DataFrame(
        {
            "id": _uuids(rng, n),
            "start_at": _local(start),
            "end_at": _local(start + pd.to_timedelta([DURATIONS[k] for k in name], unit="min")),
            "patient_id": diary["patient_id"].map(patient_ids),
            "staff_member_id": diary["practitioner_id"].map(staff_ids),
            "location_id": location,
            "treatment_id": [treatment_ids[k] for k in name],
            "treatment_name": name,
            "first_visit": np.where(first_visit, "true", "false"),
            "booked_at": _local(booked_at),
            "arrived_at": _local(arrived_at.where(status == "attended")),
            "checked_in_at": _local(arrived_at.where(status == "attended")),
            "no_show_at": _local((start + pd.Timedelta(minutes=15)).where(status == "no_show")),
            "cancelled_at": _local(cancelled_at.where(status == "cancelled")),
            "cancelled_reason": np.where(status == "cancelled", rng.choice(CANCEL_REASONS, n), ""),
            "archived_at": "",
            "state": status.map(STATES),
        }
    )
    return pd.concat([out, note_columns(tables, diary, CHART_FIELDS, KNEE_SIDE, KNEE_FLEXION)], axis=1)


def _local(moments: pd.Series) -> pd.Series:
    return moments.dt.strftime(_LOCAL).fillna("")


_MAPPING = f"""\
# How this Jane App clinic's export loads: the shipped `jane` template plus
# what only this clinic knows: its time zone, the name of its first-visit
# treatment and its chart fields.
extends: jane
timezone: {CLINIC_TZ}
tables:
  sessions:
    columns:
      {CHART_FIELDS["pain_pre"]}: pain_pre
      {CHART_FIELDS["pain_post"]}: pain_post
      {CHART_FIELDS["needles"]}: needles
      {CHART_FIELDS["muscles"]}: muscles
      {CHART_FIELDS["twitch_response"]}: twitch_response
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
  episodes:
    derive:
      new_course_types: [{INITIAL}]
"""
