"""How each episode's course of care runs: visit plans, slots and discharge.

Every episode owns a row of :data:`K_SLOTS` appointment slots.
:func:`draw_course` decides how many sessions the patient attends and why
they stop; :func:`draw_slots` draws whether each slot is attended,
cancelled or missed and on which clinic day it falls; :func:`draw_discharge`
closes the episode or leaves it open. The whole simulation model is
described in :mod:`needling_analytics.demo.generator`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .calendar import Calendar

#: Appointment slots simulated per episode (booked, cancelled or missed).
K_SLOTS = 28
#: Most attended sessions in one episode.
MAX_ATTENDED = 20


#: Appointment times: every 15 minutes from 08:00 to 18:30, mostly on the half hour.
_SLOT_MINUTES = np.arange(8 * 60, 18 * 60 + 31, 15)
SLOT_TIMES = np.array([f"{m // 60:02d}:{m % 60:02d}" for m in _SLOT_MINUTES])
SLOT_P = np.where(_SLOT_MINUTES % 30 == 0, 4.0, 1.0) / np.where(_SLOT_MINUTES % 30 == 0, 4.0, 1.0).sum()

# Visit plans: 0 twice-weekly, 1 weekly, 2 fortnightly.
PLAN_P = (0.2, 0.6, 0.2)
_PLAN_INTERVAL = np.array([3.5, 7.0, 14.0])
PLAN_RATE = np.array([1.7, 1.0, 0.65])  # multiplies the response rate k


@dataclass(frozen=True)
class _Course:
    """How each episode of a batch is meant to run (arrays, one per episode)."""

    n_attended: np.ndarray  # attended sessions before stopping
    reason: np.ndarray  # discharge reason if the episode is closed
    dropout: np.ndarray
    closed: np.ndarray  # dropouts closed as self_discharged (else left open)
    trailing_miss: np.ndarray  # dropouts whose last booking was missed


def draw_course(rng: np.random.Generator, ep: pd.DataFrame) -> _Course:
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


def draw_slots(rng: np.random.Generator, cal: Calendar, ep: pd.DataFrame, course: _Course) -> dict[str, np.ndarray]:
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
    rng: np.random.Generator, cal: Calendar, ep: pd.DataFrame, status: np.ndarray, before: np.ndarray
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


def draw_discharge(
    rng: np.random.Generator, cal: Calendar, course: _Course, slots: dict[str, np.ndarray]
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
