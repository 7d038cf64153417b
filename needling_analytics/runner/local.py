"""The local executor: reports made in parallel by worker processes on this machine.

Each worker process starts a warm kernel (:mod:`.pool`) and makes report
after report. One failing report never stops the others. A worker process
that dies (killed by the out-of-memory killer, or a crash inside a kernel
it started) does not stop the run either: the reports it had not finished
are made again by new workers, and a report whose worker died while making
it twice is failed with that reason. Workers and their kernels end when the
run that started them dies (:mod:`.lifeline`).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import shutil
import signal
import sys
import threading
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from .config import RunConfig
from .execute import ReportError, ReportResult, run_report
from .lifeline import WORKER_PREFIX, is_running, remove_dead_workers_folders, watch_parent, worker_folder
from .pdf import finish_formats

log = logging.getLogger("needling_analytics.runner")
#: A report is failed after its worker died this many times while making it.
DEATHS_PER_REPORT = 2
#: The run stops starting workers after this many pools broke with no report to blame (workers that cannot start).
BLAMELESS_BREAKS = 2
#: In a worker's folder: the name of the report it is making.
CURRENT_JOB = "current-report"


@dataclass(frozen=True)
class Job:
    """One report to make."""

    name: str
    kind: str
    label: str
    parameters: dict
    html: Path
    key: str
    formats: tuple[str, ...] = ("html",)
    footer: str = ""  # for a PDF: the text at the foot of every page

    @property
    def outputs(self) -> list[Path]:
        """The report's files: its HTML and/or PDF, as ``formats`` asks."""
        return [self.html.with_suffix(f".{f}") for f in self.formats]


class ReportWorker:
    """What one worker needs to make reports: a warm kernel (isolation ``warm``), used by one report at a
    time, and optionally a private folder whose ``current-report`` file names the report being made.

    The process pool keeps one per worker process (:func:`start_worker`); the
    Dask executor one per run in each Dask worker.
    """

    def __init__(self, isolation: str, folder: Path | None = None):
        from .execute import KERNEL
        from .pool import WarmKernel

        self.kernel = WarmKernel(KERNEL) if isolation == "warm" else None
        self.folder = folder
        self.lock = threading.Lock()  # a Dask worker with several threads shares the kernel
        self.last_used = time.monotonic()
        self.stopped = False

    def run(self, job: Job, timeout: int) -> ReportResult:
        """Make one report; never raises."""
        started = time.perf_counter()
        current = self.folder / CURRENT_JOB if self.folder is not None else None
        if current is not None:  # read by the run if this worker dies while making the report
            current.write_text(job.name, encoding="utf-8")
        kernel = self.kernel if job.kind == "patient" else None
        self.last_used = time.monotonic()
        try:
            with self.lock if kernel is not None else contextlib.nullcontext():
                result = run_report(job.kind, job.parameters, job.html, title=job.label, timeout=timeout, kernel=kernel)
            try:
                result.html = str(finish_formats(job.html, job.formats, footer=job.footer))
            except Exception as exc:  # a layout failure fails this report only
                raise ReportError(f"the PDF could not be laid out: {type(exc).__name__}: {exc}") from exc
            job.html.with_suffix(".key").write_text(job.key)
            result.name = job.name
            return result
        except ReportError as exc:
            return ReportResult(
                job.name,
                "failed",
                time.perf_counter() - started,
                reason=exc.reason,
                error=exc.detail or traceback.format_exc(),
            )
        except Exception as exc:  # a bug must still not stop the other reports
            return ReportResult(
                job.name,
                "failed",
                time.perf_counter() - started,
                reason=f"an unexpected error: {type(exc).__name__}: {exc}",
                error=traceback.format_exc(),
            )
        finally:
            self.last_used = time.monotonic()
            if current is not None:
                current.unlink(missing_ok=True)

    def stop(self, *, every_kernel: bool = False) -> None:
        """Kill the warm kernel at once (``every_kernel``: every kernel of this process) and remove the
        private folder; safe from any thread."""
        from .pool import kill_kernels_now

        self.stopped = True
        if every_kernel:
            kill_kernels_now()
        elif self.kernel is not None and self.kernel.km is not None:
            self.kernel.km.kill_now()
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)

    def stop_when_idle(self, after: float, *, every: float = 10.0) -> None:
        """Loop until :meth:`stop`: kill the warm kernel whenever it has made no report for ``after``
        seconds (the next report starts a new one).

        For the workers of an existing Dask cluster, which outlive the run: a
        run killed outright cannot end its kernels, so they end themselves.
        """
        while not self.stopped:
            time.sleep(min(after, every))
            km = self.kernel.km if self.kernel is not None else None
            if km is None or time.monotonic() - self.last_used < after or not self.lock.acquire(blocking=False):
                continue
            try:
                if km.is_alive():
                    km.kill_now()
                    log.info("the warm kernel made no report for %.0f s: stopped", after)
            finally:
                self.lock.release()


_WORKER: ReportWorker | None = None  # this process's, in the process pool


def start_worker(isolation: str, run_pid: int, kernels: Path) -> None:
    """The process pool's initialiser: end with the run ``run_pid`` (:mod:`.lifeline`), keep kernel files
    in a private folder under ``kernels``, and hold a :class:`ReportWorker`."""
    global _WORKER
    from multiprocessing.util import Finalize

    from .pool import keep_kernel_files_in

    folder = worker_folder(kernels)
    if not keep_kernel_files_in(folder):
        log.info("the run folder's path is too long for kernel sockets: kernel files go in the temporary folder")
    worker = _WORKER = ReportWorker(isolation, folder)

    def terminated(signum, frame) -> None:  # the pool ends its other workers so when one dies: not their fault
        try:
            worker.stop(every_kernel=True)
        finally:
            os._exit(128 + signum)

    watch_parent(run_pid, lambda: worker.stop(every_kernel=True))
    signal.signal(signal.SIGTERM, terminated)
    Finalize(None, worker.stop, kwargs={"every_kernel": True}, exitpriority=5)
    if worker.kernel is not None:
        Finalize(worker.kernel, worker.kernel.shutdown, exitpriority=10)


def run_job(job: Job, timeout: int) -> ReportResult:
    """Make one report in a worker process of the pool; never raises."""
    return (_WORKER or ReportWorker("strict")).run(job, timeout)


def progress_bar(total: int):
    """A progress bar on a terminal (tqdm); None when the output is a log."""
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="report", desc="reports")


def note_result(result: ReportResult, progress) -> ReportResult:
    """Log one report's result (a failure with its reason and traceback) and move the progress bar."""
    if result.status == "failed":
        log.error("%s failed: %s\n%s", result.name, result.reason, result.error)
    else:
        log.info("%s made in %.1f s", result.name, result.seconds)
    if progress is not None:
        progress.update(1)
    return result


def in_job_order(results: list[ReportResult], jobs: list[Job], progress=None) -> list[ReportResult]:
    """The results in the jobs' order (the bar closed)."""
    if progress is not None:
        progress.close()
    order = {job.name: i for i, job in enumerate(jobs)}
    return sorted(results, key=lambda r: order.get(r.name, 0))


def _reports_of_dead_workers(kernels: Path) -> set[str]:
    """The reports that workers no longer running were making when they died."""
    names = set()
    for marker in kernels.glob(f"{WORKER_PREFIX}*/{CURRENT_JOB}"):
        pid = marker.parent.name.removeprefix(WORKER_PREFIX)
        if pid.isdigit() and not is_running(int(pid)):
            names.add(marker.read_text(encoding="utf-8"))
    return names


def fan_out(jobs: list[Job], config: RunConfig, run_dir: Path) -> list[ReportResult]:
    """Make ``jobs`` with ``config.workers`` worker processes; one result per job, in the jobs' order.

    Workers keep their kernels' files under ``run_dir / "kernels"``. When a
    worker dies, the unfinished reports are made again by new workers (see
    the module docstring); a half-written report is never kept, because
    reports are written to a temporary file and renamed when complete.
    """
    if not jobs:
        return []
    kernels = run_dir / "kernels"
    progress = progress_bar(len(jobs))
    results: list[ReportResult] = []
    deaths = dict.fromkeys((job.name for job in jobs), 0)
    remaining, blameless = list(jobs), 0
    while remaining:
        done, unfinished = _one_pool(remaining, config, kernels, progress)
        results += done
        if not unfinished:
            break
        blamed = _reports_of_dead_workers(kernels)
        remove_dead_workers_folders(kernels)
        _remove_partial_reports(unfinished)
        for name in blamed:
            deaths[name] = deaths.get(name, 0) + 1
        blameless = 0 if blamed or done else blameless + 1  # workers that die before making anything
        given_up = [j for j in unfinished if deaths[j.name] >= DEATHS_PER_REPORT or blameless >= BLAMELESS_BREAKS]
        for job in given_up:
            reason = (
                f"its worker process died {deaths[job.name]} times while making it (out of memory, or a crash)"
                if deaths[job.name]
                else "the worker processes died before they could make it (see run.log)"
            )
            results.append(ReportResult(job.name, "failed", 0.0, reason=reason))
            log.error("%s failed: %s", job.name, reason)
        remaining = [j for j in unfinished if j not in given_up]
        if remaining:
            log.warning(
                "a worker process died%s: %d unfinished report(s) are made again by new workers",
                f" while making {', '.join(sorted(blamed))}" if blamed else "",
                len(remaining),
            )
    return in_job_order(results, jobs, progress)


def _one_pool(jobs: list[Job], config: RunConfig, kernels: Path, progress) -> tuple[list[ReportResult], list[Job]]:
    """Run ``jobs`` in one process pool; return the results and the jobs left unfinished by a broken pool."""
    results, unfinished = [], []
    context = multiprocessing.get_context("spawn")
    workers = max(1, min(config.workers, len(jobs)))
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=start_worker,
        initargs=(config.isolation, os.getpid(), kernels),
    ) as pool:
        futures = {pool.submit(run_job, job, config.timeout): job for job in jobs}
        try:
            for future in as_completed(futures):
                try:
                    result = future.result()
                except BrokenProcessPool:
                    unfinished.append(futures[future])
                    continue
                results.append(note_result(result, progress))
        except KeyboardInterrupt:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    return results, unfinished


def _remove_partial_reports(jobs: list[Job]) -> None:
    """Remove the temporary files a dead worker left beside these jobs' reports."""
    for job in jobs:
        patterns = [f".{job.html.name}.tmp-*", f".{job.html.stem}.ipynb.tmp-*", f".{job.html.stem}.tmp-*.ipynb"]
        for partial in (p for pattern in patterns for p in job.html.parent.glob(pattern)):
            partial.unlink(missing_ok=True)
