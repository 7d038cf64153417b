"""Warm kernels: many reports in one kernel, and nothing of one report visible in the next."""

from __future__ import annotations

import nbformat
import pytest

from needling_analytics.runner.execute import KERNEL
from needling_analytics.runner.pool import UNKNOWN, WarmKernel

pytestmark = pytest.mark.slow


def notebook(*sources, parameters='patient_id = "nobody"'):
    cells = [nbformat.v4.new_code_cell(parameters, metadata={"tags": ["parameters"]})]
    cells += [nbformat.v4.new_code_cell(source) for source in sources]
    return nbformat.v4.new_notebook(cells=cells)


def printed(book) -> str:
    return "".join(
        o.get("text", "")
        for c in book.cells
        if c.cell_type == "code"
        for o in c.outputs
        if o.get("output_type") == "stream"
    )


@pytest.fixture
def kernel():
    warm = WarmKernel(KERNEL, recycle_after=3)
    yield warm
    warm.shutdown()


def test_nothing_of_one_report_is_visible_in_the_next(kernel):
    first = notebook(
        "import numpy as np\nimport matplotlib.pyplot as plt\nsecret_rows = [patient_id] * 3\nfigure = plt.figure()\nprint('made', len(plt.get_fignums()))",
    )
    assert "made 1" in printed(kernel.run(first, {"patient_id": "P-ALICE"}, timeout=60))
    assert kernel.user_names() == set()
    probe = notebook(
        "import matplotlib.pyplot as plt\n"
        "print('names', sorted(k for k in globals() if not k.startswith('_') and k not in {'In', 'Out', 'get_ipython', 'exit', 'quit', 'open', 'plt', 'patient_id', 'needle'}))\n"
        "print('figures', plt.get_fignums())\n"
        "needle = 'P-AL' + 'ICE'\n"
        "print('history', [line for line in In if needle in line])"
    )
    out = printed(kernel.run(probe, {"patient_id": "P-BOB"}, timeout=60))
    assert "names []" in out and "figures []" in out and "history []" in out
    assert "P-ALICE" not in out


def test_kernel_is_recycled_after_n_reports_and_after_an_error(kernel):
    book = notebook("import os\nprint('pid', os.getpid())")
    pids = [printed(kernel.run(book, {"patient_id": f"P{i}"}, timeout=60)).split()[-1] for i in range(4)]
    assert pids[0] == pids[1] == pids[2] != pids[3]  # a fresh kernel after 3 reports
    broken = notebook("raise ValueError('boom')")
    with pytest.raises(Exception, match="boom"):
        kernel.run(broken, {"patient_id": "P9"}, timeout=60)
    after = printed(kernel.run(book, {"patient_id": "P10"}, timeout=60)).split()[-1]
    assert after != pids[3]  # the kernel that saw the error was replaced


def test_a_reports_unreachable_objects_are_freed_before_the_next(kernel):
    """A cycle holding patient data (a figure, a frame pointing to itself) is collected by the reset."""
    first = notebook(
        "import sys, weakref\n"
        "class Rows(list):\n    pass\n"
        "rows = Rows([patient_id])\nrows.append(rows)  # a reference cycle: only the collector frees it\n"
        "sys.modules['weakref'].probe = weakref.ref(rows)  # survives the reset on purpose, to observe"
    )
    kernel.run(first, {"patient_id": "P-ALICE"}, timeout=60)
    probe = notebook("import weakref\nprint('alive', weakref.probe() is not None)\ndel weakref.probe")
    assert "alive False" in printed(kernel.run(probe, {"patient_id": "P-BOB"}, timeout=60))


def test_a_kernel_not_known_to_be_clean_is_replaced_before_the_next_report(kernel, monkeypatch):
    book = notebook("import os\nprint('pid', os.getpid())")
    first = printed(kernel.run(book, {"patient_id": "P1"}, timeout=60)).split()[-1]
    kernel.leftovers = {"secret_rows"}  # as if the wipe had left a name behind
    second = printed(kernel.run(book, {"patient_id": "P2"}, timeout=60)).split()[-1]
    assert second != first
    # A wipe whose answer cannot be read (stray output, a time-out) counts as unclean too.
    monkeypatch.setattr(
        kernel, "_run_code", lambda code, timeout=60: [{"output_type": "stream", "name": "stdout", "text": "garbage"}]
    )
    assert kernel._reset() == {UNKNOWN}
    monkeypatch.undo()
    kernel.leftovers = {UNKNOWN}
    third = printed(kernel.run(book, {"patient_id": "P3"}, timeout=60)).split()[-1]
    assert third != second


def test_kernels_listen_on_private_unix_sockets_not_tcp(kernel):
    """Any local account can read a TCP kernel's output channel; our kernels use sockets in a 0700 folder."""
    import os
    import stat

    book = notebook("print('ok')")
    assert "ok" in printed(kernel.run(book, {"patient_id": "P1"}, timeout=60))
    info = kernel.km.get_connection_info()
    assert info["transport"] == "ipc"
    folder = os.path.dirname(kernel.km.ip)
    assert stat.S_IMODE(os.stat(folder).st_mode) & 0o777 == 0o700  # (jupyter_client adds the sticky bit)
    assert kernel.km.connection_file == os.path.join(folder, "connection.json")  # its signing key, beside them
    assert stat.S_IMODE(os.stat(kernel.km.connection_file).st_mode) & 0o077 == 0
    sockets = set(os.listdir(folder)) - {"connection.json"}
    assert sockets and all(stat.S_ISSOCK(os.stat(os.path.join(folder, s)).st_mode) for s in sockets)
    kernel.shutdown()
    assert not os.path.exists(folder)
