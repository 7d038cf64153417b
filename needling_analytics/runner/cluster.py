"""The Dask executor: reports made by the workers of a Dask cluster (``executor = "dask"``).

Without a ``scheduler`` address, the run starts a ``LocalCluster`` of
``workers`` worker processes on this computer, with one thread each. With
one, it uses that cluster (for example ``dask scheduler`` on one machine and
``dask worker --nthreads 1`` on several). In both cases:

- every worker keeps a warm kernel, as the local executor's workers do: a
  worker plugin prepares the worker when it starts (again after a worker
  restart) and kills its kernels and removes their files when the run ends;
- a worker that dies does not stop the run: the scheduler gives its report
  to another worker, and a report whose worker died twice while making it
  fails alone (on a LocalCluster; an existing cluster's scheduler follows
  its own ``distributed.scheduler.allowed-failures``);
- workers must see the run folder at the same path (a shared folder): the
  run checks this before the first report and stops with exit status 2,
  naming the workers that cannot;
- patients' data cross the network to a remote cluster, so a plain
  ``tcp://`` address of another host is refused unless ``insecure`` is set
  (see :func:`~.config.check_executor`); ``tls://`` uses the certificate
  files of the configuration.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shutil
import sys
import threading
from pathlib import Path

import dask
from distributed import Client, KilledWorker, LocalCluster, Security, WorkerPlugin, as_completed

from ..errors import InputError
from .config import RunConfig
from .execute import ReportResult
from .lifeline import remove_dead_workers_folders
from .local import DEATHS_PER_REPORT, Job, run_job, start_worker, stop_idle_kernel, stop_worker

log = logging.getLogger("needling_analytics.runner")
#: The name of the worker plugin on the cluster.
PLUGIN = "needling-analytics-warm-kernels"
#: Seconds to wait for a remote cluster's scheduler and its first worker.
CONNECT_SECONDS = 30
#: An existing cluster's workers outlive the run: their warm kernels stop after this many seconds without a report.
IDLE_KERNEL_SECONDS = 300


class WarmKernels(WorkerPlugin):
    """Each worker's warm kernel and private kernel folder, as the local executor's (:func:`.local.start_worker`)."""

    def __init__(self, isolation: str, kernels: Path):
        self.isolation = isolation
        self.kernels = kernels

    def setup(self, worker):
        start_worker(self.isolation, os.getppid(), self.kernels)
        threading.Thread(target=stop_idle_kernel, args=(IDLE_KERNEL_SECONDS,), daemon=True).start()

    def teardown(self, worker):
        stop_worker()


def _read_text(path: str) -> str | None:
    """On a worker: the text of ``path``, or None when the worker cannot read it."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError:
        return None


def check_shared_folder(client, run_dir: Path) -> None:
    """Check that every worker of ``client``'s cluster reads the run folder at the same path.

    Raises
    ------
    InputError
        Naming the workers that cannot, and what they need.
    """
    token = secrets.token_hex(16)
    probe = run_dir / "kernels" / f".shared-check-{token}"
    probe.write_text(token, encoding="utf-8")
    try:
        seen = client.run(_read_text, str(probe), on_error="return")
    finally:
        probe.unlink(missing_ok=True)
    if not seen:
        raise InputError("the Dask cluster has no workers", path=run_dir)
    blind = sorted(address for address, text in seen.items() if text != token)
    if blind:
        raise InputError(
            f"{len(blind)} of {len(seen)} Dask worker(s) cannot see the run folder at this path: "
            f"{', '.join(blind)}. Every worker needs the output folder at the same path (a shared folder, such as "
            "NFS, mounted at the same place on every machine), readable and writable by the account the workers run as",
            path=run_dir,
        )


@contextlib.contextmanager
def _client(config: RunConfig, jobs: int, run_dir: Path):
    """A Dask client: of a new LocalCluster, or of the cluster at ``config.scheduler``."""
    if config.scheduler is None:
        workers = max(1, min(config.workers, jobs))
        scratch = run_dir / "kernels" / "dask"  # the scheduler's and workers' own folders, kept private
        try:
            with (
                LocalCluster(
                    n_workers=workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address="127.0.0.1:0",  # its status pages on loopback only, any free port
                    silence_logs=logging.ERROR,
                ) as cluster,
                Client(cluster) as client,
            ):
                yield client
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return
    security = None
    if config.scheduler.startswith("tls://"):
        security = Security(
            tls_ca_file=str(config.tls_ca_file),
            tls_client_cert=str(config.tls_cert_file),
            tls_client_key=str(config.tls_key_file),
            require_encryption=True,
        )
    try:
        client = Client(config.scheduler, security=security, timeout=CONNECT_SECONDS)
        client.wait_for_workers(1, timeout=CONNECT_SECONDS)
    except (OSError, TimeoutError) as exc:
        raise InputError(
            f"the Dask scheduler at {config.scheduler} could not be reached, or has no worker: {exc}"
        ) from None
    with client:
        yield client


def fan_out(jobs: list[Job], config: RunConfig, run_dir: Path) -> list[ReportResult]:
    """Make ``jobs`` on a Dask cluster; one result per job, in the jobs' order (see the module docstring)."""
    if not jobs:
        return []
    kernels = run_dir / "kernels"
    progress = None
    if sys.stderr.isatty():
        from tqdm import tqdm

        progress = tqdm(total=len(jobs), unit="report", desc="reports")
    settings = {
        # a worker's death counts against the report it was making only: one report at a time per thread
        "distributed.scheduler.allowed-failures": DEATHS_PER_REPORT - 1,
        "distributed.scheduler.worker-saturation": 1.0,
        "temporary-directory": str(run_dir / "kernels" / "dask"),
    }
    results = []
    with dask.config.set(settings), _client(config, len(jobs), run_dir) as client:
        log.info("Dask cluster: scheduler %s, %d worker(s)", client.scheduler.address, len(client.nthreads()))
        check_shared_folder(client, run_dir)
        client.register_plugin(WarmKernels(config.isolation, kernels), name=PLUGIN)
        try:
            run = secrets.token_hex(4)
            futures = {
                client.submit(run_job, job, config.timeout, key=f"report-{run}-{i}", pure=False): job
                for i, job in enumerate(jobs)
            }
            for future in as_completed(futures):
                job = futures[future]
                try:
                    result = future.result()
                except KilledWorker:
                    reason = (
                        f"its worker process died {DEATHS_PER_REPORT} times while making it (out of memory, or a crash)"
                    )
                    result = ReportResult(job.name, "failed", 0.0, reason=reason)
                results.append(result)
                if result.status == "failed":
                    log.error("%s failed: %s\n%s", result.name, result.reason, result.error)
                else:
                    log.info("%s made in %.1f s", result.name, result.seconds)
                if progress is not None:
                    progress.update(1)
        finally:
            with contextlib.suppress(Exception):  # the cluster may be gone; its workers then end with it
                client.unregister_worker_plugin(PLUGIN)
    remove_dead_workers_folders(kernels)  # a worker killed outright could not remove its own
    if progress is not None:
        progress.close()
    order = {job.name: i for i, job in enumerate(jobs)}
    return sorted(results, key=lambda r: order.get(r.name, 0))
