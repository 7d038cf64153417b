"""Worker processes and their kernels end with the run that started them.

A run killed outright (SIGKILL from the OOM killer or a scheduler's time
limit) cannot clean up after itself. Without this module its worker
processes would wait for work for ever, each with a warm kernel (about
0.5 GB a pair), and every crash would leak more. So each worker watches the
process that started it (:func:`watch_parent`, a thread polling the parent
process ID, which works wherever Python does): once the run is gone, the
worker kills its kernels, removes their files and exits. Kernels watch their
worker in the same way (ipykernel's parent poller, told the worker's process
ID by jupyter_client), so a worker killed outright takes its kernel with it
within about a second.

Each worker keeps its kernels' connection files and sockets in a private
folder of its own (:func:`worker_folder`) under the run's ``kernels``
folder; :func:`remove_dead_workers_folders` removes the folders of workers
that are no longer running when the next run starts.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

#: The exit status of a worker that ended because its run was gone.
EXIT_ORPHANED = 3
#: The prefix of a worker's private folder; the worker's process ID follows it.
WORKER_PREFIX = "worker-"


def watch_parent(parent_pid: int, on_orphaned: Callable[[], None], *, every: float = 0.5) -> threading.Thread:
    """Call ``on_orphaned`` and end this process at once when ``parent_pid`` is no longer its parent.

    The watch runs in a daemon thread, so it works while the main thread
    waits for work or runs a report. The process also ends when it was
    already orphaned when the watch started (a run killed during start-up).
    """

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(every)
        try:
            on_orphaned()
        finally:
            os._exit(EXIT_ORPHANED)  # no clean-up handlers: the run that would read their results is gone

    thread = threading.Thread(target=watch, name="needling-analytics-parent-watch", daemon=True)
    thread.start()
    return thread


def worker_folder(kernels: Path) -> Path:
    """Make and return this process's private folder (mode 0700) under ``kernels``."""
    kernels.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder = kernels / f"{WORKER_PREFIX}{os.getpid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def is_running(pid: int) -> bool:
    """Whether a process with this ID exists (one of another account counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # somebody else's process has that ID now
        return True
    return True


def remove_dead_workers_folders(kernels: Path) -> int:
    """Remove the folders of workers no longer running under ``kernels``; return how many went."""
    removed = 0
    for folder in kernels.glob(f"{WORKER_PREFIX}*") if kernels.is_dir() else []:
        pid = folder.name.removeprefix(WORKER_PREFIX)
        if folder.is_dir() and (not pid.isdigit() or not is_running(int(pid))):
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed
