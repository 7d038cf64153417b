"""A synthetic dry-needling clinic for demos, tutorials and tests.

:func:`generate_clinic` builds every table of :mod:`needling_analytics.schema`
for a made-up clinic; :func:`write_clinic` writes them as one file per table.
The same ``seed`` and arguments always give the same clinic: all randomness
comes from one ``numpy.random.default_rng(seed)`` drawn in a fixed order, and
the period ends at the fixed :data:`DEMO_END` unless told otherwise.

The simulation model
--------------------
Everything is vectorised: each episode (course of care) owns a row of
``K_SLOTS`` appointment slots, and rules applied to the whole
episodes-by-slots matrix decide which slots happen.

* **Patients** get an age of 18-85, a sex (mostly F/M), names from small
  lists and a 5-digit postcode. Patient IDs follow the order of first visit.
* **Episodes.** Each patient has one episode starting on a clinic day of the
  period; about one in eight returns for a second one after the first ended.
  Body regions are weighted (neck and low back commonest, then shoulder);
  symptom duration is log-normal (median ~10 weeks, ~7% over a year).
* **Pain** (NPRS 0-10) before the session with ``a`` earlier attended
  sessions follows ``T(a) = B * (1 - r * (1 - exp(-k * a)))``: baseline ``B``
  (mostly 4-8), achievable relative reduction ``r`` (high for responders,
  low for the ~quarter who respond poorly) and rate ``k`` per attended
  session. The recorded ``pain_pre`` is ``T`` plus noise, rounded;
  ``pain_post`` is 0-2 points lower (immediate effect).
* **Confounding, built in on purpose.** Each episode has a visit plan
  (twice-weekly, weekly, fortnightly) whose patients also respond faster
  (twice-weekly) or slower (fortnightly), so *early frequency is associated
  with faster improvement*. Rate and gain share a latent responsiveness, so
  slow responders also gain less. Responders are discharged (``goals_met``)
  once 85% of their achievable gain is reached, so slow responders get more
  sessions, and poor responders are kept on for a negative-binomial number
  of sessions before referral: *total sessions correlate negatively with
  improvement*, as in routine data (Hughes 2018).
* **Attendance.** Each later slot is cancelled (7%) or missed (4%) at
  random and followed by a rebooking 2-7 days later. After the first four
  weeks, intervals lengthen as the patient improves. Dates are moved forward to the next weekday that is
  not a public holiday (:func:`demo_holidays`). Some episodes stop early
  (dropouts, more often among poor responders): half are closed as
  ``self_discharged`` 30-60 days later, half left open. Episodes still
  running at the end of the period have no end date.
* **Measurements.** Range of motion (ROM) at the first, every third and the
  last session, starting at 60-90% of normal and recovering with pain, with
  device noise SD = MDC / 2.77; a questionnaire (PROM) for half the
  episodes at the start and at discharge; adverse events per attended
  session at the rates of Brady 2014 (J Man Manip Ther 22:134); a daily
  home journal for a quarter of the patients, with post-needling soreness
  on the day of and the day after a session.

Where the parts live
--------------------
This module checks the arguments, draws every part from one generator in a
fixed order and converts the result to the schema. The parts are
:mod:`.calendar` (period, holidays, clinic days), :mod:`.population`
(patients, episodes, IDs), :mod:`.appointments` (visit plans, slots,
discharge), :mod:`.sessions` (pain trajectories, needling),
:mod:`.measurements` (ROM, PROMs), :mod:`.adverse_events` and
:mod:`.journal`.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from ..schema import TABLES
from .adverse_events import build_adverse_events
from .calendar import Calendar, demo_holidays
from .journal import build_journal
from .measurements import build_proms, build_rom
from .population import assign_ids, draw_all_episodes, draw_patients
from .sessions import build_sessions

__all__ = ["DEMO_END", "demo_holidays", "generate_clinic", "write_clinic"]

#: Last day of the demo period, fixed so that a seed always gives the same clinic.
DEMO_END = "2026-10-31"


def generate_clinic(
    *,
    n_patients: int = 400,
    months: int = 12,
    end: str | date = DEMO_END,
    seed: int = 0,
    n_practitioners: int = 4,
) -> dict[str, pd.DataFrame]:
    """Generate a realistic synthetic clinic.

    Parameters
    ----------
    n_patients : int
        Number of patients (each has one or two episodes).
    months : int
        Length of the period, ending at ``end``.
    end : str or date
        Last day of the period; nothing is dated later.
    seed : int
        Seed of the random generator: the same seed and arguments give
        the same clinic.
    n_practitioners : int
        Number of practitioners (``PR01``, ``PR02``, ...), 1-99.

    Returns
    -------
    dict of str to DataFrame
        One frame per table of :data:`needling_analytics.schema.TABLES`,
        with exactly the schema's columns in schema order:

        * ``patients``: patient_id, birth_year, sex, first_name, last_name,
          postcode.
        * ``episodes``: episode_id, patient_id, start_date, end_date,
          body_region, condition, symptom_duration_weeks, discharge_reason.
        * ``sessions``: session_id, episode_id, patient_id,
          practitioner_id, session_date, session_time, status, pain_pre,
          pain_post, needles, muscles, twitch_response.
        * ``rom``: patient_id, episode_id, measured_on, joint, movement,
          side, degrees, session_id, mode, device, rater_id.
        * ``proms``: patient_id, episode_id, completed_on, instrument, score.
        * ``adverse_events``: session_id, patient_id, event_type, severity,
          resolved_days, notes.
        * ``journal``: patient_id, entry_date, pain, stiffness, mobility,
          activity_note.

        Dates are ``datetime64[ns]``, numbers ``float64``, integers
        ``Int64``, and IDs, text, times and categories ``string``.

    Examples
    --------
    >>> tables = generate_clinic(n_patients=50, seed=1)
    >>> sorted(tables)[:3]
    ['adverse_events', 'episodes', 'journal']
    """
    _check_arguments(n_patients=n_patients, months=months, n_practitioners=n_practitioners)
    rng = np.random.default_rng(seed)
    cal = Calendar.for_period(pd.Timestamp(end).normalize(), months)
    patients = draw_patients(rng, n_patients, cal.last_year, n_practitioners)
    episodes, slots = draw_all_episodes(rng, cal, patients)
    patients, episodes, order = assign_ids(patients, episodes)
    sessions = build_sessions(rng, episodes, {key: value[order] for key, value in slots.items()}, n_practitioners)
    tables = {
        "patients": patients,
        "episodes": episodes,
        "sessions": sessions,
        "rom": build_rom(rng, episodes, sessions, n_practitioners),
        "proms": build_proms(rng, episodes, sessions),
        "adverse_events": build_adverse_events(rng, sessions),
        "journal": build_journal(rng, cal, episodes, sessions),
    }
    return {name: _to_schema(frame, name) for name, frame in tables.items()}


def write_clinic(tables: dict[str, pd.DataFrame], out_dir: str | Path, *, fmt: str = "csv") -> list[Path]:
    """Write each table to ``out_dir/<table>.<fmt>``.

    Parameters
    ----------
    tables : dict of str to DataFrame
        Tables as returned by :func:`generate_clinic` (or :func:`make_messy`).
    out_dir : str or Path
        Folder to write into; created if missing.
    fmt : {"csv", "parquet"}
        File format. CSV files hold dates as ``YYYY-MM-DD``, whole numbers
        without a decimal point and blanks as empty cells.

    Returns
    -------
    list of Path
        The files written, in the order of ``tables``.
    """
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"`fmt` must be 'csv' or 'parquet', not {fmt!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, frame in tables.items():
        path = out / f"{name}.{fmt}"
        if fmt == "csv":
            _for_csv(frame).to_csv(path, index=False, na_rep="", date_format="%Y-%m-%d")
        else:
            frame.to_parquet(path, index=False)
        paths.append(path)
    return paths


def _check_arguments(**values: int) -> None:
    limits = {"n_patients": (1, 10_000_000), "months": (1, 240), "n_practitioners": (1, 99)}
    for name, value in values.items():
        low, high = limits[name]
        if not isinstance(value, (int, np.integer)) or not low <= value <= high:
            raise ValueError(f"`{name}` must be a whole number from {low} to {high}, not {value!r}")


def _to_schema(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """The schema's columns, in order, with the package's dtypes.

    Categories are kept as plain ``string`` values (not ``category``) so
    that the demo tables combine freely; internal columns are dropped.
    """
    spec = TABLES[name]
    out = {}
    for column in spec.columns:
        values = frame[column.name]
        if column.kind == "date":
            out[column.name] = pd.Series(values.to_numpy(), dtype="datetime64[ns]")
        elif column.kind == "number":
            out[column.name] = pd.Series(values.to_numpy(), dtype="float64")
        elif column.kind == "integer":
            out[column.name] = pd.Series(pd.array(values.to_numpy(), dtype="Int64"))
        else:
            out[column.name] = values.astype("string").reset_index(drop=True)
    return pd.DataFrame(out)


def _for_csv(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy whose whole-number float columns print without ``.0``."""
    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if pd.api.types.is_float_dtype(values):
            finite = values.dropna()
            if (finite == np.round(finite)).all():
                out[column] = values.astype("Int64")
    return out
