"""The sessions table: pain trajectories, pain scores and needling.

:func:`build_sessions` turns the kept appointment slots into one row per
session, in date order. Pain before a session follows the episode's
trajectory (:func:`pain_after_sessions`) plus noise; the needling columns (needles,
muscles, twitch response) are filled for attended sessions only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..schema import SESSION_STATUSES
from .appointments import SLOT_P, SLOT_TIMES
from .calendar import day_dates
from .population import REGIONS, make_ids

MUSCLES = {
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


def pain_after_sessions(baseline: np.ndarray, r: np.ndarray, k: np.ndarray, before: np.ndarray) -> np.ndarray:
    """Pain after ``before`` attended sessions: exponential approach to a floor."""
    return baseline * (1 - r * (1 - np.exp(-k * before)))


def build_sessions(
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
    time_slot = np.where(rng.random(m) < 0.7, ep["time_slot"][e], rng.choice(len(SLOT_TIMES), m, p=SLOT_P))
    order = np.lexsort((e, time_slot, slots["day"][e, j]))  # session IDs follow the diary
    e, j, practitioner, time_slot = e[order], j[order], practitioner[order], time_slot[order]
    day, before, code = slots["day"][e, j], slots["before"][e, j], slots["status"][e, j]
    sessions = pd.DataFrame(
        {
            "session_id": make_ids("S", np.arange(1, m + 1), 6),
            "eidx": e,
            "episode_id": episodes["episode_id"].to_numpy()[e],
            "patient_id": episodes["patient_id"].to_numpy()[e],
            "practitioner": practitioner,
            "practitioner_id": make_ids("PR", practitioner + 1, 2),
            "day": day,
            "session_date": day_dates(day),
            "session_time": SLOT_TIMES[time_slot],
            "code": code,
            "status": np.array(SESSION_STATUSES, dtype=object)[code],
            "before": before,
            "true_pain": pain_after_sessions(ep["baseline"][e], ep["r"][e], ep["k"][e], before),
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
    region = pd.Index(REGIONS).get_indexer(sessions["region"])
    muscles = _MUSCLE_COMBOS[region, start, count]
    out = sessions.copy()
    out["needles"] = pd.arrays.IntegerArray(needles.astype(np.int64), ~attended)
    out["muscles"] = np.where(attended, muscles, None)
    out["first_muscle"] = _MUSCLE_COMBOS[region, start, 0]
    out["twitch_response"] = np.where(attended, np.where(rng.random(m) < 0.6, "yes", "no"), None)
    return out


def _muscle_combos() -> np.ndarray:
    """Lookup [region, start, count - 1] -> "m1;m2;m3" of consecutive muscles."""
    combos = np.empty((len(REGIONS), 6, 3), dtype=object)
    for r, region in enumerate(REGIONS):
        names = MUSCLES[region]
        for start in range(6):
            for count in range(1, 4):
                picked = [names[(start + i) % len(names)] for i in range(count)]
                combos[r, start, count - 1] = ";".join(dict.fromkeys(picked))
    return combos


_MUSCLE_COMBOS = _muscle_combos()
