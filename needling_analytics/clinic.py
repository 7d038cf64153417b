"""``Clinic``: a loaded clinic, one typed DataFrame per table and the quality report.

A plain container that needs only pandas, so that the metrics and plots,
which take a ``Clinic``, import neither the loader nor pandera. Clinics are
made by :func:`~needling_analytics.load.load_clinic` (files) or
:meth:`Clinic.from_frames` (frames in memory).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:  # the loader's report; only named here, so the loader is not imported
    from .load.quality import QualityReport


@dataclass
class Clinic:
    """A loaded clinic: one typed DataFrame per table and the quality report.

    Every table is present, with its canonical columns and dtypes, even
    when the clinic did not supply it (then it has no rows); ``supplied``
    says which tables came from files. IDs are ``string``, dates
    ``datetime64[ns]``, categories ``category`` with the allowed values as
    categories, numbers ``float64`` and counts ``Int64``.
    """

    tables: dict[str, pd.DataFrame]
    quality: QualityReport
    data_dir: Path
    as_of: pd.Timestamp
    supplied: tuple[str, ...]

    patients = property(lambda self: self.tables["patients"])
    episodes = property(lambda self: self.tables["episodes"])
    sessions = property(lambda self: self.tables["sessions"])
    rom = property(lambda self: self.tables["rom"])
    proms = property(lambda self: self.tables["proms"])
    adverse_events = property(lambda self: self.tables["adverse_events"])
    assessments = property(lambda self: self.tables["assessments"])
    journal = property(lambda self: self.tables["journal"])

    @classmethod
    def from_frames(cls, *, as_of=None, **frames: pd.DataFrame) -> Clinic:
        """A clinic built from DataFrames already in memory, without validation.

        Each frame is given by table name (``sessions=...``); absent optional
        columns are added blank (``status`` defaults to attended) and every
        column gets its loaded dtype. Meant for tests, notebooks and
        benchmarks whose data is known to be valid; use :func:`load_clinic`
        for a clinic's files.

        Examples
        --------
        >>> clinic = Clinic.from_frames(
        ...     patients=pd.DataFrame({"patient_id": ["P1"]}),
        ...     episodes=pd.DataFrame({"episode_id": ["E1"], "patient_id": ["P1"], "start_date": ["2026-01-05"]}),
        ...     sessions=pd.DataFrame({"session_id": ["S1"], "episode_id": ["E1"], "patient_id": ["P1"],
        ...                            "practitioner_id": ["PR1"], "session_date": ["2026-01-05"], "pain_pre": [6]}),
        ... )
        >>> clinic.sessions["status"].tolist()
        ['attended']
        """
        from .load.clinic import clinic_from_frames  # imported on use: typing the columns is the loader's job

        return clinic_from_frames(as_of=as_of, **frames)

    def has(self, table: str) -> bool:
        """True when the clinic supplied ``table`` and at least one row was kept."""
        return table in self.supplied and not self.tables[table].empty

    def __repr__(self) -> str:
        counts = ", ".join(f"{name}={len(frame):,}" for name, frame in self.tables.items() if name in self.supplied)
        return f"<Clinic {self.data_dir} as of {self.as_of:%Y-%m-%d}: {counts}; {self.quality.rows_quarantined:,} quarantined>"


def pool_clinics(clinics: dict[str, Clinic]) -> Clinic:
    """Several clinics as one, e.g. to fit a model once on a group's pooled data.

    Every ID column (``*_id``) is prefixed with the clinic's name and a
    slash, so two clinics' ``P0001`` stay two patients; the pooled clinic is
    as of the latest ``as_of`` and holds every table any clinic supplied.

    Examples
    --------
    >>> one = Clinic.from_frames(patients=pd.DataFrame({"patient_id": ["P1"]}))
    >>> pool_clinics({"north": one, "south": one}).patients["patient_id"].tolist()
    ['north/P1', 'south/P1']
    """
    if not clinics:
        raise ValueError("pool_clinics needs at least one clinic")
    frames: dict[str, list[pd.DataFrame]] = {}
    for name, clinic in clinics.items():
        for table in clinic.supplied:
            frame = clinic.tables[table].copy()
            for column in frame.columns:
                if column.endswith("_id"):
                    frame[column] = (f"{name}/" + frame[column].astype("string")).astype("string")
            frames.setdefault(table, []).append(frame)
    as_of = max(clinic.as_of for clinic in clinics.values())
    return Clinic.from_frames(
        as_of=as_of, **{table: pd.concat(parts, ignore_index=True) for table, parts in frames.items()}
    )
