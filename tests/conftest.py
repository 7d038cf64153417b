"""Shared fixtures: small hand-written clinics, on disk or in memory, and the generated demo clinic.

- :data:`VALID`, :func:`write_clinic` and the ``make_clinic`` fixture: a minimal valid clinic as CSV files.
- :func:`small_clinic`: a :class:`Clinic` from a few hand-written rows, with what a test leaves out filled in.
- :func:`demo_tables` and :func:`demo_clinic_of`: the generated demo clinic (``generate_clinic``), made once
  per session for each set of options; the ``demo_clinic`` fixture is the one most tests share.
"""

from __future__ import annotations

import textwrap
from functools import cache
from pathlib import Path

import pandas as pd
import pytest

from needling_analytics import Clinic

AS_OF = "2026-11-28"

#: A minimal valid clinic, one CSV text per table.
VALID = {
    "patients": """
        patient_id,birth_year,sex,first_name,last_name,postcode
        0012,1980,F,Ana,Silva,02134
        P2,1975,M,Bob,Jones,10001
        """,
    "episodes": """
        episode_id,patient_id,start_date,end_date,body_region,condition,symptom_duration_weeks,discharge_reason
        E1,0012,2026-01-05,2026-03-01,neck,neck pain,12,goals_met
        E2,P2,2026-02-02,,low_back,low back pain,30,
        """,
    "sessions": """
        session_id,episode_id,patient_id,practitioner_id,session_date,session_time,status,pain_pre,pain_post,needles,muscles,twitch_response
        S1,E1,0012,PR1,2026-01-05,09:00,attended,7,5,4,upper trapezius,yes
        S2,E1,0012,PR1,2026-01-12,09:30,attended,5,4,3,upper trapezius;levator scapulae,no
        S3,E1,0012,PR1,2026-01-19,10:00,cancelled,,,,,
        S4,E2,P2,PR2,2026-02-02,14:00,attended,6,5,5,multifidus,yes
        """,
    "rom": """
        patient_id,episode_id,measured_on,joint,movement,side,degrees,session_id,mode,device,rater_id
        0012,E1,2026-01-05,cervical_spine,rotation,left,55,S1,active,crom,PR1
        0012,E1,2026-01-12,cervical_spine,rotation,left,62,S2,active,crom,PR1
        """,
    "proms": """
        patient_id,episode_id,completed_on,instrument,score
        0012,E1,2026-01-05,NDI,20
        P2,E2,2026-02-02,ODI,40
        """,
    "adverse_events": """
        session_id,patient_id,event_type,severity,resolved_days,notes
        S1,0012,bruising,mild,4,small bruise
        """,
    "assessments": """
        patient_id,episode_id,assessed_on,pain,global_change,global_change_scale,assessment_id
        0012,E1,2026-02-02,3,2,grc7,A1
        """,
    "journal": """
        patient_id,entry_date,pain,stiffness,mobility,activity_note
        0012,2026-01-06,6,5,5,
        0012,2026-01-07,5,4,6,walked 20 minutes
        """,
}


def write_clinic(folder: Path, tables: dict[str, str], *, encoding: str = "utf-8", suffix: str = ".csv") -> Path:
    """Write CSV texts (dedented) as ``<table>.csv`` files in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in tables.items():
        if text is None:
            continue
        (folder / f"{name}{suffix}").write_bytes(textwrap.dedent(text).lstrip("\n").encode(encoding))
    return folder


@pytest.fixture
def make_clinic(tmp_path):
    """Write the valid clinic with some tables replaced: ``make_clinic(sessions=...)``.

    A table given as None is left out.
    """

    def make(**tables):
        return write_clinic(tmp_path / "clinic", {**VALID, **tables})

    return make


# ------------------------------------------------------------------ small clinics in memory


def patient_of(episode_id: str) -> str:
    """The patient of a hand-written episode: ``E12`` belongs to ``P12``."""
    return f"P{episode_id[1:]}"


def small_clinic(
    *, as_of=None, patients=None, episodes=None, sessions=None, episodes_from: str = "sessions", **tables
) -> Clinic:
    """A :class:`Clinic` from a few hand-written rows (DataFrames), filling in what the test leaves out.

    - ``sessions`` without ``session_id`` get ``S0``, ``S1``, ...; without ``practitioner_id``, ``PR1``.
    - ``episodes`` left out: one per episode of the ``episodes_from`` table (sessions, rom or proms),
      starting on its first date there, in episode order.
    - ``patient_id`` left out of a table that has ``episode_id``: the episode's patient in ``episodes``,
      else :func:`patient_of`; left out of ``adverse_events``: the patient of the session.
    - ``patients`` left out: the patients of the episodes, in order of first appearance.

    Tables are passed to :meth:`Clinic.from_frames` in table order; ``as_of`` as given.
    """
    frames = {name: frame.copy() for name, frame in dict(sessions=sessions, **tables).items() if frame is not None}
    if "sessions" in frames:
        table = frames["sessions"]
        if "session_id" not in table:
            table["session_id"] = [f"S{i}" for i in range(len(table))]
        if "practitioner_id" not in table:
            table["practitioner_id"] = "PR1"
    if episodes is None:
        dates = {"sessions": "session_date", "rom": "measured_on", "proms": "completed_on"}
        starts = frames[episodes_from].groupby("episode_id")[dates[episodes_from]].min()
        episodes = pd.DataFrame(
            {"episode_id": starts.index, "patient_id": starts.index.map(patient_of), "start_date": starts.values}
        )
    else:
        episodes = episodes.copy()
        if "patient_id" not in episodes:
            episodes["patient_id"] = episodes["episode_id"].map(patient_of)
    owner = dict(zip(episodes["episode_id"], episodes["patient_id"], strict=True))
    for table in frames.values():
        if "episode_id" in table and "patient_id" not in table:
            table["patient_id"] = table["episode_id"].map(lambda e: owner.get(e, patient_of(e)))
    if "adverse_events" in frames and "patient_id" not in frames["adverse_events"]:
        events, booked = frames["adverse_events"], frames["sessions"]
        events["patient_id"] = events["session_id"].map(
            dict(zip(booked["session_id"], booked["patient_id"], strict=True))
        )
    if patients is None:
        patients = pd.DataFrame({"patient_id": episodes["patient_id"].drop_duplicates().tolist()})
    frames |= {"patients": patients, "episodes": episodes}
    order = ["patients", "episodes", "sessions", "rom", "proms", "adverse_events", "assessments", "journal"]
    return Clinic.from_frames(as_of=as_of, **{name: frames[name] for name in sorted(frames, key=order.index)})


# ------------------------------------------------------------------ the generated demo clinic

#: The options of the demo clinic most tests share (the ``demo_clinic`` fixture).
DEMO = {"n_patients": 150, "seed": 0}


@cache
def _generated(options: tuple[tuple[str, object], ...]) -> dict[str, pd.DataFrame]:
    from needling_analytics.demo import generate_clinic

    return generate_clinic(**dict(options))


def demo_tables(**options) -> dict[str, pd.DataFrame]:
    """``generate_clinic(**options)``, generated once per session: each call gets its own copies."""
    return {name: frame.copy() for name, frame in _generated(tuple(sorted(options.items()))).items()}


def demo_clinic_of(*, as_of=None, **options) -> Clinic:
    """The generated clinic of ``generate_clinic(**options)`` as a :class:`Clinic` (a new one each call)."""
    return Clinic.from_frames(as_of=as_of, **demo_tables(**options))


@pytest.fixture(scope="session")
def demo_clinic() -> Clinic:
    """The generated clinic of :data:`DEMO` (150 patients, seed 0), built once: read it, never modify it.

    At the end of the session its tables are compared with a fresh copy, so a test that modified it fails.
    """
    clinic = demo_clinic_of(**DEMO)
    yield clinic
    fresh = demo_clinic_of(**DEMO)
    for name, frame in fresh.tables.items():
        pd.testing.assert_frame_equal(clinic.tables[name], frame, obj=f"the shared demo clinic's {name}")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")
