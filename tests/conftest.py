"""Shared fixtures: small hand-written clinics on disk."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

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


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")
