"""The Dask executor: reports made by the workers of a Dask cluster (``executor = "dask"``).

Without a ``scheduler`` address, the run starts a ``LocalCluster`` of
``workers`` worker processes on this computer, with one thread each. With
one, it uses that cluster (for example ``dask scheduler`` on one machine and
``dask worker --nthreads 1`` on several). In both cases:

- every worker keeps a warm kernel for the run, as the local executor's
  workers do: a worker plugin, named for the run (two runs may share a
  cluster), prepares it when the worker starts (again after a restart) and
  kills it when the run ends; it also stops itself after
  :data:`IDLE_KERNEL_SECONDS` without a report, for a run killed outright;
  kernel files stay on the worker's own disk (its temporary folder);
- a worker that dies does not stop the run: the scheduler gives its report
  to another worker, and a report whose worker died twice while making it
  fails alone (on a LocalCluster; an existing cluster's scheduler follows
  its own ``distributed.scheduler.allowed-failures``). The run hands out
  no more reports than the cluster has threads, so a worker that dies
  holds only the reports it was making, and only they are blamed;
- the LocalCluster talks TLS with certificates made for the run
  (``Security.temporary()``), so no other account on the computer can send
  its workers code or read what they return;
- workers must see the run folder at the same path (a shared folder): the
  run checks this before the first report and stops with exit status 2,
  naming the workers that cannot;
- patients' data cross the network to a cluster's workers, and Dask's
  plain TCP lets anyone who can reach the scheduler run code on them, so a
  ``tcp://`` address is refused unless ``insecure`` is set (see
  :func:`~.config.check_executor`); ``tls://`` uses the certificate files
  of the configuration.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import shutil
import threading
from pathlib import Path

import dask
from distributed import Client, KilledWorker, LocalCluster, Security, WorkerPlugin, as_completed, get_worker

from ..errors import InputError
from .config import RunConfig
from .execute import ReportResult
from .lifeline import remove_dead_workers_folders, worker_folder
from .local import DEATHS_PER_REPORT, Job, ReportWorker, in_job_order, note_result, progress_bar

log = logging.getLogger("needling_analytics.runner")
#: The name of the worker plugin on the cluster.
PLUGIN = "needling-analytics-warm-kernels"
#: Seconds to wait for a remote cluster's scheduler and its first worker.
CONNECT_SECONDS = 30
#: An existing cluster's workers outlive the run: their warm kernels stop after this many seconds without a report.
IDLE_KERNEL_SECONDS = 300


class WarmKernels(WorkerPlugin):
    """A run's :class:`~.local.ReportWorker` (its warm kernel) in each Dask worker.

    ``kernels``: the run's private folder for kernel files, for the run's own
    LocalCluster; None (an existing cluster, whose run folder is shared): the
    worker's temporary folder, as Unix sockets do not belong on a shared file system.
    """

    def __init__(self, isolation: str, kernels: Path | None):
        self.isolation = isolation
        self.kernels = kernels
        self.reports = None

    def setup(self, worker):
        from .pool import keep_kernel_files_in

        folder = worker_folder(self.kernels) if self.kernels is not None else None
        keep_kernel_files_in(folder)
        self.reports = ReportWorker(self.isolation, folder)
        threading.Thread(target=self.reports.stop_when_idle, args=(IDLE_KERNEL_SECONDS,), daemon=True).start()

    def teardown(self, worker):
        if self.reports is not None:
            self.reports.stop()


def _run_on_worker(job: Job, timeout: int, plugin: str) -> ReportResult:
    """Make one report with the run's :class:`~.local.ReportWorker` on this Dask worker; never raises."""
    return get_worker().plugins[plugin].reports.run(job, timeout)


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
                    security=Security.temporary(),  # TLS: no other account can reach the workers
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
    except (OSError, TimeoutError) as exc:
        raise InputError(f"the Dask scheduler at {config.scheduler} could not be reached: {exc}") from None
    with client:
        try:
            client.wait_for_workers(1, timeout=CONNECT_SECONDS)
        except (OSError, TimeoutError):
            raise InputError(
                f"the Dask scheduler at {config.scheduler} has no worker (waited {CONNECT_SECONDS} s)"
            ) from None
        yield client


def fan_out(jobs: list[Job], config: RunConfig, run_dir: Path) -> list[ReportResult]:
    """Make ``jobs`` on a Dask cluster; one result per job, in the jobs' order (see the module docstring)."""
    if not jobs:
        return []
    progress = progress_bar(len(jobs))
    settings = {
        "distributed.scheduler.allowed-failures": DEATHS_PER_REPORT - 1,
        "temporary-directory": str(run_dir / "kernels" / "dask"),
    }
    results = []
    kernels = run_dir / "kernels"
    with dask.config.set(settings), _client(config, len(jobs), run_dir) as client:
        log.info("Dask cluster: scheduler %s, %d worker(s)", client.scheduler.address, len(client.nthreads()))
        check_shared_folder(client, run_dir)
        run = secrets.token_hex(4)
        plugin = f"{PLUGIN}-{run}"
        own_cluster = config.scheduler is None
        client.register_plugin(WarmKernels(config.isolation, kernels if own_cluster else None), name=plugin)
        try:
            waiting = list(enumerate(jobs))[::-1]
            pending = as_completed()
            owner = {}

            def hand_out() -> None:  # no more reports in flight than threads: a dying worker holds only its own
                while waiting and pending.count() < max(1, sum(client.nthreads().values())):
                    i, job = waiting.pop()
                    future = client.submit(_run_on_worker, job, config.timeout, plugin, key=f"report-{run}-{i}")
                    owner[future.key] = job
                    pending.add(future)

            hand_out()
            for future in pending:
                job = owner[future.key]
                try:
                    result = future.result()
                except KilledWorker as exc:
                    deaths = exc.allowed_failures + 1
                    reason = f"its worker process died {deaths} times while making it (out of memory, or a crash)"
                    result = ReportResult(job.name, "failed", 0.0, reason=reason)
                except Exception as exc:  # the cluster lost the task: say so, never count it as made
                    reason = f"the Dask cluster could not make it: {type(exc).__name__}: {exc}"
                    result = ReportResult(job.name, "failed", 0.0, reason=reason)
                results.append(note_result(result, progress))
                hand_out()
        finally:
            with contextlib.suppress(Exception):  # the cluster may be gone; its workers then end with it
                client.unregister_worker_plugin(plugin)
    remove_dead_workers_folders(kernels)  # of the run's own workers killed outright
    return in_job_order(results, jobs, progress)
