"""A report notebook's inputs: the clinic or one patient's course of care, and the run's settings.

Each report reads its data from the run's metrics cache when it is given
one (:mod:`.cache`), or loads the clinic's data folder itself (a report
made by hand); the run's settings (:func:`run_settings`: responder rule,
disclosure policy, clinic name, practitioner settings) come from the same
cache.
"""

from __future__ import annotations

import dataclasses
import tempfile

import pandas as pd

from .. import metrics
from ..clinic import Clinic
from ..load import load_clinic
from ..privacy.suppression import Disclosure
from .cache import PatientData, RunSettings, read_clinic, read_patient, read_settings, write_cache

__all__ = ["open_clinic", "open_patient", "run_settings", "select_episode"]


def open_clinic(*, cache_dir: str = "", data_dir: str = "data/demo", as_of: str = "") -> Clinic:
    """The clinic a report reads: from a metrics cache when ``cache_dir`` is given, else loaded from ``data_dir``.

    A clinic read from a cache has no data-quality report of its own (the
    run that wrote the cache keeps it); ``as_of`` applies only when loading
    (empty: today).
    """
    if cache_dir:
        return read_clinic(cache_dir)[0]
    return load_clinic(data_dir, as_of=as_of or None)


def run_settings(
    *,
    cache_dir: str = "",
    rule: metrics.ResponderRule = metrics.DEFAULT_RULE,
    clinic_name: str = "",
    audience: str = "public",
    method: str = "suppress",
    min_cell_size: int = 11,
    min_episodes: int = 10,
    show_practitioner_ids: bool = False,
    practitioner_key_file: str = "",
) -> RunSettings:
    """The settings a report uses: the run's, from its cache when ``cache_dir`` is given.

    A run writes its settings once, into its cache (``cache.json``,
    :func:`~.cache.write_cache`), and every report of the run reads them
    from there: the responder rule (all four fields), who the report is
    for and how it protects small counts, the clinic's name and the
    practitioner settings. The patient reports read the same cache, so no
    two reports of a run disagree. The other arguments serve a report made
    by hand without a cache (built straight from ``data_dir``), and are
    ignored when there is one.

    Returns
    -------
    RunSettings
        ``rule``, ``disclosure`` (pass it wherever ``min_cell_size=`` is
        taken, and its ``min_cell_size`` to the ``plot_*`` functions),
        ``clinic_name``, ``min_episodes``, ``show_practitioner_ids``,
        ``practitioner_key_file``.
    """
    if cache_dir:
        return read_settings(cache_dir)
    return RunSettings(
        rule=rule,
        disclosure=Disclosure(audience, method, min_cell_size),
        clinic_name=clinic_name,
        min_episodes=min_episodes,
        show_practitioner_ids=show_practitioner_ids,
        practitioner_key_file=practitioner_key_file,
    )


def select_episode(patient: PatientData, episode_id: str = "") -> PatientData:
    """One course of care of a patient: every frame filtered to that episode.

    ``episode_id`` empty means the patient's most recent episode (latest
    start date, then the larger ID). Adverse events are kept when their
    session belongs to the episode; journal entries from 7 days before the
    episode start to its end (or the as-of date while ongoing).

    Raises
    ------
    ValueError
        When the patient is not in the cache, has no episode, or has no
        episode ``episode_id``.
    """
    frames = patient.frames
    if frames["patient"].empty:
        raise ValueError(
            f"`patient_id` {patient.patient_id!r} is not in the metrics cache; check the ID "
            "(IDs are text: leading zeros count)"
        )
    episodes = frames["episodes"].sort_values(["start_date", "episode_id"], kind="stable")
    if episodes.empty:
        raise ValueError(f"patient {patient.patient_id!r} has no course of care (episode) recorded")
    chosen = episode_id or str(episodes["episode_id"].iloc[-1])
    if chosen not in set(episodes["episode_id"].astype(str)):
        raise ValueError(
            f"`episode_id` {episode_id!r} is not an episode of patient {patient.patient_id!r}; "
            f"the patient's episodes are {episodes['episode_id'].astype(str).tolist()!r}"
        )
    row = episodes[episodes["episode_id"] == chosen].iloc[0]
    out = {name: frame for name, frame in frames.items()}
    for name, frame in frames.items():
        if "episode_id" in frame.columns:
            out[name] = frame[frame["episode_id"] == chosen].reset_index(drop=True)
    sessions = set(out["sessions"]["session_id"].astype(str))
    events = frames["adverse_events"]
    out["adverse_events"] = events[events["session_id"].astype(str).isin(sessions)].reset_index(drop=True)
    start = row["start_date"] - pd.Timedelta(days=7)
    end = row["end_date"] if pd.notna(row["end_date"]) else patient.as_of
    journal = frames["journal"]
    out["journal"] = journal[journal["entry_date"].between(start, end)].reset_index(drop=True)
    return dataclasses.replace(patient, frames=out)


def open_patient(
    patient_id: str,
    *,
    episode_id: str = "",
    cache_dir: str = "",
    data_dir: str = "data/demo",
    as_of: str = "",
    clinic_name: str = "",
) -> PatientData:
    """One patient's data for a report, filtered to one episode (:func:`select_episode`).

    From the metrics cache when ``cache_dir`` is given; otherwise the clinic
    in ``data_dir`` is loaded (``as_of`` empty: today), a cache is written
    to a temporary folder, this patient's rows are read and the folder is
    deleted, so no other patient's data stays in memory or on disk.
    """
    if cache_dir:
        return select_episode(read_patient(cache_dir, patient_id), episode_id)
    clinic = load_clinic(data_dir, as_of=as_of or None)
    with tempfile.TemporaryDirectory(prefix="needling-report-") as folder:
        write_cache(clinic, folder, settings=RunSettings(clinic_name=clinic_name))
        patient = read_patient(folder, patient_id)
    return select_episode(patient, episode_id)
