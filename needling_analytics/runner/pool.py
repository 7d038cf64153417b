"""Warm kernels: one Jupyter kernel serves many patient reports, wiped clean between them.

Starting a kernel and importing the scientific stack costs several seconds
per report; the report itself takes about one. A :class:`WarmKernel` is
started once per worker, imports what reports need, and then runs report
after report. Between two reports it forgets everything: ``%reset -f``
empties the user namespace (variables, imported names, the In/Out history),
every matplotlib figure is closed, the input history is emptied (and never
written to disk: kernels run with IPython's history database switched off)
and the garbage collector runs; in the same step the kernel lists the
names left. A kernel that is not known to be clean (names left, or a wipe
that failed or timed out) is replaced before the next report. The
kernel is replaced after ``recycle_after`` reports and after any error, so
one broken report cannot leave state behind. ``--isolation strict`` skips
all this and gives every report a fresh kernel (see :mod:`.execute`).
"""

from __future__ import annotations

import ast
import os
import shutil
import tempfile
import weakref

import nbformat
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from papermill.parameterize import parameterize_notebook
from traitlets import default

from ..errors import NeedlingAnalyticsError
from .kernel import ReportKernelSpecs

#: Run once when a kernel starts: the imports every report makes anyway.
PRELUDE = "import needling_analytics, needling_analytics.plots, needling_analytics.reporting\nimport matplotlib\nmatplotlib.use('Agg')"
#: Run after every report: forget the report completely, then print the
#: names left. The collector frees the report's unreachable objects; what
#: survives is reachable from loaded modules and is frozen (``gc.freeze``),
#: so later collections scan only what the next report creates instead of
#: the whole scientific stack (a full collection costs about 0.15 s).
RESET = (
    "import matplotlib.pyplot as _plt\n_plt.close('all')\ndel _plt\n"
    "get_ipython().run_line_magic('reset', '-f')\n"
    "_history = get_ipython().history_manager\n"
    "_history.input_hist_parsed[:] = ['']\n_history.input_hist_raw[:] = ['']\n_history.output_hist.clear()\n"
    "del _history\nimport gc as _gc\n_gc.collect()\n_gc.freeze()\ndel _gc\n"
    "print(sorted(_k for _k in globals() if not _k.startswith('_')))"
)
#: Kernel options: keep no history on disk (parameters name a patient), and
#: keep the kernel's start-up chatter out of the run's log.
KERNEL_ARGUMENTS = ["--HistoryManager.enabled=False", "--IPKernelApp.log_level=ERROR"]
#: Names that may remain in a clean namespace (IPython's own).
_BUILTIN_NAMES = {"In", "Out", "get_ipython", "exit", "quit", "open"}
#: What :attr:`WarmKernel.leftovers` holds when a wipe did not finish or its answer could not be read.
UNKNOWN = "<the wipe did not finish>"


#: Where kernels' private folders are made (see :func:`keep_kernel_files_in`); ``None``: the system's temporary folder.
_KERNEL_FILES_DIR: str | None = None
#: The longest folder that can hold kernels' folders: a socket's path (this folder, ``/k-XXXXXXXX/k-1``)
#: must fit in the 107 bytes Linux allows.
MAX_KERNEL_FILES_DIR = 90
#: Every kernel manager of this process, so that :func:`kill_kernels_now` can reach kernels papermill started.
_MANAGERS: weakref.WeakSet = weakref.WeakSet()


def keep_kernel_files_in(folder) -> bool:
    """Make the kernels this process starts keep their sockets and connection file under ``folder``.

    Returns False (and the system's temporary folder is used) when
    ``folder`` is too long a path for a socket, or is None.
    """
    global _KERNEL_FILES_DIR
    fits = folder is not None and len(os.fsencode(str(folder))) <= MAX_KERNEL_FILES_DIR  # bytes, as the limit
    _KERNEL_FILES_DIR = str(folder) if fits else None
    return fits


def kill_kernels_now() -> None:
    """Kill every kernel this process started and remove its files, without a word to the kernel.

    For a worker whose run is gone; safe to call from any thread.
    """
    for manager in list(_MANAGERS):
        manager.kill_now()


class PrivateKernelManager(KernelManager):
    """A kernel reached through Unix sockets in a folder only this user can open.

    Jupyter's default transport is TCP on localhost: messages are signed but
    not encrypted, and any local account can subscribe to a kernel's output
    channel and read every report as it is made. Unix sockets in a private
    folder (mode 0700) close that door. The folder also holds the
    connection file, sits in the run's private ``kernels`` folder when a
    monthly run started the kernel (:func:`keep_kernel_files_in`), and is
    removed when the kernel shuts down. Kernel specs come from
    :class:`~.kernel.ReportKernelSpecs`: without a registered
    ``needling-analytics`` kernel, the running Python starts the kernel.
    """

    def __init__(self, **kwargs):
        self._folder = None
        super().__init__(**kwargs)
        _MANAGERS.add(self)

    def private_folder(self) -> str:
        """This kernel's folder (mode 0700), made on first use."""
        if self._folder is None:
            prefix = "k-" if _KERNEL_FILES_DIR else "needling-kernel-"  # short: the sockets' paths are limited
            self._folder = tempfile.mkdtemp(prefix=prefix, dir=_KERNEL_FILES_DIR)
        return self._folder

    @default("kernel_spec_manager")
    def _default_kernel_spec_manager(self) -> ReportKernelSpecs:
        return ReportKernelSpecs(data_dir=self.data_dir)

    @default("transport")
    def _default_transport(self) -> str:
        return "ipc"

    @default("ip")
    def _default_ip(self) -> str:
        if self.transport != "ipc":
            return "127.0.0.1"
        return os.path.join(self.private_folder(), "k")

    @default("connection_file")
    def _default_connection_file(self) -> str:
        return os.path.join(self.private_folder(), "connection.json")

    def remove_socket_folder(self) -> None:
        """Remove the private folder (also after a kernel died, when no clean-up hook runs)."""
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)

    def kill_now(self) -> None:
        """Kill the kernel process at once and remove its folder (see :func:`kill_kernels_now`)."""
        process = getattr(self.provisioner, "process", None)
        if process is not None and process.poll() is None:
            process.kill()
        self.remove_socket_folder()

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if not restart:
            self.remove_socket_folder()


class KernelStateError(NeedlingAnalyticsError, RuntimeError):
    """The kernel did not come back clean after a reset."""


class WarmKernel:
    """A running kernel that executes notebooks one after another, reset in between."""

    def __init__(self, kernel_name: str, *, start_timeout: int = 60, recycle_after: int = 25):
        self.kernel_name = kernel_name
        self.start_timeout = start_timeout
        self.recycle_after = recycle_after
        self.km = None
        self.kc = None
        self.served = 0
        self.leftovers: set[str] = set()

    def _start(self) -> None:
        self.km = PrivateKernelManager(kernel_name=self.kernel_name)
        self.km.start_kernel(extra_arguments=KERNEL_ARGUMENTS)
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=self.start_timeout)
        self._run_code(PRELUDE)
        self.leftovers = self._reset()  # the modules stay loaded; the names go
        self.served = 0

    def _start_or_retry(self) -> None:
        """Start a kernel; when it does not answer in time (a busy machine), try once more before failing."""
        try:
            self._start()
        except RuntimeError:
            self.shutdown()
            self._start()

    def shutdown(self) -> None:
        if self.kc is not None:
            self.kc.stop_channels()
        if self.km is not None:
            if self.km.has_kernel:
                self.km.shutdown_kernel(now=True)
            self.km.remove_socket_folder()
        self.km = self.kc = None

    def _run_code(self, code: str, timeout: int = 60) -> list[dict]:
        """Execute ``code`` and return its display outputs; raise on error."""
        book = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
        client = NotebookClient(book, km=self.km, timeout=timeout, allow_errors=False)
        client.kc = self.kc
        client.execute(reset_kc=False, cleanup_kc=False)
        return book.cells[0].outputs

    @staticmethod
    def _printed_names(outputs: list[dict]) -> set[str]:
        """The names in the last line printed to stdout; :data:`UNKNOWN` when there is none to read."""
        text = "".join(
            o.get("text", "") for o in outputs if o.get("output_type") == "stream" and o.get("name") == "stdout"
        )
        lines = text.strip().splitlines()
        try:
            return set(ast.literal_eval(lines[-1])) - _BUILTIN_NAMES
        except (IndexError, ValueError, SyntaxError, TypeError):
            return {UNKNOWN}

    def _reset(self) -> set[str]:
        """Wipe the kernel (:data:`RESET`) and return the names a report could still see.

        A wipe that fails, times out or answers unreadably counts as unclean
        (:data:`UNKNOWN`): the next report then gets a new kernel.
        """
        self.leftovers = {UNKNOWN}
        try:
            return self._printed_names(self._run_code(RESET))
        except Exception:  # noqa: BLE001 - any failure: the kernel is not known to be clean
            return {UNKNOWN}

    def user_names(self) -> set[str]:
        """The names a report could see in the kernel's namespace right now."""
        return self._printed_names(self._run_code("print(sorted(k for k in globals() if not k.startswith('_')))"))

    def run(self, notebook: nbformat.NotebookNode, parameters: dict, *, timeout: int) -> nbformat.NotebookNode:
        """Execute a copy of ``notebook`` with ``parameters``; the kernel is left clean.

        Raises nbclient's errors as they come; the kernel is replaced after any of them.
        """
        if self.km is None or self.served >= self.recycle_after or self.leftovers or not self.km.is_alive():
            self.shutdown()  # an unclean kernel is never reused: the report gets a new one
            self._start_or_retry()
        if self.leftovers:
            leftovers, self.leftovers = self.leftovers, set()
            self.shutdown()
            raise KernelStateError(f"a new kernel was not clean before a report: {sorted(leftovers)}")
        book = nbformat.from_dict(notebook)
        for cell in book.cells:
            cell.metadata.setdefault("tags", [])
        book.metadata.setdefault("papermill", {})
        book = parameterize_notebook(
            book, parameters, report_mode=False, kernel_name=self.kernel_name, language="python"
        )
        client = NotebookClient(book, km=self.km, timeout=timeout, allow_errors=False, record_timing=False)
        client.kc = self.kc
        try:
            client.execute(reset_kc=False, cleanup_kc=False)
        except (CellExecutionError, CellTimeoutError, DeadKernelError):
            self.shutdown()
            raise
        finally:
            if self.km is not None:
                self.leftovers = self._reset()
        self.served += 1
        return book
