"""Runs that die: nothing is left running, and reports whose worker died are made again.

A monthly run killed outright (SIGKILL, as the out-of-memory killer or a
scheduler's time limit does) must take its worker processes, the
multiprocessing helper and its kernels with it, and leave no kernel
connection file behind; the next run finishes the reports. A worker that
dies during a run is replaced and its report made again.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import nbformat
import pytest

from needling_analytics.demo import write_clinic
from needling_analytics.runner import RunConfig, run_monthly
from needling_analytics.runner.execute import NOTEBOOK_DIR

from .conftest import demo_tables

MONTH = "2026-10"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="finds the run's processes through /proc"),
]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clinic")
    write_clinic(demo_tables(n_patients=30, seed=2), folder)
    return folder


def _processes_marked(mark: str) -> dict[int, str]:
    """Running processes (not zombies) whose environment holds ``mark``, with their command lines."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # gone meanwhile, or not ours
            continue
        if mark.encode() in environ and state != "Z":
            found[int(entry.name)] = command
    return found


def _wait_until(condition, seconds: float):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.25)
    return condition()


EXECUTORS = pytest.mark.parametrize("executor", ["local", "dask"])


@EXECUTORS
def test_a_killed_run_leaves_nothing_running_and_the_rerun_finishes(data_dir, tmp_path, executor, request):
    mark = f"needling-test-{uuid.uuid4().hex}"
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    env = {**os.environ, "NEEDLING_TEST_MARK": mark, "TMPDIR": str(temporary)}
    out = Path(tempfile.mkdtemp(prefix="run-", dir="/tmp"))  # short: as a real run folder, room for kernel sockets
    request.addfinalizer(lambda: shutil.rmtree(out, ignore_errors=True))
    command = [sys.executable, "-m", "needling_analytics", "monthly", "--month", MONTH]
    command += ["--data", str(data_dir), "--out", str(out), "--workers", "2", "--clinic-name", "Killed"]
    command += ["--executor", executor]
    run = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    patients = out / "killed" / MONTH / "patients"
    try:
        assert _wait_until(lambda: len(list(patients.glob("*.html"))) >= 3, 240), "no report was made in time"
        running = _processes_marked(mark)
        kernels = [c for c in running.values() if "ipykernel" in c]
        # the run, two workers and their two kernels (and the multiprocessing resource tracker)
        assert len(running) >= 5 and len(kernels) == 2, running
        os.kill(run.pid, signal.SIGKILL)
        run.wait()
        left = _wait_until(lambda: not _processes_marked(mark), 10)
        assert left, f"still running 10 s after the run was killed: {_processes_marked(mark)}"
    finally:
        for pid in _processes_marked(mark):  # never leave orphans on the test machine either
            os.kill(pid, signal.SIGKILL)
    made_before = {p.stem for p in patients.glob("*.html")}
    run_dir = out / "killed" / MONTH
    assert not list(temporary.iterdir()), "files were left in the temporary folder"
    left_behind = list((run_dir / "kernels").iterdir())
    if executor == "local":  # the workers removed their kernels' files; a Dask worker exits at once (Dask's own
        assert not left_behind  # watch), leaving them in the run's private folder for the next run to remove

    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    statuses = {r["name"]: r["status"] for r in manifest["reports"]}
    assert set(statuses.values()) <= {"ok", "skipped"} and manifest["counts"]["failed"] == 0
    assert {n for n, s in statuses.items() if s == "skipped"} >= made_before - {"clinic_report"}
    assert {p.stem for p in patients.glob("*.html")} == {n for n in statuses if n != "clinic_report"}
    assert not _processes_marked(mark)
    assert not list((run_dir / "kernels").iterdir()), f"the rerun left kernel files: was {left_behind}"


def _notebooks_that_kill_a_worker(folder: Path, victim: str, once_marker: Path | None) -> Path:
    """Copy the notebooks; the patient report of ``victim`` kills the worker process running it.

    The kernel's parent is the worker. With ``once_marker``, only the first attempt kills.
    """
    notebooks = folder / "notebooks"
    notebooks.mkdir()
    for source in NOTEBOOK_DIR.glob("*.ipynb"):
        (notebooks / source.name).write_bytes(source.read_bytes())
    book = nbformat.read(notebooks / "patient_report.ipynb", as_version=4)
    position = next(i for i, c in enumerate(book.cells) if "parameters" in c.metadata.get("tags", [])) + 1
    once = f"not os.path.exists({str(once_marker)!r})" if once_marker else "True"
    touch = f"open({str(once_marker)!r}, 'w').close()\n    " if once_marker else ""
    code = (
        f"import os, signal\nif patient_id == {victim!r} and {once}:\n    {touch}os.kill(os.getppid(), signal.SIGKILL)"
    )
    book.cells.insert(position, nbformat.v4.new_code_cell(code))
    nbformat.write(book, notebooks / "patient_report.ipynb")
    return notebooks


def _victim(data_dir: Path) -> str:
    import pandas as pd

    from needling_analytics.load import load_clinic
    from needling_analytics.runner import patients_seen

    return patients_seen(load_clinic(data_dir), pd.Period(MONTH, "M"))[3]


@EXECUTORS
def test_a_worker_killed_mid_run_is_replaced_and_its_report_made_again(data_dir, tmp_path, monkeypatch, executor):
    victim = _victim(data_dir)
    monkeypatch.setenv("NEEDLING_NOTEBOOKS", str(_notebooks_that_kill_a_worker(tmp_path, victim, tmp_path / "once")))
    config = RunConfig(
        data_dir=data_dir, clinic_name="Lost worker", out_dir=tmp_path / "out", workers=2, executor=executor
    )
    run = run_monthly(config, month=MONTH)
    assert (tmp_path / "once").exists(), "the worker was never killed: the test proves nothing"
    assert run.exit_code == 0
    assert {r.status for r in run.results} == {"ok"}
    assert (run.run_dir / "patients" / f"{victim}.html").is_file()
    if executor == "local":  # Dask gives the report to another worker without telling the run
        assert f"a worker process died while making {victim}" in (run.run_dir / "run.log").read_text()
    assert not list((run.run_dir / "kernels").iterdir())
    assert not list((run.run_dir / "patients").glob(".*tmp*"))
    manifest = json.loads((run.run_dir / "manifest.json").read_text())
    assert manifest["exit_code"] == 0 and manifest["counts"]["failed"] == 0


@EXECUTORS
def test_a_report_that_kills_its_worker_every_time_fails_alone(data_dir, tmp_path, monkeypatch, executor):
    victim = _victim(data_dir)
    monkeypatch.setenv("NEEDLING_NOTEBOOKS", str(_notebooks_that_kill_a_worker(tmp_path, victim, None)))
    config = RunConfig(data_dir=data_dir, clinic_name="Poison", out_dir=tmp_path / "out", workers=2, executor=executor)
    run = run_monthly(config, month=MONTH)
    assert run.exit_code == 1
    statuses = {r.name: r.status for r in run.results}
    assert statuses.pop(victim) == "failed"
    assert set(statuses.values()) == {"ok"}
    failed = next(r for r in run.results if r.status == "failed")
    assert failed.reason == "its worker process died 2 times while making it (out of memory, or a crash)"
    manifest = json.loads((run.run_dir / "manifest.json").read_text())
    assert manifest["exit_code"] == 1 and manifest["counts"]["failed"] == 1
    assert not list((run.run_dir / "kernels").iterdir())


def test_an_idle_warm_kernel_stops_itself_and_the_next_report_starts_a_new_one(tmp_path):
    import threading

    from needling_analytics.runner.local import ReportWorker
    from needling_analytics.runner.pool import PrivateKernelManager, keep_kernel_files_in

    keep_kernel_files_in(None)
    worker = ReportWorker("warm")
    bystander = PrivateKernelManager()  # another kernel of the process (a clinic report's): never touched
    bystander.start_kernel()
    book = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]})])
    book.cells.append(nbformat.v4.new_code_cell("print(x * 2)"))
    try:
        assert worker.kernel.run(book, {"x": 3}, timeout=60).cells[-1].outputs[0]["text"] == "6\n"
        first = worker.kernel.km.provisioner.process
        worker.last_used = time.monotonic()
        watch = threading.Thread(target=worker.stop_when_idle, args=(0.5,), kwargs={"every": 0.1}, daemon=True)
        watch.start()
        assert _wait_until(lambda: first.poll() is not None, 10), "the idle kernel was not stopped"
        assert bystander.is_alive(), "the idle watch stopped a kernel that was not the warm one"
        with worker.lock:  # as ReportWorker.run holds it: a kernel making a report is never stopped
            assert worker.kernel.run(book, {"x": 5}, timeout=60).cells[-1].outputs[0]["text"] == "10\n"
            assert worker.kernel.km.provisioner.process is not first
    finally:
        worker.stop()
        watch.join(timeout=5)
        bystander.shutdown_kernel(now=True)
    assert not watch.is_alive()
