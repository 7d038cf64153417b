"""Range of motion (ROM) readings and questionnaires (PROMs) of the demo clinic.

ROM is measured at the first, every third and the last attended session and
recovers with pain; a region-specific questionnaire is completed at the
start and at discharge by about half the episodes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..reference import plausible_degrees
from .population import make_ids
from .sessions import pain_after_sessions

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


def build_rom(
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
    rom["rater_id"] = make_ids("PR", np.where(switch, (rater + 1) % n_practitioners, rater) + 1, 2)
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


def build_proms(rng: np.random.Generator, episodes: pd.DataFrame, sessions: pd.DataFrame) -> pd.DataFrame:
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
    final = pain_after_sessions(ep["baseline"].to_numpy(), ep["r"].to_numpy(), ep["k"].to_numpy(), n_attended)
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
