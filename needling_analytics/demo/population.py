"""Patients and their episodes of care for the demo clinic.

:func:`draw_patients` draws who the patients are; :func:`draw_all_episodes`
gives everyone a first episode and some a second one, each with its traits
(body region, condition, chronicity, latent pain response) and its course
of appointments (:mod:`.appointments`); :func:`assign_ids` then numbers
patients by first visit and episodes by start date.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .appointments import PLAN_P, PLAN_RATE, SLOT_P, SLOT_TIMES, draw_course, draw_discharge, draw_slots
from .calendar import Calendar, day_dates

_REGION_WEIGHTS = {
    "neck": 0.23, "low_back": 0.23, "shoulder": 0.15, "upper_back": 0.08,
    "knee": 0.07, "hip": 0.055, "elbow": 0.05, "ankle_foot": 0.045,
    "wrist_hand": 0.035, "jaw": 0.02, "other": 0.035,
}  # fmt: skip
REGIONS = tuple(_REGION_WEIGHTS)

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


_FIRST_NAMES_F = ("Ana", "Maria", "Sofia", "Emma", "Olivia", "Chloe", "Aoife", "Lucia", "Grace", "Hannah",
                  "Mia", "Sarah", "Laura", "Nora", "Ines", "Julia", "Claire", "Fatima", "Yuki", "Priya")  # fmt: skip
_FIRST_NAMES_M = ("James", "Liam", "Noah", "Lucas", "David", "Mateo", "Sean", "Omar", "Daniel", "Ben",
                  "Tom", "Marco", "Jack", "Ethan", "Ravi", "Kenji", "Paul", "Samuel", "Hugo", "Leo")  # fmt: skip
_LAST_NAMES = ("Silva", "Murphy", "Smith", "Garcia", "Kelly", "Novak", "Rossi", "Brown", "Walsh", "Martin",
               "Ahmed", "Kowalski", "Nguyen", "Byrne", "Lopez", "Taylor", "Jensen", "Moreau", "Costa", "Ryan",
               "Tanaka", "Patel", "Fischer", "O'Brien", "Dubois")  # fmt: skip
_POSTCODE_PREFIXES = ("021", "024", "017", "019", "018", "100", "112", "303")
_POSTCODE_WEIGHTS = (0.3, 0.2, 0.15, 0.1, 0.08, 0.08, 0.05, 0.04)


def draw_patients(rng: np.random.Generator, n: int, last_year: int, n_practitioners: int) -> pd.DataFrame:
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


def draw_all_episodes(
    rng: np.random.Generator, cal: Calendar, patients: pd.DataFrame
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
    cal: Calendar,
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
    course = draw_course(rng, episodes)
    slots = draw_slots(rng, cal, episodes, course)
    episodes["end_day"], episodes["discharge_reason"], episodes["ongoing"] = draw_discharge(rng, cal, course, slots)
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
    region = rng.choice(np.array(REGIONS, dtype=object), n, p=list(_REGION_WEIGHTS.values()))
    if keep_region is not None:
        region = np.where(pd.isna(keep_region), region, keep_region)
    weeks = np.clip(np.rint(np.exp(rng.normal(np.log(10), 1.1, n))), 1, 1040)
    chronic = weeks > 26
    plan = rng.choice(3, n, p=PLAN_P)
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
            "k": 0.3 * speed * PLAN_RATE[plan] * np.where(chronic, 0.8, 1.0),
            "baseline": np.clip(rng.normal(6.2, 1.3, n), 2.5, 10),
            "needle_base": 2 + rng.poisson(4, n),
            "muscle_start": rng.integers(0, 6, n),
            "time_slot": rng.choice(len(SLOT_TIMES), n, p=SLOT_P),
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


def make_ids(prefix: str, numbers: np.ndarray, min_width: int) -> np.ndarray:
    """``prefix`` plus zero-padded ``numbers`` (1-based), e.g. ``P0001``."""
    if len(numbers) == 0:
        return np.array([], dtype=object)
    width = max(min_width, len(str(int(numbers.max()))))
    return np.strings.add(prefix, np.strings.zfill(numbers.astype(str), width))


def assign_ids(patients: pd.DataFrame, episodes: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
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
    patients.insert(0, "patient_id", make_ids("P", np.arange(1, len(patients) + 1), 4))
    lookup = patients.set_index("pidx")
    order = np.lexsort((lookup.index.get_indexer(episodes["pidx"]), episodes["start_day"].to_numpy()))
    episodes = episodes.iloc[order].reset_index(drop=True)
    for column in ("patient_id", "practitioner", "journal"):
        episodes[column] = lookup[column].reindex(episodes["pidx"]).to_numpy()
    episodes.insert(0, "episode_id", make_ids("E", np.arange(1, len(episodes) + 1), 5))
    episodes["start_date"] = day_dates(episodes["start_day"].to_numpy())
    episodes["end_date"] = day_dates(episodes["end_day"].to_numpy(), episodes["end_day"].to_numpy() >= 0)
    return patients, episodes, order
