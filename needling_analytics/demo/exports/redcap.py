"""The demo clinic as a longitudinal REDCap project: a flat CSV export, its data dictionary, a mapping.

One record per patient (record IDs 1, 2, ...). Events ``baseline_arm_1``,
``week_2_arm_1`` and ``week_4_arm_1``:

- ``demographics`` (baseline): names, year of birth, sex as a coded radio
  (1 Female, 2 Male, 3 Other, 4 Unknown), postcode;
- ``treatment_session``, a repeating instrument in the baseline event: one
  instance per attended session (REDCap records no cancellations), with
  date, time, pain before and after, needles, the muscles needled as a
  checkbox ``tx_muscles___1..n``, the twitch response as yes/no, and a note
  now and then holding commas, quotes or a line break;
- ``follow_up`` (weeks 2 and 4 of the first course of care, while the
  patient is still being treated): date, pain and a 7-point global rating
  of change (-3 .. +3).

Each form has its ``_complete`` status; a few are left Incomplete (0) or
Unverified (1), as happens in real projects. Rows follow REDCap's order:
per record, the non-repeating rows of each event, then the repeating ones.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

from ..sessions import MUSCLES

EVENTS = ("baseline_arm_1", "week_2_arm_1", "week_4_arm_1")
_SEX_CODES = {"F": "1", "M": "2", "X": "3", "U": "4"}
_SEX_CHOICES = "1, Female | 2, Male | 3, Other | 4, Unknown"
_GRC_CHOICES = " | ".join(f"{v}, {v}" for v in range(-3, 4))
_NOTES = (
    'Said the neck felt "much looser", will keep up the stretches',
    "Tolerated well, mild soreness after",
    "Bruise at the second site, ice advised\nCheck next visit",
)
_DICTIONARY_HEADER = (
    "Variable / Field Name", "Form Name", "Section Header", "Field Type", "Field Label",
    "Choices, Calculations, OR Slider Labels", "Field Note", "Text Validation Type OR Show Slider Number",
    "Text Validation Min", "Text Validation Max", "Identifier?", "Branching Logic (Show field only if...)",
    "Required Field?", "Custom Alignment", "Question Number (surveys only)", "Matrix Group Name",
    "Matrix Ranking?", "Field Annotation",
)  # fmt: skip

MAPPING = """\
# The demo clinic's REDCap project (written by `needling-analytics demo-data --format redcap`).
extends: redcap
tables:
  patients:
    form: demographics
    event: baseline_arm_1
    columns:
      dem_first_name: first_name
      dem_last_name: last_name
      dem_birth_year: birth_year
      dem_sex: sex
      dem_postcode: postcode
  sessions:
    form: treatment_session
    columns:
      tx_date: session_date
      tx_time: session_time
      tx_pain_before: pain_pre
      tx_pain_after: pain_post
      tx_needles: needles
      tx_muscles: muscles
      tx_twitch: twitch_response
  assessments:
    form: follow_up
    event: [week_2_arm_1, week_4_arm_1]
    columns:
      fu_date: assessed_on
      fu_pain: pain
      fu_grc: global_change
    constants:
      global_change_scale: grc7
  episodes:
    derive:
      gap_days: 90
      discharge_after_days: 60
"""


def _muscles(sessions: pd.DataFrame) -> list[str]:
    """The checkbox's choices: every muscle the demo knows, then any other the sessions name."""
    named = (m for text in sessions["muscles"].dropna().astype(str) for m in text.split(";") if m)
    return list(dict.fromkeys([*(m for names in MUSCLES.values() for m in names), *named]))


def _dictionary(muscles: list[str]) -> list[list[str]]:
    def field(name, form, kind, label, choices="", validation="", low="", high="", identifier=""):
        row = [name, form, "", kind, label, choices, "", validation, low, high, identifier]
        return row + [""] * (len(_DICTIONARY_HEADER) - len(row))

    muscle_choices = " | ".join(f"{i}, {m}" for i, m in enumerate(muscles, 1))
    return [
        field("record_id", "demographics", "text", "Record ID"),
        field("dem_first_name", "demographics", "text", "First name", identifier="y"),
        field("dem_last_name", "demographics", "text", "Last name", identifier="y"),
        field("dem_birth_year", "demographics", "text", "Year of birth", validation="integer", low="1900"),
        field("dem_sex", "demographics", "radio", "Sex", _SEX_CHOICES),
        field("dem_postcode", "demographics", "text", "Postcode", identifier="y"),
        field("tx_date", "treatment_session", "text", "Date of session", validation="date_ymd"),
        field("tx_time", "treatment_session", "text", "Start time", validation="time"),
        field("tx_pain_before", "treatment_session", "text", "Pain before needling (0-10)", "", "number", "0", "10"),
        field("tx_pain_after", "treatment_session", "text", "Pain after needling (0-10)", "", "number", "0", "10"),
        field("tx_needles", "treatment_session", "text", "Number of needles", "", "integer", "0", "100"),
        field("tx_muscles", "treatment_session", "checkbox", "Muscles needled", muscle_choices),
        field("tx_twitch", "treatment_session", "yesno", "Local twitch response?"),
        field("tx_notes", "treatment_session", "notes", "Notes"),
        field("fu_date", "follow_up", "text", "Date of follow-up", validation="date_ymd"),
        field("fu_pain", "follow_up", "text", "Pain now (0-10)", "", "number", "0", "10"),
        field("fu_grc", "follow_up", "radio", "Global rating of change (-3 very much worse .. +3 very much better)", _GRC_CHOICES),
    ]  # fmt: skip


def _text(value) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _status(rng: np.random.Generator, p_incomplete: float, p_unverified: float) -> str:
    draw = rng.random()
    return "0" if draw < p_incomplete else "1" if draw < p_incomplete + p_unverified else "2"


def _follow_ups(rng: np.random.Generator, episodes: pd.DataFrame, attended: pd.DataFrame) -> pd.DataFrame:
    """Week 2 and week 4 follow-ups of each patient's first course, while still in care.

    Returns
    -------
    DataFrame
        patient_id, event, fu_date, fu_pain, fu_grc.
    """
    rows = []
    first = episodes.sort_values("start_date").drop_duplicates("patient_id")
    for episode in first.itertuples(index=False):
        visits = attended[attended["episode_id"] == episode.episode_id].sort_values("session_date")
        if visits.empty or pd.isna(visits["pain_pre"].iloc[0]):
            continue
        baseline = float(visits["pain_pre"].iloc[0])
        for weeks, event in ((2, EVENTS[1]), (4, EVENTS[2])):
            when = pd.Timestamp(episode.start_date) + pd.Timedelta(days=7 * weeks + int(rng.integers(0, 3)))
            before = visits[visits["session_date"] <= when]
            if when > visits["session_date"].max() or before["pain_pre"].isna().all():
                continue  # discharged by then: no follow-up call
            pain = float(np.clip(round(before["pain_pre"].dropna().iloc[-1] + rng.normal(0, 0.7)), 0, 10))
            grc = int(np.clip(round((baseline - pain) / 1.5 + rng.normal(0, 0.5)), -3, 3))
            rows.append(
                {"patient_id": episode.patient_id, "event": event, "fu_date": when, "fu_pain": pain, "fu_grc": grc}
            )
    return pd.DataFrame(rows, columns=["patient_id", "event", "fu_date", "fu_pain", "fu_grc"])


def _records(tables: dict[str, pd.DataFrame], rng: np.random.Generator, muscles: list[str]):
    """The export's header and rows, record by record in REDCap's order."""
    patients = tables["patients"]
    sessions = tables["sessions"]
    attended = sessions[sessions["status"].astype(str) == "attended"].sort_values(["session_date", "session_time"])
    follow_ups = _follow_ups(rng, tables["episodes"], attended)
    demographics = ["dem_first_name", "dem_last_name", "dem_birth_year", "dem_sex", "dem_postcode"]
    session_fields = ["tx_date", "tx_time", "tx_pain_before", "tx_pain_after", "tx_needles"]
    boxes = [f"tx_muscles___{i}" for i in range(1, len(muscles) + 1)]
    header = (
        ["record_id", "redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance"]
        + demographics + ["demographics_complete"]
        + session_fields + boxes + ["tx_twitch", "tx_notes", "treatment_session_complete"]
        + ["fu_date", "fu_pain", "fu_grc", "follow_up_complete"]
    )  # fmt: skip
    position = {c: i for i, c in enumerate(header)}
    by_patient = dict(tuple(attended.groupby("patient_id", sort=False)))
    fu_by_patient = dict(tuple(follow_ups.groupby("patient_id", sort=False)))
    out = []

    def row(record, event, instrument="", instance="", **values):
        cells = [""] * len(header)
        cells[:4] = [record, event, instrument, instance]
        for column, value in values.items():
            cells[position[column]] = _text(value)
        return cells

    for patient in patients.itertuples(index=False):
        record = str(int(str(patient.patient_id).lstrip("P")))
        out.append(
            row(
                record, EVENTS[0],
                dem_first_name=patient.first_name, dem_last_name=patient.last_name,
                dem_birth_year=patient.birth_year, dem_sex=_SEX_CODES.get(_text(patient.sex), ""),
                dem_postcode=patient.postcode, demographics_complete=_status(rng, 0.0, 0.03),
            )
        )  # fmt: skip
        for fu in fu_by_patient.get(patient.patient_id, pd.DataFrame()).itertuples(index=False):
            out.append(
                row(record, fu.event, fu_date=fu.fu_date, fu_pain=fu.fu_pain, fu_grc=fu.fu_grc,
                    follow_up_complete=_status(rng, 0.04, 0.04))
            )  # fmt: skip
        visits = by_patient.get(patient.patient_id, pd.DataFrame())
        for instance, visit in enumerate(visits.itertuples(index=False), 1):
            ticked = set(_text(visit.muscles).split(";")) - {""}
            values = {f"tx_muscles___{i}": "1" if m in ticked else "0" for i, m in enumerate(muscles, 1)}
            twitch = _text(visit.twitch_response)
            note = _NOTES[int(rng.integers(0, len(_NOTES)))] if rng.random() < 0.05 else ""
            out.append(
                row(
                    record, EVENTS[0], "treatment_session", str(instance),
                    tx_date=visit.session_date, tx_time=visit.session_time, tx_pain_before=visit.pain_pre,
                    tx_pain_after=visit.pain_post, tx_needles=visit.needles,
                    tx_twitch={"yes": "1", "no": "0"}.get(twitch, ""), tx_notes=note,
                    treatment_session_complete=_status(rng, 0.01, 0.02), **values,
                )
            )  # fmt: skip
    return header, out


def write(tables: dict[str, pd.DataFrame], out_dir: Path, *, seed: int = 0) -> list[Path]:
    """Write the demo clinic as a REDCap project export; return the files written.

    Returns
    -------
    list of Path
        ``NeedlingClinic_DATA_<date>.csv`` (the flat export: record_id,
        redcap_event_name, redcap_repeat_instrument, redcap_repeat_instance,
        the demographics, treatment_session and follow_up fields, each
        form's ``_complete``), ``NeedlingClinic_DataDictionary_<date>.csv``
        and ``mapping.yaml``.
    """
    rng = np.random.default_rng(seed + 7_207)
    muscles = _muscles(tables["sessions"])
    header, rows = _records(tables, rng, muscles)
    last = pd.to_datetime(tables["sessions"]["session_date"]).max()
    stamp = f"{last:%Y-%m-%d}" if pd.notna(last) else "2026-01-01"
    out_dir = Path(out_dir)
    export = out_dir / f"NeedlingClinic_DATA_{stamp}_0930.csv"
    dictionary = out_dir / f"NeedlingClinic_DataDictionary_{stamp}.csv"
    for path, head, body in ((export, header, rows), (dictionary, list(_DICTIONARY_HEADER), _dictionary(muscles))):
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(head)
            writer.writerows(body)
    mapping = out_dir / "mapping.yaml"
    mapping.write_text(MAPPING, encoding="utf-8")
    return [export, dictionary, mapping]
