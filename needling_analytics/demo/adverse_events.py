"""Adverse events after attended sessions, at published per-treatment rates."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


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


def build_adverse_events(rng: np.random.Generator, sessions: pd.DataFrame) -> pd.DataFrame:
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
