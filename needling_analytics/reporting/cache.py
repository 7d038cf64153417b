"""The metrics cache: computed once per run, read in slices by each report.

``write_cache`` loads nothing itself: it takes a loaded clinic, computes the
patient-level metrics once, and writes them with the cleaned tables as
Parquet under one folder. A patient report then reads only its own rows
(``read_patient``, a filtered Parquet read), so no other patient's data
ever enters its notebook; the clinic report reads the whole clinic
(``read_clinic``).

The run's settings travel the same way, once: ``write_cache`` records them
(:class:`RunSettings`: responder rule, disclosure policy, clinic name,
practitioner settings and key path) in ``cache.json``, and every report
reads them back with :func:`read_settings`, so that no two reports of a
run can disagree on them. Notebook parameters carry only the cache's path,
the month and IDs.

Direct identifiers (names, postcode, free-text notes) are never written to
the cache: reports identify a patient by ID only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from .. import metrics
from ..clinic import Clinic
from ..metrics import DEFAULT_RULE, ExpectedRecovery, ResponderRule
from ..privacy.suppression import Disclosure

#: Columns never written to the cache (identifying).
IDENTIFYING = {
    "patients": ("first_name", "last_name", "postcode"),
    "adverse_events": ("notes",),
    "journal": ("activity_note",),
}
#: Per-patient metric tables, each with a ``patient_id`` column.
PATIENT_TABLES = (
    "patient",
    "sessions",
    "pain",
    "pain_followup",
    "episodes",
    "rom",
    "proms",
    "prom_change",
    "journal",
    "soreness",
    "adverse_events",
    "expected",
    "expected_steps",
    "similar",
)
CACHE_VERSION = 1
#: The run's expected-recovery model (parameters and validation figures only), in the cache folder.
RECOVERY_FILE = "recovery.json"
#: Days since a course started at which patient reports get the expected course: weekly to 26 weeks.
EXPECTED_DAYS = np.arange(0, 183, 7)


@dataclass(frozen=True)
class RunSettings:
    """The settings of a run that its reports read from the cache (``cache.json``), all in one place.

    Attributes
    ----------
    rule : the responder rule (all four fields) of every report.
    disclosure : who the clinic report is for and how it protects small counts.
    clinic_name : printed on every report; empty: none.
    min_episodes : least assessed courses of care for a practitioner on the funnel plot.
    show_practitioner_ids : True: practitioners named by their IDs; False: keyed code names.
    practitioner_key_file : the key that keeps code names the same month to month (a path,
        made by the run's set-up, never by a report); empty: a one-off key.
    recovery_model_file : an expected-recovery model saved with
        :meth:`~needling_analytics.metrics.ExpectedRecovery.save` (e.g. fitted
        once on a group's pooled data) that the run uses instead of fitting
        its own; empty: the run fits one on the clinic's data.
    """

    rule: ResponderRule = DEFAULT_RULE
    disclosure: Disclosure = field(default_factory=Disclosure)
    clinic_name: str = ""
    min_episodes: int = 10
    show_practitioner_ids: bool = False
    practitioner_key_file: str = ""
    recovery_model_file: str = ""

    def to_dict(self) -> dict:
        """The settings as ``cache.json`` holds them (JSON-ready)."""
        return {
            "rule": self.rule.to_dict(),
            "disclosure": self.disclosure.to_dict(),
            "clinic_name": self.clinic_name,
            "min_episodes": int(self.min_episodes),
            "show_practitioner_ids": bool(self.show_practitioner_ids),
            "practitioner_key_file": str(self.practitioner_key_file or ""),
            "recovery_model_file": str(self.recovery_model_file or ""),
        }

    @classmethod
    def from_dict(cls, info: dict) -> RunSettings:
        """The settings of a ``cache.json``; a key it lacks takes its default."""
        defaults = cls()
        return cls(
            rule=ResponderRule(**info["rule"]) if "rule" in info else defaults.rule,
            disclosure=Disclosure(**info["disclosure"]) if "disclosure" in info else defaults.disclosure,
            clinic_name=info.get("clinic_name", defaults.clinic_name),
            min_episodes=info.get("min_episodes", defaults.min_episodes),
            show_practitioner_ids=info.get("show_practitioner_ids", defaults.show_practitioner_ids),
            practitioner_key_file=info.get("practitioner_key_file", defaults.practitioner_key_file),
            recovery_model_file=info.get("recovery_model_file", defaults.recovery_model_file),
        )


@dataclass
class PatientData:
    """One patient's slice of the metrics cache: every frame holds that patient only.

    Attributes
    ----------
    patient : one row: ``patient_id``, ``birth_year``, ``sex``.
    sessions : every booked session (attended or not).
    pain : :func:`metrics.session_pain` rows.
    pain_followup : follow-up assessments with a pain score (the assessment
        rows of :func:`metrics.pain_readings`: ``date``, ``pain``...).
    episodes : :func:`metrics.episode_pain` joined with episode details,
        :func:`metrics.attendance` counts and :func:`metrics.time_to_response`
        (``reached_after_sessions``, ``reached_after_days``, ``event``).
    rom, prom_change : :func:`metrics.rom_change`, :func:`metrics.prom_change` rows.
    proms : questionnaire scores as recorded.
    journal : :func:`metrics.journal_trend` rows.
    soreness : :func:`metrics.post_session_soreness` rows.
    adverse_events : events with session date and practitioner (no notes).
    expected : the expected course of each of the patient's courses of care
        (:meth:`metrics.ExpectedRecovery.predict` at :data:`EXPECTED_DAYS`,
        with ``patient_id``), twice: ``kind`` ``like_you`` (from the
        baseline and case mix only) and ``updated`` (given the course's
        follow-up scores so far); no rows when the run has no model.
    expected_steps : each follow-up pain score against the band predicted
        from the course's earlier scores (:meth:`metrics.ExpectedRecovery.one_step`).
    similar : ``episode_id``, ``n_similar``: how many courses of the fit
        share the course's body region and baseline band (counts only).
    rule : the responder rule the metrics used.
    disclosure : the run's disclosure policy (its ``threshold`` is the small-cell size).
    recovery : the run's expected-recovery model (parameters and validation
        figures only, no patient rows); None when the cache holds none.
    """

    patient_id: str
    rule: ResponderRule
    as_of: pd.Timestamp
    clinic_name: str
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    disclosure: Disclosure = field(default_factory=Disclosure)
    recovery: ExpectedRecovery | None = None

    def __getattr__(self, name: str) -> pd.DataFrame:
        frames = self.__dict__.get("frames", {})
        if name in frames:
            return frames[name]
        raise AttributeError(name)


def _patient_tables(clinic: Clinic, rule: ResponderRule) -> dict[str, pd.DataFrame]:
    episodes = metrics.episode_pain(clinic, rule=rule)
    details = clinic.episodes[["episode_id", "start_date", "end_date", "body_region", "condition", "discharge_reason"]]
    visits = metrics.attendance(clinic)[
        ["episode_id", "booked", "attended", "cancelled", "no_show", "unmarked", "upcoming", "self_discharged"]
    ]
    response = metrics.time_to_response(clinic, rule=rule)[["episode_id", "event", "sessions", "days"]]
    response = response.rename(
        columns={"event": "reached", "sessions": "reached_after_sessions", "days": "reached_after_days"}
    )
    episodes = (
        episodes.merge(details, on="episode_id", how="left")
        .merge(visits, on="episode_id", how="left")
        .merge(response, on="episode_id", how="left")
    )
    sessions = clinic.sessions[
        [
            "session_id",
            "episode_id",
            "patient_id",
            "practitioner_id",
            "session_date",
            "status",
            "pain_pre",
            "pain_post",
            "needles",
        ]
    ]
    events = clinic.adverse_events.drop(columns=list(IDENTIFYING["adverse_events"]))
    events = events.merge(
        clinic.sessions[["session_id", "session_date", "practitioner_id"]], on="session_id", how="left"
    )
    return {
        "patient": clinic.patients[["patient_id", "birth_year", "sex"]],
        "sessions": sessions,
        "pain": metrics.session_pain(clinic),
        "pain_followup": _follow_up(clinic),
        "episodes": episodes,
        "rom": metrics.rom_change(clinic),
        "proms": clinic.proms,
        "prom_change": metrics.prom_change(clinic),
        "journal": metrics.journal_trend(clinic),
        "soreness": metrics.post_session_soreness(clinic),
        "adverse_events": events,
    }


EXPECTED_COLUMNS = ["episode_id", "patient_id", "kind", "day", "expected", "lower", "upper", "n_conditioned"]
STEP_COLUMNS = ["episode_id", "patient_id", "day", "date", "observed", "expected", "lower", "upper", "position"]


def expected_days(model: ExpectedRecovery) -> np.ndarray:
    """The weeks of :data:`EXPECTED_DAYS` the model's validation checked (up to the week after
    ``max_day_checked``, at least 4 weeks): beyond them the band is not shown."""
    checked = model.validation.get("max_day_checked")
    if checked is None:
        return EXPECTED_DAYS
    return EXPECTED_DAYS[EXPECTED_DAYS <= max(28.0, 7.0 * np.ceil(checked / 7.0))]


def run_recovery_model(clinic: Clinic, settings: RunSettings) -> ExpectedRecovery:
    """The run's expected-recovery model of pain: the saved one the settings name, else fitted on ``clinic``."""
    if settings.recovery_model_file:
        return metrics.load_expected_recovery(settings.recovery_model_file)
    return metrics.fit_expected_recovery(clinic)


def _recovery_tables(clinic: Clinic, model: ExpectedRecovery) -> dict[str, pd.DataFrame]:
    """Each course's expected course, one-step positions and similar-patient count, with ``patient_id``."""
    if not model.fitted:
        text = ("episode_id", "patient_id", "kind", "position")
        return {
            name: pd.DataFrame({c: pd.Series(dtype="string" if c in text else float) for c in columns})
            for name, columns in (
                ("expected", EXPECTED_COLUMNS),
                ("expected_steps", STEP_COLUMNS),
                ("similar", ["episode_id", "patient_id", "n_similar"]),
            )
        }
    owners = clinic.episodes[["episode_id", "patient_id"]]
    days = expected_days(model)
    like_you = model.predict(clinic, days, conditional=False).assign(kind="like_you")
    updated = model.predict(clinic, days).assign(kind="updated")
    return {
        "expected": pd.concat([like_you, updated]).merge(owners, on="episode_id")[EXPECTED_COLUMNS],
        "expected_steps": model.one_step(clinic).merge(owners, on="episode_id")[STEP_COLUMNS],
        "similar": model.similar(clinic).merge(owners, on="episode_id"),
    }


def _follow_up(clinic: Clinic) -> pd.DataFrame:
    readings = metrics.pain_readings(clinic)
    columns = ["episode_id", "patient_id", "date", "days_since_start", "pain", "follow_up"]
    return readings.loc[readings["source"] == "assessment", columns].reset_index(drop=True)


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Categories as text so that Parquet filters and round trips stay simple."""
    out = frame.copy()
    for column in out.columns:
        if isinstance(out[column].dtype, pd.CategoricalDtype):
            out[column] = out[column].astype("string")
    return out


def write_cache(clinic: Clinic, out_dir: str | Path, *, settings: RunSettings | None = None) -> Path:
    """Compute the patient-level metrics once and write them, with the cleaned tables and the run's settings.

    Layout: ``patients/<table>.parquet`` (per-patient metric tables, sorted
    by patient so a filtered read touches few row groups),
    ``tables/<table>.parquet`` (the validated clinic without identifying
    columns) and ``cache.json`` (the run's :class:`RunSettings`, as-of
    date, tables supplied, version) and ``recovery.json`` (the run's
    expected-recovery model, fitted here once for every report, or the saved
    model the settings name). ``settings`` None: the defaults (the
    default rule; the safe disclosure policy, public with suppression at
    11; no clinic name; practitioners under one-off code names). The
    metrics use ``settings.rule``.

    Returns the cache folder.
    """
    settings = RunSettings() if settings is None else settings
    rule = settings.rule
    out_dir = Path(out_dir)
    (out_dir / "patients").mkdir(parents=True, exist_ok=True)
    (out_dir / "tables").mkdir(parents=True, exist_ok=True)
    model = run_recovery_model(clinic, settings)
    model.save(out_dir / RECOVERY_FILE)
    tables = {**_patient_tables(clinic, rule), **_recovery_tables(clinic, model)}
    for name, frame in tables.items():
        _plain(frame).sort_values("patient_id", kind="stable").to_parquet(
            out_dir / "patients" / f"{name}.parquet", index=False, row_group_size=50_000
        )
    for name, frame in clinic.tables.items():
        frame = frame.drop(columns=[c for c in IDENTIFYING.get(name, ()) if c in frame.columns])
        _plain(frame).to_parquet(out_dir / "tables" / f"{name}.parquet", index=False)
    info = {
        "version": CACHE_VERSION,
        **settings.to_dict(),
        "as_of": f"{clinic.as_of:%Y-%m-%d}",
        "supplied": list(clinic.supplied),
    }
    (out_dir / "cache.json").write_text(json.dumps(info, indent=2), encoding="utf-8")
    return out_dir


def _info(cache_dir: Path) -> dict:
    path = cache_dir / "cache.json"
    if not path.is_file():
        raise FileNotFoundError(f"{cache_dir} is not a metrics cache (no cache.json); build it with write_cache")
    return json.loads(path.read_text(encoding="utf-8"))


def read_patient(cache_dir: str | Path, patient_id: str) -> PatientData:
    """Read one patient's rows of every per-patient table (a filtered Parquet read)."""
    cache_dir = Path(cache_dir)
    info = _info(cache_dir)
    frames = {
        name: pq.read_table(
            cache_dir / "patients" / f"{name}.parquet", filters=[("patient_id", "=", patient_id)]
        ).to_pandas()
        for name in PATIENT_TABLES
        if (cache_dir / "patients" / f"{name}.parquet").is_file() or name != "pain_followup"
    }
    frames.setdefault("pain_followup", pd.DataFrame(columns=["episode_id", "patient_id", "date", "pain"]))
    settings = RunSettings.from_dict(info)
    return PatientData(
        patient_id=patient_id,
        rule=settings.rule,
        as_of=pd.Timestamp(info["as_of"]),
        clinic_name=settings.clinic_name,
        frames=frames,
        disclosure=settings.disclosure,
        recovery=read_recovery(cache_dir) if (cache_dir / RECOVERY_FILE).is_file() else None,
    )


def read_settings(cache_dir: str | Path) -> RunSettings:
    """The settings of the run that wrote the cache: the ones every report of the run uses."""
    return RunSettings.from_dict(_info(Path(cache_dir)))


def read_recovery(cache_dir: str | Path) -> ExpectedRecovery:
    """The run's expected-recovery model (parameters and validation figures; no patient rows)."""
    path = Path(cache_dir) / RECOVERY_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"{cache_dir} holds no expected-recovery model ({RECOVERY_FILE}); rebuild it with write_cache"
        )
    return metrics.load_expected_recovery(path)


def read_clinic(cache_dir: str | Path) -> tuple[Clinic, ResponderRule, str]:
    """The cleaned clinic from the cache (no identifying columns), its rule and name."""
    cache_dir = Path(cache_dir)
    info = _info(cache_dir)
    frames = {name: pd.read_parquet(cache_dir / "tables" / f"{name}.parquet") for name in info["supplied"]}
    clinic = Clinic.from_frames(as_of=info["as_of"], **frames)
    settings = RunSettings.from_dict(info)
    return clinic, settings.rule, settings.clinic_name
