"""The patients' daily home journal: pain, stiffness, mobility and notes.

About a quarter of the patients keep a diary over their episodes; its pain
follows the episode's trajectory, with post-needling soreness on the day of
a session and the day after.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .calendar import Calendar, day_dates
from .sessions import pain_after_sessions

_NOTES_GOOD = ("walked 30 minutes", "slept through the night", "gardening ok", "back at the gym", "drove without pain")
_NOTES_MID = ("worked at desk all day", "light housework", "short walk", "stretches done")
_NOTES_BAD = ("struggled to sleep", "stiff in the morning", "skipped the walk", "painkillers taken", "long drive hurt")


def build_journal(
    rng: np.random.Generator, cal: Calendar, episodes: pd.DataFrame, sessions: pd.DataFrame
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
    level = pain_after_sessions(ep["baseline"][e], ep["r"][e], ep["k"][e], before)
    pain = np.clip(np.rint(level + sore * rng.integers(1, 3, n) + rng.normal(0, 0.7, n)), 0, 10)
    journal = pd.DataFrame(
        {
            "patient_id": ep["patient_id"][e],
            "entry_date": day_dates(day),
            "pain": pain,
            "stiffness": np.clip(np.rint(0.75 * pain + 1 + rng.normal(0, 0.8, n)), 0, 10),
            "mobility": np.clip(np.rint(9.5 - 0.8 * pain + rng.normal(0, 0.8, n)), 0, 10),
            "activity_note": _activity_notes(rng, pain),
        }
    )
    return journal.sort_values(["patient_id", "entry_date"], kind="stable").reset_index(drop=True)


def _journal_days(
    rng: np.random.Generator, cal: Calendar, episodes: pd.DataFrame, sessions: pd.DataFrame
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
