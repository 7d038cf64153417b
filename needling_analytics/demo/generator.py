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
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from ..reference import plausible_degrees
from ..schema import SESSION_STATUSES, TABLES

#: Last day of the demo period, fixed so that a seed always gives the same clinic.
DEMO_END = "2026-10-31"

#: Appointment slots simulated per episode (booked, cancelled or missed).
K_SLOTS = 28
#: Most attended sessions in one episode.
MAX_ATTENDED = 20

_REGION_WEIGHTS = {
    "neck": 0.23, "low_back": 0.23, "shoulder": 0.15, "upper_back": 0.08,
    "knee": 0.07, "hip": 0.055, "elbow": 0.05, "ankle_foot": 0.045,
    "wrist_hand": 0.035, "jaw": 0.02, "other": 0.035,
}  # fmt: skip
_REGIONS = tuple(_REGION_WEIGHTS)

_CONDITIONS = {
    "neck": ("mechanical neck pain", "cervicogenic headache", "whiplash-associated disorder", "myofascial neck pain"),
    "low_back": ("non-specific low back pain", "lumbar myofascial pain", "chronic low back pain", "acute lumbago"),
    "shoulder": (
        "rotator cuff tendinopathy",
        "subacromial pain syndrome",
        "frozen shoulder",
        "myofascial shoulder pain",
    ),
    "upper_back": ("thoracic myofascial pain", "interscapular pain", "postural upper back pain"),
    "knee": ("patellofemoral pain", "knee osteoarthritis", "iliotibial band syndrome"),
    "hip": ("greater trochanteric pain syndrome", "hip osteoarthritis", "piriformis syndrome"),
    "elbow": ("lateral epicondylalgia", "medial epicondylalgia"),
    "ankle_foot": ("plantar heel pain", "achilles tendinopathy", "post-sprain ankle stiffness"),
    "wrist_hand": ("forearm overuse pain", "de Quervain tenosynovitis", "thenar myofascial pain"),
    "jaw": ("temporomandibular disorder", "bruxism-related jaw pain"),
    "other": ("myofascial pain, multiple sites", "fibromyalgia-related pain", "calf cramps"),
}

_MUSCLES = {
    "neck": (
        "upper trapezius",
        "levator scapulae",
        "splenius capitis",
        "suboccipitals",
        "sternocleidomastoid",
        "scalenes",
    ),
    "low_back": ("quadratus lumborum", "lumbar multifidus", "iliocostalis lumborum", "gluteus medius", "piriformis"),
    "shoulder": ("infraspinatus", "supraspinatus", "teres minor", "deltoid", "subscapularis", "pectoralis minor"),
    "upper_back": ("rhomboids", "middle trapezius", "thoracic multifidus", "serratus posterior superior"),
    "knee": ("vastus lateralis", "vastus medialis", "rectus femoris", "biceps femoris", "popliteus"),
    "hip": ("gluteus medius", "gluteus minimus", "piriformis", "tensor fasciae latae", "iliopsoas"),
    "elbow": ("extensor carpi radialis brevis", "extensor digitorum", "supinator", "brachioradialis"),
    "ankle_foot": ("gastrocnemius", "soleus", "tibialis anterior", "peroneus longus", "flexor digitorum brevis"),
    "wrist_hand": ("flexor carpi radialis", "pronator teres", "adductor pollicis", "first dorsal interosseous"),
    "jaw": ("masseter", "temporalis", "lateral pterygoid"),
    "other": ("gastrocnemius", "upper trapezius", "gluteus medius", "rectus abdominis"),
}

#: Range-of-motion readings by region: (joint, movement, side rule, normal degrees).
#: Side rule "affected" takes the episode's side. Normal values: AAOS /
#: Norkin & White (see DOMAIN.md).
_ROM_PLAN = {
    "neck": (
        ("cervical_spine", "flexion", "none", 50), ("cervical_spine", "extension", "none", 65),
        ("cervical_spine", "rotation", "left", 75), ("cervical_spine", "rotation", "right", 75),
        ("cervical_spine", "lateral_flexion", "left", 45), ("cervical_spine", "lateral_flexion", "right", 45),
    ),
    "low_back": (("lumbar_spine", "flexion", "none", 60), ("lumbar_spine", "extension", "none", 25)),
    "shoulder": (
        ("shoulder", "flexion", "affected", 180), ("shoulder", "abduction", "affected", 180),
        ("shoulder", "external_rotation", "affected", 90),
    ),
    "hip": (("hip", "flexion", "affected", 120), ("hip", "abduction", "affected", 45)),
    "knee": (("knee", "flexion", "affected", 135),),
    "elbow": (("elbow", "flexion", "affected", 145),),
    "wrist_hand": (("wrist", "flexion", "affected", 80), ("wrist", "extension", "affected", 70)),
    "ankle_foot": (("ankle", "dorsiflexion", "affected", 20),),
}  # fmt: skip
_ROM_DEVICE = {"cervical_spine": "crom", "lumbar_spine": "inclinometer"}  # limbs: goniometer
#: Minimal detectable change (degrees) of the usual device by joint (DOMAIN.md).
_ROM_MDC = {"cervical_spine": 6.0, "shoulder": 10.0, "knee": 5.0}  # others: 8
_ROM_MDC_OTHER_DEVICE = {"app": 9.0, "visual": 14.0}

_PROM_BY_REGION = {
    "neck": "NDI", "low_back": "ODI", "shoulder": "QuickDASH", "elbow": "QuickDASH",
    "wrist_hand": "QuickDASH", "hip": "LEFS", "knee": "LEFS", "ankle_foot": "LEFS",
}  # fmt: skip
_PROM_SCALE = {  # (lowest, highest, higher is better, rounding step)
    "NDI": (0, 50, False, 1.0), "ODI": (0, 100, False, 2.0), "QuickDASH": (0, 100, False, 0.1),
    "LEFS": (0, 80, True, 1.0), "PSFS": (0, 10, True, 0.1),
}  # fmt: skip


@dataclass(frozen=True)
class _Event:
    """An adverse-event type: rate per attended session and its course."""

    name: str
    rate: float
    days: tuple[int, int]  # resolved_days drawn uniformly in [low, high]
    p_significant: float
    notes: tuple[str, ...]
    serious: bool = False
    regions: tuple[str, ...] | None = None  # body regions at risk (None: all)


#: Per-treatment rates from Brady 2014 (7,629 treatments; "other" is its
#: aggravation of symptoms); fainting, infection and nerve irritation from
#: Boyce 2020; pneumothorax is the (very rare) serious event, only when
#: needling near the chest wall.
_EVENTS = (
    _Event("bruising", 0.0755, (3, 7), 0.006, ("bruise", "small bruise", "bruise 2 cm")),
    _Event("bleeding", 0.0465, (0, 0), 0.004, ("spot bleeding, pressure applied", "minor bleeding")),
    _Event("pain_during", 0.0301, (0, 0), 0.004, ("sharp pain on insertion", "painful twitch")),
    _Event("pain_after", 0.0219, (1, 2), 0.02, ("post-needling soreness", "sore next day")),
    _Event("other", 0.0088, (1, 4), 0.05, ("aggravation of symptoms, then better",)),
    _Event("drowsiness", 0.0026, (0, 1), 0.0, ("drowsy after treatment",)),
    _Event("headache", 0.0014, (1, 2), 0.05, ("headache that evening",)),
    _Event("nausea", 0.0013, (0, 1), 0.0, ("felt nauseous",)),
    _Event("fatigue", 0.0010, (1, 2), 0.0, ("tired the rest of the day",)),
    _Event("fainting", 0.0005, (0, 0), 0.3, ("vasovagal episode, lay down",)),
    _Event("nerve_irritation", 0.0004, (2, 10), 0.25, ("tingling in the area",)),
    _Event("infection_signs", 0.0001, (7, 14), 0.6, ("redness at needle site",)),
    _Event(
        "pneumothorax",
        0.00002,
        (10, 21),
        0.0,
        ("admitted, chest drain",),
        serious=True,
        regions=("neck", "upper_back", "shoulder"),
    ),
)

_FIRST_NAMES_F = ("Ana", "Maria", "Sofia", "Emma", "Olivia", "Chloe", "Aoife", "Lucia", "Grace", "Hannah",
                  "Mia", "Sarah", "Laura", "Nora", "Ines", "Julia", "Claire", "Fatima", "Yuki", "Priya")  # fmt: skip
_FIRST_NAMES_M = ("James", "Liam", "Noah", "Lucas", "David", "Mateo", "Sean", "Omar", "Daniel", "Ben",
                  "Tom", "Marco", "Jack", "Ethan", "Ravi", "Kenji", "Paul", "Samuel", "Hugo", "Leo")  # fmt: skip
_LAST_NAMES = ("Silva", "Murphy", "Smith", "Garcia", "Kelly", "Novak", "Rossi", "Brown", "Walsh", "Martin",
               "Ahmed", "Kowalski", "Nguyen", "Byrne", "Lopez", "Taylor", "Jensen", "Moreau", "Costa", "Ryan",
               "Tanaka", "Patel", "Fischer", "O'Brien", "Dubois")  # fmt: skip
_POSTCODE_PREFIXES = ("021", "024", "017", "019", "018", "100", "112", "303")
_POSTCODE_WEIGHTS = (0.3, 0.2, 0.15, 0.1, 0.08, 0.08, 0.05, 0.04)

_NOTES_GOOD = ("walked 30 minutes", "slept through the night", "gardening ok", "back at the gym", "drove without pain")
_NOTES_MID = ("worked at desk all day", "light housework", "short walk", "stretches done")
_NOTES_BAD = ("struggled to sleep", "stiff in the morning", "skipped the walk", "painkillers taken", "long drive hurt")

#: Appointment times: every 15 minutes from 08:00 to 18:30, mostly on the half hour.
_SLOT_MINUTES = np.arange(8 * 60, 18 * 60 + 31, 15)
_SLOT_TIMES = np.array([f"{m // 60:02d}:{m % 60:02d}" for m in _SLOT_MINUTES])
_SLOT_P = np.where(_SLOT_MINUTES % 30 == 0, 4.0, 1.0) / np.where(_SLOT_MINUTES % 30 == 0, 4.0, 1.0).sum()

# Visit plans: 0 twice-weekly, 1 weekly, 2 fortnightly.
_PLAN_P = (0.2, 0.6, 0.2)
_PLAN_INTERVAL = np.array([3.5, 7.0, 14.0])
_PLAN_RATE = np.array([1.7, 1.0, 0.65])  # multiplies the response rate k


# ----------------------------------------------------------------------------
# Public API
# ----------------------------------------------------------------------------


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
    cal = _Calendar.for_period(pd.Timestamp(end).normalize(), months)
    patients = _draw_patients(rng, n_patients, cal.last_year, n_practitioners)
    episodes, slots = _draw_all_episodes(rng, cal, patients)
    patients, episodes, order = _assign_ids(patients, episodes)
    sessions = _build_sessions(rng, episodes, {key: value[order] for key, value in slots.items()}, n_practitioners)
    tables = {
        "patients": patients,
        "episodes": episodes,
        "sessions": sessions,
        "rom": _build_rom(rng, episodes, sessions, n_practitioners),
        "proms": _build_proms(rng, episodes, sessions),
        "adverse_events": _build_adverse_events(rng, sessions),
        "journal": _build_journal(rng, cal, episodes, sessions),
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


def demo_holidays(first: str | date, last: str | date) -> pd.DatetimeIndex:
    """Public holidays on which the demo clinic is closed.

    New Year's Day, Good Friday, Easter Monday, 1 May, Christmas Day and
    St Stephen's / Boxing Day of every year, limited to ``first``..``last``.

    Returns
    -------
    DatetimeIndex
        The holidays, sorted.
    """
    first, last = pd.Timestamp(first), pd.Timestamp(last)
    days = []
    for year in range(first.year, last.year + 1):
        easter = _easter_sunday(year)
        days += [date(year, 1, 1), easter - pd.Timedelta(days=2), easter + pd.Timedelta(days=1)]
        days += [date(year, 5, 1), date(year, 12, 25), date(year, 12, 26)]
    index = pd.DatetimeIndex(sorted(pd.Timestamp(d) for d in days))
    return index[(index >= first) & (index <= last)]


# ----------------------------------------------------------------------------
# Calendar
# ----------------------------------------------------------------------------


def _check_arguments(**values: int) -> None:
    limits = {"n_patients": (1, 10_000_000), "months": (1, 240), "n_practitioners": (1, 99)}
    for name, value in values.items():
        low, high = limits[name]
        if not isinstance(value, (int, np.integer)) or not low <= value <= high:
            raise ValueError(f"`{name}` must be a whole number from {low} to {high}, not {value!r}")


def _easter_sunday(year: int) -> pd.Timestamp:
    """Gregorian Easter Sunday (anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l_) // 451
    month, day = divmod(h + l_ - 7 * m + 114, 31)
    return pd.Timestamp(year, month, day + 1)


def _day_number(ts: pd.Timestamp) -> int:
    return int(np.datetime64(ts.date(), "D").astype(np.int64))


@dataclass(frozen=True)
class _Calendar:
    """Clinic days as integer day numbers (days since 1970-01-01)."""

    first_day: int
    last_day: int
    next_open: np.ndarray  # next_open[d - first_day]: first clinic day >= d

    @classmethod
    def for_period(cls, end: pd.Timestamp, months: int) -> _Calendar:
        start = end + pd.Timedelta(days=1) - pd.DateOffset(months=months)
        horizon = end + pd.Timedelta(days=60)
        days = pd.date_range(start, horizon, freq="D")
        closed = (days.day_of_week >= 5) | days.isin(demo_holidays(start, horizon))
        first = _day_number(start)
        numbers = first + np.arange(len(days))
        # For each day, the next open day: a backward running minimum.
        candidate = np.where(closed, np.iinfo(np.int64).max, numbers)
        next_open = np.minimum.accumulate(candidate[::-1])[::-1]
        next_open = np.where(next_open == np.iinfo(np.int64).max, numbers + 7, next_open)
        return cls(first, _day_number(end), next_open)

    @property
    def last_year(self) -> int:
        return int(np.datetime64(self.last_day, "D").astype(object).year)

    def snap(self, days: np.ndarray) -> np.ndarray:
        """Move each day forward to a clinic day (days past the table stay)."""
        index = days - self.first_day
        inside = index < len(self.next_open)
        return np.where(inside, self.next_open[np.clip(index, 0, len(self.next_open) - 1)], days)

    def random_open_days(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` clinic days drawn uniformly from the period."""
        span = self.next_open[: self.last_day - self.first_day + 1]
        open_days = np.unique(span[span <= self.last_day])
        return open_days[rng.integers(0, len(open_days), n)]


def _dates(days: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """Integer day numbers as ``datetime64[ns]`` (NaT where not ``valid``)."""
    out = days.astype("datetime64[D]").astype("datetime64[ns]")
    if valid is not None:
        out[~valid] = np.datetime64("NaT")
    return out


# ----------------------------------------------------------------------------
# Patients and episodes
# ----------------------------------------------------------------------------


def _draw_patients(rng: np.random.Generator, n: int, last_year: int, n_practitioners: int) -> pd.DataFrame:
    """Patient-level draws (internal ``pidx`` instead of an ID yet).

    Returns
    -------
    DataFrame
        Columns pidx, birth_year, sex, first_name, last_name, postcode,
        practitioner (preferred, 0-based), journal (keeps a diary).
    """
    age = np.clip(np.rint(rng.normal(47, 15, n)), 18, 85)
    sex = rng.choice(np.array(["F", "M", "X", "U"]), n, p=[0.585, 0.395, 0.01, 0.01])
    female = rng.choice(np.array(_FIRST_NAMES_F), n)
    male = rng.choice(np.array(_FIRST_NAMES_M), n)
    either = np.where(rng.random(n) < 0.5, female, male)
    first = np.select([sex == "F", sex == "M"], [female, male], either)
    prefix = rng.choice(np.array(_POSTCODE_PREFIXES), n, p=_POSTCODE_WEIGHTS)
    suffix = np.strings.zfill(rng.integers(0, 100, n).astype(str), 2)
    load = rng.dirichlet(np.full(n_practitioners, 6.0))
    return pd.DataFrame(
        {
            "pidx": np.arange(n),
            "birth_year": last_year - age.astype(np.int64) - rng.integers(0, 2, n),
            "sex": sex,
            "first_name": first,
            "last_name": rng.choice(np.array(_LAST_NAMES), n),
            "postcode": np.strings.add(prefix, suffix),
            "practitioner": rng.choice(n_practitioners, n, p=load),
            "journal": rng.random(n) < 0.25,
        }
    )


def _draw_all_episodes(
    rng: np.random.Generator, cal: _Calendar, patients: pd.DataFrame
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """First episodes for everyone, then second ones for some who finished.

    About a third of the patients whose first episode closed early enough
    return 3-26 weeks later, half of them with the same body region.

    Returns
    -------
    episodes : DataFrame
        One row per episode, see :func:`_simulate_episodes`.
    slots : dict of str to ndarray
        Slot matrices (episodes x ``K_SLOTS``) in the same row order.
    """
    n = len(patients)
    first, slots1 = _simulate_episodes(rng, cal, np.arange(n), cal.random_open_days(rng, n))
    ended = first["end_day"].to_numpy() >= 0
    restart = cal.snap(np.where(ended, first["end_day"].to_numpy(), cal.last_day) + rng.integers(21, 181, n))
    again = ended & (restart <= cal.last_day - 7) & (rng.random(n) < 0.3)
    same = rng.random(n) < 0.5
    region = np.where(same, first["body_region"].to_numpy(), None)[again]
    second, slots2 = _simulate_episodes(rng, cal, np.flatnonzero(again), restart[again], region)
    episodes = pd.concat([first, second], ignore_index=True)
    slots = {key: np.concatenate([slots1[key], slots2[key]]) for key in slots1}
    return episodes, slots


def _simulate_episodes(
    rng: np.random.Generator,
    cal: _Calendar,
    pidx: np.ndarray,
    start: np.ndarray,
    region: np.ndarray | None = None,
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Simulate a batch of episodes starting on the given (clinic) days.

    ``region`` fixes the body region where not None (a recurrence).

    Returns
    -------
    episodes : DataFrame
        Columns pidx, start_day, end_day (-1 when open), body_region,
        condition, symptom_duration_weeks, discharge_reason, side, plan,
        baseline, r, k, plus internal draws used by later tables.
    slots : dict of str to ndarray
        ``day``, ``status`` (0 attended, 1 cancelled, 2 no_show), ``before``
        (attended sessions before the slot), ``planned`` (slot belongs to
        the course) and ``kept`` (planned and inside the period), each
        episodes x ``K_SLOTS``.
    """
    n = len(pidx)
    episodes = _draw_episode_traits(rng, n, region)
    episodes.insert(0, "pidx", pidx)
    episodes.insert(1, "start_day", start)
    course = _draw_course(rng, episodes)
    slots = _draw_slots(rng, cal, episodes, course)
    episodes["end_day"], episodes["discharge_reason"], episodes["ongoing"] = _discharge(rng, cal, course, slots)
    return episodes, slots


def _draw_episode_traits(rng: np.random.Generator, n: int, keep_region: np.ndarray | None = None) -> pd.DataFrame:
    """Region, condition, chronicity and the latent pain-response parameters.

    Returns
    -------
    DataFrame
        Columns body_region, condition, symptom_duration_weeks, side, plan,
        responder, r (achievable relative reduction), k (rate per attended
        session), baseline (true first pain), needle_base, muscle_start,
        time_slot, rom (ROM measured), rom_init (fraction of normal ROM at
        start), rom_device, rom_mode, prom (questionnaires used).
    """
    region = rng.choice(np.array(_REGIONS, dtype=object), n, p=list(_REGION_WEIGHTS.values()))
    if keep_region is not None:
        region = np.where(pd.isna(keep_region), region, keep_region)
    weeks = np.clip(np.rint(np.exp(rng.normal(np.log(10), 1.1, n))), 1, 1040)
    chronic = weeks > 26
    plan = rng.choice(3, n, p=_PLAN_P)
    responder = rng.random(n) < np.where(chronic, 0.68, 0.8)
    z = rng.normal(0, 1, n)  # responsiveness: fast responders also gain more
    speed = np.exp(0.45 * (0.75 * z + 0.66 * rng.normal(0, 1, n)))
    return pd.DataFrame(
        {
            "body_region": region,
            "condition": _pick_per_group(rng, region, _CONDITIONS),
            "symptom_duration_weeks": weeks,
            "side": np.where(rng.random(n) < 0.55, "right", "left"),
            "plan": plan,
            "responder": responder,
            "r": np.where(responder, np.clip(0.68 + 0.13 * z + rng.normal(0, 0.06, n), 0.3, 0.97), rng.beta(2, 9, n)),
            "k": 0.3 * speed * _PLAN_RATE[plan] * np.where(chronic, 0.8, 1.0),
            "baseline": np.clip(rng.normal(6.2, 1.3, n), 2.5, 10),
            "needle_base": 2 + rng.poisson(4, n),
            "muscle_start": rng.integers(0, 6, n),
            "time_slot": rng.choice(len(_SLOT_TIMES), n, p=_SLOT_P),
            "rom": rng.random(n) < 0.85,
            "rom_init": rng.uniform(0.6, 0.9, n),
            "rom_device": rng.choice(np.array(["usual", "app", "visual"]), n, p=[0.86, 0.09, 0.05]),
            "rom_mode": np.where(rng.random(n) < 0.88, "active", "passive"),
            "prom": rng.random(n) < 0.5,
        }
    )


def _pick_per_group(rng: np.random.Generator, group: np.ndarray, options: dict[str, tuple[str, ...]]) -> np.ndarray:
    """For each row, one of ``options[group]`` at random."""
    draw = rng.random(len(group))
    out = np.empty(len(group), dtype=object)
    for name, values in options.items():
        rows = group == name
        out[rows] = np.array(values, dtype=object)[(draw[rows] * len(values)).astype(int)]
    return out


@dataclass(frozen=True)
class _Course:
    """How each episode of a batch is meant to run (arrays, one per episode)."""

    n_attended: np.ndarray  # attended sessions before stopping
    reason: np.ndarray  # discharge reason if the episode is closed
    dropout: np.ndarray
    closed: np.ndarray  # dropouts closed as self_discharged (else left open)
    trailing_miss: np.ndarray  # dropouts whose last booking was missed


def _draw_course(rng: np.random.Generator, ep: pd.DataFrame) -> _Course:
    """Planned number of attended sessions and the reason for stopping.

    Responders stop when 85% of their achievable gain is reached (so slow
    responders get more sessions); poor responders are seen for a
    negative-binomial number of sessions, then referred (mostly).
    """
    n = len(ep)
    responder = ep["responder"].to_numpy()
    goal = np.ceil(np.log(1 / 0.15) / ep["k"].to_numpy()) + rng.integers(0, 2, n)
    persist = 4 + rng.negative_binomial(3, 0.33, n)
    planned = np.clip(np.where(responder, goal, persist), 2, MAX_ATTENDED).astype(np.int64)
    single = rng.random(n) < 0.03
    dropout = ~single & (rng.random(n) < np.where(responder, 0.12, 0.3))
    drop_at = 1 + np.floor(rng.random(n) * planned).astype(np.int64)
    n_attended = np.where(single, 1, np.where(dropout, drop_at, planned))
    poor = rng.choice(np.array(["referred", "other", "goals_met"]), n, p=[0.6, 0.15, 0.25])
    first_visit = rng.choice(np.array(["referred", "other"]), n, p=[0.7, 0.3])
    reason = np.where(responder, "goals_met", poor)
    reason = np.where(single, first_visit, np.where(dropout, "self_discharged", reason))
    return _Course(n_attended, reason, dropout, rng.random(n) < 0.5, dropout & (rng.random(n) < 0.5))


def _draw_slots(rng: np.random.Generator, cal: _Calendar, ep: pd.DataFrame, course: _Course) -> dict[str, np.ndarray]:
    """Status and date of every appointment slot; which slots happened.

    Returns
    -------
    dict of str to ndarray
        ``day``, ``status``, ``before``, ``planned`` and ``kept``
        (episodes x K_SLOTS), see :func:`_simulate_episodes`.
    """
    n = len(ep)
    u = rng.random((n, K_SLOTS))
    status = np.select([u < 0.07, u < 0.11], [1, 2], 0)
    status[:, 0] = 0  # the initial consultation happens on the start date
    attended = status == 0
    count = np.cumsum(attended, axis=1)
    reached = count >= course.n_attended[:, None]
    stop = np.where(reached.any(axis=1), reached.argmax(axis=1), K_SLOTS - 1)
    last = np.minimum(stop + course.trailing_miss, K_SLOTS - 1)
    rows = np.flatnonzero(last > stop)
    status[rows, last[rows]] = rng.choice([1, 2], len(rows))
    before = count - attended
    day = _slot_days(rng, cal, ep, status, before)
    planned = np.arange(K_SLOTS)[None, :] <= last[:, None]
    return {"day": day, "status": status, "before": before, "planned": planned, "kept": planned & (day <= cal.last_day)}


def _slot_days(
    rng: np.random.Generator, cal: _Calendar, ep: pd.DataFrame, status: np.ndarray, before: np.ndarray
) -> np.ndarray:
    """Dates of the slots: the plan's interval, longer as the patient
    improves, and a quick rebooking after a cancelled or missed slot."""
    n = len(ep)
    plan, r, k = ep["plan"].to_numpy(), ep["r"].to_numpy(), ep["k"].to_numpy()
    jitter = np.exp(rng.normal(0, 0.12, (n, K_SLOTS)))
    rebook = rng.integers(2, 8, (n, K_SLOTS))
    day = np.empty((n, K_SLOTS), dtype=np.int64)
    day[:, 0] = ep["start_day"].to_numpy()
    for j in range(1, K_SLOTS):
        since_start = day[:, j - 1] - day[:, 0]
        later = since_start >= 28
        base = np.where((plan == 0) & later, 7.0, _PLAN_INTERVAL[plan])
        progress = np.where(later, r * (1 - np.exp(-k * before[:, j])), 0.0)
        interval = np.rint(base * (1 + 0.8 * progress) * jitter[:, j])
        interval = np.where(status[:, j - 1] == 0, np.maximum(interval, 2), rebook[:, j])
        day[:, j] = cal.snap(day[:, j - 1] + interval.astype(np.int64))
    return day


def _discharge(
    rng: np.random.Generator, cal: _Calendar, course: _Course, slots: dict[str, np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """End day (-1 when open), discharge reason (None when open), ongoing.

    Episodes whose planned course runs past the period are ongoing; closed
    dropouts are closed 30-60 days after their last booking (if that falls
    inside the period), the other half stay open.
    """
    kept, day = slots["kept"], slots["day"]
    last_seen = np.where(kept, day, -1).max(axis=1)
    ongoing = (slots["planned"] & ~kept).any(axis=1)
    closing = np.where(course.dropout, last_seen + rng.integers(30, 61, len(day)), last_seen)
    open_ = ongoing | (course.dropout & ~course.closed) | (closing > cal.last_day)
    end_day = np.where(open_, -1, closing)
    reason = np.where(open_, None, course.reason.astype(object))
    return end_day, reason, ongoing


# ----------------------------------------------------------------------------
# Identifiers
# ----------------------------------------------------------------------------


def _ids(prefix: str, numbers: np.ndarray, min_width: int) -> np.ndarray:
    """``prefix`` plus zero-padded ``numbers`` (1-based), e.g. ``P0001``."""
    if len(numbers) == 0:
        return np.array([], dtype=object)
    width = max(min_width, len(str(int(numbers.max()))))
    return np.strings.add(prefix, np.strings.zfill(numbers.astype(str), width))


def _assign_ids(patients: pd.DataFrame, episodes: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Number patients by first visit and episodes by start date.

    Returns
    -------
    patients : DataFrame
        Sorted by the new ``patient_id``.
    episodes : DataFrame
        Sorted by ``episode_id``, with ``patient_id``, ``practitioner``
        (the patient's usual one), ``journal``, and the schema's
        ``start_date``, ``end_date`` added.
    order : ndarray
        Positions of the sorted episodes in the input frame (to reorder the
        slot matrices).
    """
    first_start = episodes.groupby("pidx")["start_day"].min().reindex(patients["pidx"]).to_numpy()
    by_visit = np.lexsort((patients["pidx"].to_numpy(), first_start))
    patients = patients.iloc[by_visit].reset_index(drop=True)
    patients.insert(0, "patient_id", _ids("P", np.arange(1, len(patients) + 1), 4))
    lookup = patients.set_index("pidx")
    order = np.lexsort((lookup.index.get_indexer(episodes["pidx"]), episodes["start_day"].to_numpy()))
    episodes = episodes.iloc[order].reset_index(drop=True)
    for column in ("patient_id", "practitioner", "journal"):
        episodes[column] = lookup[column].reindex(episodes["pidx"]).to_numpy()
    episodes.insert(0, "episode_id", _ids("E", np.arange(1, len(episodes) + 1), 5))
    episodes["start_date"] = _dates(episodes["start_day"].to_numpy())
    episodes["end_date"] = _dates(episodes["end_day"].to_numpy(), episodes["end_day"].to_numpy() >= 0)
    return patients, episodes, order


def _true_pain(baseline: np.ndarray, r: np.ndarray, k: np.ndarray, before: np.ndarray) -> np.ndarray:
    """Pain after ``before`` attended sessions: exponential approach to a floor."""
    return baseline * (1 - r * (1 - np.exp(-k * before)))


# ----------------------------------------------------------------------------
# Sessions
# ----------------------------------------------------------------------------


def _build_sessions(
    rng: np.random.Generator, episodes: pd.DataFrame, slots: dict[str, np.ndarray], n_practitioners: int
) -> pd.DataFrame:
    """One row per kept slot, in date order, with scores and needling.

    Returns
    -------
    DataFrame
        The schema's session columns plus internal ones: eidx (episode
        position), day, code (0 attended, 1 cancelled, 2 no_show), before,
        true_pain, region, first_muscle.
    """
    e, j = np.nonzero(slots["kept"])
    m = len(e)
    ep = {c: episodes[c].to_numpy() for c in ("practitioner", "time_slot", "baseline", "r", "k", "body_region")}
    practitioner = ep["practitioner"][e]
    other = (practitioner + rng.integers(1, max(n_practitioners, 2), m)) % n_practitioners
    practitioner = np.where(rng.random(m) < 0.08, other, practitioner)
    time_slot = np.where(rng.random(m) < 0.7, ep["time_slot"][e], rng.choice(len(_SLOT_TIMES), m, p=_SLOT_P))
    order = np.lexsort((e, time_slot, slots["day"][e, j]))  # session IDs follow the diary
    e, j, practitioner, time_slot = e[order], j[order], practitioner[order], time_slot[order]
    day, before, code = slots["day"][e, j], slots["before"][e, j], slots["status"][e, j]
    sessions = pd.DataFrame(
        {
            "session_id": _ids("S", np.arange(1, m + 1), 6),
            "eidx": e,
            "episode_id": episodes["episode_id"].to_numpy()[e],
            "patient_id": episodes["patient_id"].to_numpy()[e],
            "practitioner": practitioner,
            "practitioner_id": _ids("PR", practitioner + 1, 2),
            "day": day,
            "session_date": _dates(day),
            "session_time": _SLOT_TIMES[time_slot],
            "code": code,
            "status": np.array(SESSION_STATUSES, dtype=object)[code],
            "before": before,
            "true_pain": _true_pain(ep["baseline"][e], ep["r"][e], ep["k"][e], before),
            "region": ep["body_region"][e],
        }
    )
    sessions = _add_pain(rng, sessions)
    needle_base, muscle_start = episodes["needle_base"].to_numpy()[e], episodes["muscle_start"].to_numpy()[e]
    sessions = _add_needling(rng, sessions, needle_base, muscle_start)
    return sessions


def _add_pain(rng: np.random.Generator, sessions: pd.DataFrame) -> pd.DataFrame:
    """Add pain_pre (true pain + noise) and pain_post (0-2 points lower).

    Only attended sessions are scored; ~2% of pain_pre and ~3% of
    pain_post are missing there.
    """
    m = len(sessions)
    attended = sessions["code"].to_numpy() == 0
    pre = np.clip(np.rint(sessions["true_pain"].to_numpy() + rng.normal(0, 0.6, m)), 0, 10)
    post = np.clip(pre - rng.choice(3, m, p=[0.3, 0.45, 0.25]), 0, 10)
    out = sessions.copy()
    out["pain_pre"] = np.where(attended & (rng.random(m) >= 0.02), pre, np.nan)
    out["pain_post"] = np.where(attended & (rng.random(m) >= 0.03), post, np.nan)
    return out


def _add_needling(
    rng: np.random.Generator, sessions: pd.DataFrame, needle_base: np.ndarray, muscle_start: np.ndarray
) -> pd.DataFrame:
    """Add needles (1-15), muscles (1-3 of the region's) and twitch_response.

    The practitioner mostly needles the same muscles within an episode.
    Needling columns are blank for cancelled and missed sessions.
    """
    m = len(sessions)
    attended = sessions["code"].to_numpy() == 0
    needles = np.clip(needle_base + rng.integers(-2, 3, m), 1, 15)
    start = np.where(rng.random(m) < 0.25, rng.integers(0, 6, m), muscle_start)
    count = rng.choice(3, m, p=[0.3, 0.45, 0.25])
    region = pd.Index(_REGIONS).get_indexer(sessions["region"])
    muscles = _MUSCLE_COMBOS[region, start, count]
    out = sessions.copy()
    out["needles"] = pd.arrays.IntegerArray(needles.astype(np.int64), ~attended)
    out["muscles"] = np.where(attended, muscles, None)
    out["first_muscle"] = _MUSCLE_COMBOS[region, start, 0]
    out["twitch_response"] = np.where(attended, np.where(rng.random(m) < 0.6, "yes", "no"), None)
    return out


def _muscle_combos() -> np.ndarray:
    """Lookup [region, start, count - 1] -> "m1;m2;m3" of consecutive muscles."""
    combos = np.empty((len(_REGIONS), 6, 3), dtype=object)
    for r, region in enumerate(_REGIONS):
        names = _MUSCLES[region]
        for start in range(6):
            for count in range(1, 4):
                picked = [names[(start + i) % len(names)] for i in range(count)]
                combos[r, start, count - 1] = ";".join(dict.fromkeys(picked))
    return combos


_MUSCLE_COMBOS = _muscle_combos()


# ----------------------------------------------------------------------------
# Range of motion, questionnaires, adverse events, journal
# ----------------------------------------------------------------------------


def _build_rom(
    rng: np.random.Generator, episodes: pd.DataFrame, sessions: pd.DataFrame, n_practitioners: int
) -> pd.DataFrame:
    """Readings at the first, every third and the last attended session.

    True ROM starts at ``rom_init`` (60-90%) of normal and recovers with the
    relative pain reduction; readings add noise SD = MDC / 2.77 for the
    device, rounded to whole degrees and kept within plausible limits. The
    rater is the treating practitioner, another one 10% of the time.

    Returns
    -------
    DataFrame
        The schema's rom columns.
    """
    at = _rom_sessions(episodes, sessions)
    ses = {c: sessions[c].to_numpy() for c in ("eidx", "true_pain", "practitioner", "region")}
    ep = {c: episodes[c].to_numpy() for c in ("rom_device", "rom_init", "baseline", "side", "rom_mode")}
    blocks = []
    for region, plan in _ROM_PLAN.items():
        rows = at[ses["region"][at] == region]
        for number, reading in enumerate(plan):
            blocks.append(_rom_block(rng, ep, ses, rows, reading, number))
    rom = {key: np.concatenate([block[key] for block in blocks]) for key in blocks[0]}
    order = np.lexsort((rom.pop("number"), rom["row"]))
    rom = pd.DataFrame({key: values[order] for key, values in rom.items()})
    taken = sessions.iloc[rom.pop("row").to_numpy()].reset_index(drop=True)
    rom["session_id"] = taken["session_id"]
    rom["measured_on"] = taken["session_date"]
    rom["patient_id"], rom["episode_id"] = taken["patient_id"], taken["episode_id"]
    switch = rng.random(len(rom)) < 0.1
    rater = rom.pop("rater").to_numpy()
    rom["rater_id"] = _ids("PR", np.where(switch, (rater + 1) % n_practitioners, rater) + 1, 2)
    return rom


def _rom_sessions(episodes: pd.DataFrame, sessions: pd.DataFrame) -> np.ndarray:
    """Positions of the attended sessions at which ROM is measured."""
    attended = sessions[sessions["code"].to_numpy() == 0]
    eidx = attended["eidx"].to_numpy()
    last = attended.groupby("eidx")["before"].transform("max").to_numpy() == attended["before"].to_numpy()
    finished = episodes["discharge_reason"].isin(["goals_met", "referred", "other"]).to_numpy()[eidx]
    keep = (attended["before"].to_numpy() % 3 == 0) | (last & finished)
    keep = keep & episodes["rom"].to_numpy()[eidx]
    return np.flatnonzero(sessions["code"].to_numpy() == 0)[keep]


def _rom_block(
    rng: np.random.Generator,
    ep: dict[str, np.ndarray],
    ses: dict[str, np.ndarray],
    rows: np.ndarray,
    reading: tuple[str, str, str, float],
    number: int,
) -> dict[str, np.ndarray]:
    """Readings of one joint movement at the sessions in ``rows``."""
    joint, movement, side, normal = reading
    e = ses["eidx"][rows]
    kind = ep["rom_device"][e]
    device = np.where(kind == "usual", _ROM_DEVICE.get(joint, "goniometer"), kind)
    mdc = np.where(kind == "usual", _ROM_MDC.get(joint, 8.0), 0.0)
    for other, value in _ROM_MDC_OTHER_DEVICE.items():
        mdc = np.where(kind == other, value, mdc)
    baseline = ep["baseline"][e]
    relief = np.clip((baseline - ses["true_pain"][rows]) / baseline, 0, 1)
    start = np.clip(ep["rom_init"][e] + rng.uniform(-0.05, 0.05, len(ep["rom_init"]))[e], 0.5, 0.95)
    fraction = start + (1 - start) * np.minimum(1.0, 1.25 * relief)
    low, high = _PLAUSIBLE[(joint, movement)]
    n = len(rows)
    return {
        "row": rows,
        "number": np.full(n, number),
        "joint": np.full(n, joint, dtype=object),
        "movement": np.full(n, movement, dtype=object),
        "side": ep["side"][e] if side == "affected" else np.full(n, side, dtype=object),
        "degrees": np.clip(np.rint(normal * fraction + rng.normal(0, 1, n) * mdc / 2.77), low, high),
        "mode": ep["rom_mode"][e],
        "device": device.astype(object),
        "rater": ses["practitioner"][rows],
    }


_PLAUSIBLE = {(row.joint, row.movement): (row.min_degrees, row.max_degrees) for row in plausible_degrees().itertuples()}


def _build_proms(rng: np.random.Generator, episodes: pd.DataFrame, sessions: pd.DataFrame) -> pd.DataFrame:
    """Questionnaires at the first session and at discharge for ~half the episodes.

    The disability fraction starts at about ``0.08 + 0.07 * baseline pain``
    and shrinks in proportion to the pain at the end, with noise.

    Returns
    -------
    DataFrame
        patient_id, episode_id, completed_on, instrument, score.
    """
    ep = episodes[episodes["prom"].to_numpy()]
    n = len(ep)
    instrument = ep["body_region"].map(_PROM_BY_REGION).fillna("PSFS").to_numpy(dtype=object)
    instrument = np.where(rng.random(n) < 0.1, "PSFS", instrument)
    attended = sessions[sessions["code"].to_numpy() == 0].groupby("eidx").size()
    n_attended = attended.reindex(ep.index, fill_value=1).to_numpy()
    final = _true_pain(ep["baseline"].to_numpy(), ep["r"].to_numpy(), ep["k"].to_numpy(), n_attended)
    start = np.clip(0.08 + 0.07 * ep["baseline"].to_numpy() + rng.normal(0, 0.07, n), 0.03, 0.95)
    end = np.clip(start * final / ep["baseline"].to_numpy() * np.exp(rng.normal(0, 0.15, n)), 0, 1)
    discharged = ep["discharge_reason"].isin(["goals_met", "referred", "other"]).to_numpy() & (
        ep["end_day"].to_numpy() > ep["start_day"].to_numpy()
    )
    first = _prom_rows(ep, instrument, start, ep["start_date"].to_numpy(), np.ones(n, dtype=bool))
    last = _prom_rows(ep, instrument, end, ep["end_date"].to_numpy(), discharged)
    proms = pd.concat([first, last], ignore_index=True)
    return proms.sort_values(["episode_id", "completed_on"], kind="stable").reset_index(drop=True)


def _prom_rows(
    ep: pd.DataFrame, instrument: np.ndarray, disability: np.ndarray, when: np.ndarray, keep: np.ndarray
) -> pd.DataFrame:
    """Scores on each instrument's own scale from a 0-1 disability fraction."""
    score = np.full(len(ep), np.nan)
    for name, (low, high, higher_better, step) in _PROM_SCALE.items():
        rows = instrument == name
        raw = np.where(higher_better, 1 - disability[rows], disability[rows]) * (high - low) + low
        score[rows] = np.clip(np.round(raw / step) * step, low, high).round(1)
    frame = pd.DataFrame(
        {
            "patient_id": ep["patient_id"].to_numpy(),
            "episode_id": ep["episode_id"].to_numpy(),
            "completed_on": when,
            "instrument": instrument,
            "score": score,
        }
    )
    return frame[keep]


def _build_adverse_events(rng: np.random.Generator, sessions: pd.DataFrame) -> pd.DataFrame:
    """Adverse events after attended sessions at per-treatment rates.

    Each event type is an independent draw per attended session; about 1%
    of events are significant (resolve later) and serious ones are expected
    less than once in the default clinic.

    Returns
    -------
    DataFrame
        session_id, patient_id, event_type, severity, resolved_days, notes.
    """
    treated = sessions[sessions["code"].to_numpy() == 0]
    region = treated["region"].to_numpy()
    blocks = []
    for order, event in enumerate(_EVENTS):
        hit = rng.random(len(treated)) < event.rate
        if event.regions is not None:
            hit &= np.isin(region, event.regions)
        blocks.append(_event_block(rng, treated, event, hit, order))
    events = pd.concat(blocks, ignore_index=True)
    return events.sort_values(["position", "order"], kind="stable").reset_index(drop=True)


def _event_block(
    rng: np.random.Generator, treated: pd.DataFrame, event: _Event, hit: np.ndarray, order: int
) -> pd.DataFrame:
    """Rows of one event type at the sessions where ``hit``."""
    rows = treated[hit]
    n = len(rows)
    significant = rng.random(n) < event.p_significant
    days = rng.integers(event.days[0], event.days[1] + 1, n)
    days = np.where(significant, days * 2 + 3, days)
    notes = np.array(event.notes, dtype=object)[rng.integers(0, len(event.notes), n)]
    if event.name == "bruising":
        notes = notes + ", " + rows["first_muscle"].to_numpy(dtype=object)
    notes = np.where(rng.random(n) < 0.2, None, notes)
    severity = "serious" if event.serious else np.where(significant, "significant", "mild")
    return pd.DataFrame(
        {
            "session_id": rows["session_id"].to_numpy(),
            "patient_id": rows["patient_id"].to_numpy(),
            "event_type": event.name,
            "severity": severity,
            "resolved_days": days.astype(float),
            "notes": notes,
            "position": np.flatnonzero(hit),
            "order": order,
        }
    )


def _build_journal(
    rng: np.random.Generator, cal: _Calendar, episodes: pd.DataFrame, sessions: pd.DataFrame
) -> pd.DataFrame:
    """Daily diary entries over the episodes of the journal-keeping patients.

    Pain follows the episode's trajectory (true pain after the attended
    sessions so far) plus 1-2 points of post-needling soreness on the day
    of a session and the day after; ~20% of days are skipped.

    Returns
    -------
    DataFrame
        patient_id, entry_date, pain, stiffness, mobility, activity_note.
    """
    e, day = _journal_days(rng, cal, episodes, sessions)
    before, sore = _sessions_so_far(sessions, e, day)
    n = len(e)
    ep = {c: episodes[c].to_numpy() for c in ("baseline", "r", "k", "patient_id")}
    level = _true_pain(ep["baseline"][e], ep["r"][e], ep["k"][e], before)
    pain = np.clip(np.rint(level + sore * rng.integers(1, 3, n) + rng.normal(0, 0.7, n)), 0, 10)
    journal = pd.DataFrame(
        {
            "patient_id": ep["patient_id"][e],
            "entry_date": _dates(day),
            "pain": pain,
            "stiffness": np.clip(np.rint(0.75 * pain + 1 + rng.normal(0, 0.8, n)), 0, 10),
            "mobility": np.clip(np.rint(9.5 - 0.8 * pain + rng.normal(0, 0.8, n)), 0, 10),
            "activity_note": _activity_notes(rng, pain),
        }
    )
    return journal.sort_values(["patient_id", "entry_date"], kind="stable").reset_index(drop=True)


def _journal_days(
    rng: np.random.Generator, cal: _Calendar, episodes: pd.DataFrame, sessions: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray]:
    """(episode position, day) of each diary entry kept.

    The diary runs from the start to the end date; for open episodes to
    the end of the period (ongoing) or 1-3 weeks after the last visit.
    """
    last_visit = sessions.groupby("eidx")["day"].max().reindex(episodes.index).to_numpy()
    end_day = episodes["end_day"].to_numpy()
    stop = np.where(end_day >= 0, end_day, last_visit + rng.integers(7, 22, len(episodes)))
    stop = np.where(episodes["ongoing"].to_numpy(), cal.last_day, np.minimum(stop, cal.last_day))
    start = episodes["start_day"].to_numpy()
    length = np.where(episodes["journal"].to_numpy(), stop - start + 1, 0)
    e = np.repeat(np.arange(len(episodes)), length)
    offset = np.arange(len(e)) - np.repeat(np.cumsum(length) - length, length)
    keep = rng.random(len(e)) >= 0.2
    return e[keep], start[e[keep]] + offset[keep]


def _sessions_so_far(sessions: pd.DataFrame, e: np.ndarray, day: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Attended sessions of episode ``e`` before ``day``, and whether one was
    on that day or the day before (post-needling soreness)."""
    attended = sessions[sessions["code"].to_numpy() == 0]
    stride = np.int64(1 << 24)
    keys = np.sort(attended["eidx"].to_numpy().astype(np.int64) * stride + attended["day"].to_numpy())
    query = e.astype(np.int64) * stride + day
    before = np.searchsorted(keys, query) - np.searchsorted(keys, e.astype(np.int64) * stride)
    today = np.searchsorted(keys, query, side="right") > np.searchsorted(keys, query)
    yesterday = np.searchsorted(keys, query - 1, side="right") > np.searchsorted(keys, query - 1)
    return before, today | yesterday


def _activity_notes(rng: np.random.Generator, pain: np.ndarray) -> np.ndarray:
    """An occasional (8%) note, in tune with the day's pain."""
    n = len(pain)
    notes = np.full(n, None, dtype=object)
    for pool, rows in ((_NOTES_GOOD, pain <= 3), (_NOTES_MID, (pain > 3) & (pain < 6)), (_NOTES_BAD, pain >= 6)):
        notes[rows] = np.array(pool, dtype=object)[rng.integers(0, len(pool), rows.sum())]
    return np.where(rng.random(n) < 0.08, notes, None)


# ----------------------------------------------------------------------------
# Output
# ----------------------------------------------------------------------------


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
