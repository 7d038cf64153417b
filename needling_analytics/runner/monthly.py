"""The scheduled monthly report: load once, compute once, fan out, record everything.

``run_monthly`` validates and loads the clinic once, writes the quality
report and the metrics cache, then runs the clinic report and one patient
report per patient with an attended session in the month, in parallel
worker processes. One failing report never stops the others: its row in
the index says why in one sentence, the traceback goes to the log and the
manifest, and the run ends with a non-zero exit status. Reports whose
inputs, parameters and code are unchanged are skipped (``force`` redoes
them), so an interrupted run can simply be started again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import sys
import warnings
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import pandas as pd

from .. import __version__
from ..errors import DataQualityWarning, InputError
from ..load import load_clinic
from ..load.mapping import default_mapping, mapping_fingerprint
from ..periods import parse_month
from ..privacy.permissions import file_permissions
from ..reporting import write_cache
from .config import (
    RunConfig,
    clinic_parameters,
    ensure_practitioner_key,
    patient_parameters,
    practitioner_key_file,
    report_settings,
    safe_name,
)
from .execute import ReportResult, notebook_path
from .index import write_index
from .kernel import report_kernel_spec
from .lifeline import remove_dead_workers_folders
from .local import Job, fan_out
from .pdf import FORMATS

log = logging.getLogger("needling_analytics.runner")
DEPENDENCIES = (
    "pandas",
    "numpy",
    "matplotlib",
    "seaborn",
    "statsmodels",
    "papermill",
    "nbconvert",
    "pandera",
    "pyarrow",
)
EXIT_OK, EXIT_FAILED, EXIT_UNREADABLE, EXIT_INTERRUPTED = 0, 1, 2, 130
#: Run folders that hold every patient's rows (the metrics cache; the quality
#: report's quarantined rows as written): owner-only even when reports are
#: shared with a group.
PRIVATE_FOLDERS = ("cache", "quality", "kernels")


@dataclass
class MonthlyRun:
    run_dir: Path
    results: list[ReportResult]
    exit_code: int

    @property
    def index(self) -> Path:
        return self.run_dir / "index.html"


def previous_month(today: pd.Timestamp | None = None) -> pd.Period:
    """The calendar month before ``today``."""
    today = pd.Timestamp.today() if today is None else pd.Timestamp(today)
    return today.to_period("M") - 1


def patients_seen(clinic, month: pd.Period) -> list[str]:
    """IDs of patients with an attended session in ``month``, sorted."""
    sessions = clinic.sessions
    seen = (sessions["status"] == "attended") & (sessions["session_date"].dt.to_period("M") == month)
    return sorted(sessions.loc[seen.to_numpy(), "patient_id"].dropna().unique().tolist())


def _hash(*parts) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part if isinstance(part, bytes) else json.dumps(part, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def _file_hash(path: Path | None) -> str | None:
    """SHA-256 of a file's bytes (None: no file given)."""
    return hashlib.sha256(path.read_bytes()).hexdigest() if path else None


def _setup_log(run_dir: Path) -> logging.Handler:
    handler = logging.FileHandler(run_dir / "run.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    if not sys.stderr.isatty():
        console = logging.StreamHandler(sys.stderr)
        console.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        log.addHandler(console)
    return handler


def _jobs(config: RunConfig, month: pd.Period, clinic, cache: Path, run_dir: Path, fingerprint: str) -> list[Job]:
    parameters = clinic_parameters(month, cache, results_dir=run_dir / "clinic")
    code = {kind: notebook_path(kind).read_bytes() for kind in ("clinic", "patient")}
    key_file = practitioner_key_file(config)  # a new key renames every practitioner: remake the report
    pseudonym_key = hashlib.sha256(key_file.read_bytes()).hexdigest() if key_file else ""
    # a new pooled model changes every expected course: remake the reports
    model = _file_hash(config.recovery_model) or ""
    formats = FORMATS[config.format]
    clinic_footer = f" · {config.clinic_name}" if config.clinic_name else ""
    jobs = [
        Job(
            "clinic_report",
            "clinic",
            f"Clinic report, {month:%B %Y}",
            parameters,
            run_dir / "clinic" / "clinic_report.html",
            _hash(code["clinic"], parameters, fingerprint, __version__, pseudonym_key, config.permissions, model)
            + config.format,
            formats,
            f"Clinic report, {month:%B %Y}{clinic_footer}",
        )
    ]
    used = set()
    for patient_id in patients_seen(clinic, month):
        name = safe_name(patient_id)
        while name in used:  # distinct IDs never share a file
            name = f"{name}_"
        used.add(name)
        parameters = patient_parameters(patient_id, cache)
        html = run_dir / "patients" / f"{name}.html"
        jobs.append(
            Job(
                name,
                "patient",
                f"Patient {patient_id}",
                parameters,
                html,
                _hash(code["patient"], parameters, fingerprint, __version__, config.permissions, model) + config.format,
                formats,
                f"Patient {patient_id}{clinic_footer}",
            )
        )
    return jobs


def _up_to_date(job: Job) -> bool:
    key_file = job.html.with_suffix(".key")
    return all(p.is_file() for p in job.outputs) and key_file.is_file() and key_file.read_text() == job.key


def _fan_out(config: RunConfig):
    """The executor's ``fan_out``: :mod:`.local` (worker processes here) or :mod:`.cluster` (Dask)."""
    if config.executor == "dask":
        from .cluster import fan_out as on_cluster

        return on_cluster
    return fan_out


def _remove_partial_files(run_dir: Path) -> int:
    partial = [p for p in run_dir.rglob(".*.tmp-*") if p.is_file()]
    for path in partial:
        path.unlink()
    return len(partial)


def run_monthly(config: RunConfig, *, month=None, force: bool = False) -> MonthlyRun:
    """Make the month's clinic report and patient reports; see the module docstring.

    Every file and folder the run writes (reports, cache, quality report,
    log, manifest) is readable by ``config.permissions`` only
    (:func:`~needling_analytics.privacy.permissions.file_permissions`).

    Returns
    -------
    MonthlyRun
        The run folder, one :class:`ReportResult` per report, and the exit
        code: 0 when every report was made, 1 when any failed, 130 when
        interrupted.
    """
    month = previous_month() if month is None else parse_month(month)
    with file_permissions(config.permissions):
        return _run_monthly(config, month, force)


def _run_monthly(config: RunConfig, month: pd.Period, force: bool) -> MonthlyRun:
    run_dir = config.out_dir / config.clinic_slug / str(month)
    run_dir.mkdir(parents=True, exist_ok=True)
    for private in PRIVATE_FOLDERS:  # every patient's rows: the owner's only, whatever `permissions` says
        (run_dir / private).mkdir(mode=0o700, exist_ok=True)
    handler = _setup_log(run_dir)
    started_at = datetime.now(UTC)
    results: list[ReportResult] = []
    exit_code = EXIT_OK
    clinic, jobs, fingerprint, input_error = None, [], "", None  # what the index and manifest show if loading fails
    try:
        removed = _remove_partial_files(run_dir)
        if removed:
            log.info("removed %d half-written file(s) left by an interrupted run", removed)
        removed = remove_dead_workers_folders(run_dir / "kernels")
        if removed:
            log.info("removed the kernel files of %d worker(s) of an interrupted run", removed)
        log.info("monthly run for %s, data %s", month, config.data_dir)
        report_kernel_spec()  # no kernel can start (ipykernel missing): say so once, not once per report
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataQualityWarning)
            clinic = load_clinic(config.data_dir, config.mapping, timezone=config.timezone)
        clinic.quality.write(run_dir / "quality")
        log.info("loaded: %s", clinic)
        fingerprint = _hash(
            clinic.quality.tables[["table", "sha256"]].to_dict("records"),
            mapping_fingerprint(config.mapping or default_mapping(config.data_dir)),
            config.timezone,
            report_settings(config).to_dict(),  # a changed setting remakes every report
            f"{clinic.as_of:%Y-%m-%d}",
        )
        # The run's set-up: the practitioner key is made once (never by a report), and the one place the
        # run's settings reach the reports is the cache (rule, disclosure policy, clinic name, key path...).
        ensure_practitioner_key(config)
        cache = write_cache(clinic, run_dir / "cache", settings=report_settings(config))
        jobs = _jobs(config, month, clinic, cache, run_dir, fingerprint)
        todo = [j for j in jobs if force or not _up_to_date(j)]
        results += [
            ReportResult(
                j.name,
                "skipped",
                0.0,
                str(j.outputs[0]),
                str(j.html.with_suffix(".ipynb")),
                reason="unchanged since the last run",
            )
            for j in jobs
            if j not in todo
        ]
        log.info("%d report(s): %d to make, %d unchanged", len(jobs), len(todo), len(jobs) - len(todo))
        results += _fan_out(config)(todo, config, run_dir)
        removed = _remove_partial_files(run_dir)  # left by a worker that died
        if removed:
            log.info("removed %d half-written file(s) left by worker processes that died", removed)
        exit_code = EXIT_FAILED if any(r.status == "failed" for r in results) else EXIT_OK
    except KeyboardInterrupt:
        log.warning("interrupted: finished reports are kept; run again to make the rest")
        exit_code = EXIT_INTERRUPTED
    except InputError as exc:  # the data could not be read or kept nothing: no report is made from it
        log.error("the input could not be used: %s", exc)
        exit_code, input_error = EXIT_UNREADABLE, str(exc)
        if getattr(exc, "quality", None) is not None:
            exc.quality.write(run_dir / "quality")
        raise
    except Exception:  # a defect: the manifest and index must not say the run succeeded
        log.exception("the run stopped on an unexpected error")
        exit_code = EXIT_FAILED
        raise
    finally:
        manifest = _manifest(config, month, started_at, results, exit_code, fingerprint, run_dir)
        manifest["input_error"] = input_error
        (run_dir / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        write_index(run_dir, manifest, jobs=jobs, quality=clinic.quality if clinic is not None else None)
        log.info("done: exit %d; index %s", exit_code, run_dir / "index.html")
        log.removeHandler(handler)
        handler.close()
    return MonthlyRun(run_dir, results, exit_code)


def _manifest(config: RunConfig, month, started_at, results, exit_code, fingerprint, run_dir: Path) -> dict:
    def dependency(name):
        try:
            return version(name)
        except Exception:
            return None

    return {
        "clinic": config.clinic_name,
        "month": str(month),
        "parameters": {
            "data_dir": str(config.data_dir),
            "mapping": str(config.mapping) if config.mapping else None,
            "out_dir": str(config.out_dir),
            "workers": config.workers,
            "audience": config.audience,
            "disclosure": config.disclosure,
            "min_cell_size": config.min_cell_size,
            "min_episodes": config.min_episodes,
            "show_practitioner_ids": config.show_practitioner_ids,
            "timeout": config.timeout,
            "isolation": config.isolation,
            "format": config.format,
            "executor": config.executor,
            "scheduler": config.scheduler,
            "responder_rule": asdict(config.rule),
            "recovery_model": str(config.recovery_model) if config.recovery_model else None,
            "recovery_model_sha256": _file_hash(config.recovery_model),
        },
        "data_fingerprint": fingerprint,
        "started": started_at.isoformat(timespec="seconds"),
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "exit_code": exit_code,
        "versions": {
            "needling-analytics": __version__,
            "python": platform.python_version(),
            **{d: dependency(d) for d in DEPENDENCIES},
        },
        "counts": {s: sum(r.status == s for r in results) for s in ("ok", "skipped", "failed")},
        "reports": [
            {
                "name": r.name,
                "status": r.status,
                "seconds": round(r.seconds, 2),
                "html": os.path.relpath(r.html, run_dir) if r.html else None,
                "notebook": os.path.relpath(r.notebook, run_dir) if r.notebook else None,
                "reason": r.reason or None,
                "error": r.error or None,
            }
            for r in results
        ],
    }
