"""Installing without ``make``: the kernel fallback, and the notebooks shipped in the wheel.

The slow tests build a fresh virtual environment with a plain (not
editable) ``pip install``, register no kernel, and make reports there.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

from needling_analytics.cli import main
from needling_analytics.errors import InputError
from needling_analytics.runner.execute import NOTEBOOK_DIR
from needling_analytics.runner.kernel import KERNEL, ReportKernelSpecs
from needling_analytics.runner.pool import PrivateKernelManager

ROOT = Path(__file__).resolve().parents[1]
#: Top-level folders a package build does not need (and which may be large or hold patient data).
NOT_BUILT = {".git", ".venv", "build", "dist", "data", "reports", "benchmarks", ".pytest_cache", ".ruff_cache"}


def _kernel_dir(folder: Path, argv: list[str]) -> Path:
    spec = folder / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "x", "language": "python"}))
    return folder


def test_a_registered_kernel_is_used_as_registered(tmp_path):
    argv = ["/opt/elsewhere/bin/python", "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    specs = ReportKernelSpecs(kernel_dirs=[str(_kernel_dir(tmp_path, argv))])
    assert specs.get_kernel_spec(KERNEL).argv == argv


def test_without_a_registered_kernel_the_running_python_starts_it(tmp_path):
    spec = ReportKernelSpecs(kernel_dirs=[str(tmp_path)]).get_kernel_spec(KERNEL)
    assert spec.argv[:3] == [sys.executable, "-m", "ipykernel_launcher"]
    assert "{connection_file}" in spec.argv and spec.language == "python"
    with pytest.raises(NoSuchKernel):  # only our kernel has a fallback
        ReportKernelSpecs(kernel_dirs=[str(tmp_path)]).get_kernel_spec("some-other-kernel")


def test_every_runner_kernel_takes_its_spec_from_the_fallback(tmp_path):
    manager = PrivateKernelManager(kernel_name=KERNEL)
    assert isinstance(manager.kernel_spec_manager, ReportKernelSpecs)
    manager.kernel_spec_manager = ReportKernelSpecs(kernel_dirs=[str(tmp_path)])
    assert manager.kernel_spec.argv[0] == sys.executable


@pytest.fixture
def no_kernel_at_all(monkeypatch):
    """No kernel registered anywhere, and ipykernel not importable."""

    def no_spec(self, kernel_name):
        raise NoSuchKernel(kernel_name)

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(KernelSpecManager, "get_kernel_spec", no_spec)
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "ipykernel" else find_spec(name, *a)
    )


def test_missing_ipykernel_is_a_clear_error_not_a_traceback(no_kernel_at_all, tmp_path):
    with pytest.raises(InputError, match=r"ipykernel is not installed in this Python .*\n.*pip install ipykernel"):
        ReportKernelSpecs(kernel_dirs=[str(tmp_path)]).get_kernel_spec(KERNEL)


def test_commands_say_ipykernel_is_missing(no_kernel_at_all, make_clinic, tmp_path, capsys):
    data = make_clinic()
    assert main(["monthly", "--month", "2026-01", "--data", str(data), "--out", str(tmp_path / "m")]) == 2
    assert "ipykernel is not installed" in capsys.readouterr().err
    assert main(["report", "patient", "0012", "--data", str(data), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "ipykernel is not installed" in err and "Traceback" not in err


def test_the_source_tree_holds_no_stale_packaged_notebooks():
    """In a checkout the runner reads notebooks/ itself; a leftover built copy would shadow edits."""
    assert not (ROOT / "needling_analytics" / "notebooks").exists()
    assert NOTEBOOK_DIR == ROOT / "notebooks"


# --- a fresh environment made by plain `pip install` -------------------------------------------


def _source_copy(target: Path) -> Path:
    """The project without build leftovers: pip builds in the source folder, so not in ours."""

    def skip(folder, names):
        top = Path(folder).resolve() == ROOT
        return [n for n in names if n == "__pycache__" or n.endswith(".egg-info") or (top and n in NOT_BUILT)]

    shutil.copytree(ROOT, target, ignore=skip)
    return target


def _run(env, *command, timeout=300) -> subprocess.CompletedProcess:
    """Run in the environment's own folder: from the repository, Python would import the source instead."""
    cwd = Path(env["VIRTUAL_ENV"]).parent
    result = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    """A new venv with needling-analytics installed by `pip install <folder>`; Jupyter sees no user kernels."""
    root = tmp_path_factory.mktemp("fresh")
    bin_dir = root / "venv" / "bin"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "PYTHON", "VIRTUAL_ENV"))}
    env |= {"JUPYTER_DATA_DIR": str(root / "jupyter"), "MPLBACKEND": "Agg", "VIRTUAL_ENV": str(root / "venv")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    _run(env, sys.executable, "-m", "venv", root / "venv")
    source = _source_copy(root / "src")  # --no-compile: skip byte-compiling the whole scientific stack up front
    _run(env, bin_dir / "python", "-m", "pip", "install", "--quiet", "--no-compile", source, timeout=480)
    return bin_dir, env, root


@pytest.mark.slow
def test_a_plain_pip_install_has_no_kernel_registered(fresh):
    bin_dir, env, _ = fresh
    listed = _run(env, bin_dir / "jupyter", "kernelspec", "list", "--json").stdout
    assert KERNEL not in json.loads(listed)["kernelspecs"]  # so the reports below ran on the fallback


@pytest.mark.slow
def test_the_wheel_ships_the_notebooks_people_edit(fresh):
    bin_dir, env, root = fresh
    code = "from needling_analytics.runner.execute import NOTEBOOK_DIR; print(NOTEBOOK_DIR)"
    packaged = Path(_run(env, bin_dir / "python", "-c", code).stdout.strip())
    assert packaged.is_relative_to(root / "venv")  # the installed copy, not a source folder
    assert sorted(p.name for p in packaged.glob("*.ipynb")) == sorted(
        p.name for p in (ROOT / "notebooks").glob("*.ipynb")
    )
    for notebook in (ROOT / "notebooks").glob("*.ipynb"):
        assert (packaged / notebook.name).read_bytes() == notebook.read_bytes(), notebook.name


@pytest.mark.slow
def test_report_and_monthly_work_after_a_plain_pip_install(fresh):
    bin_dir, env, root = fresh
    cli = bin_dir / "needling-analytics"
    data, out = root / "clinic", root / "out"
    _run(env, cli, "demo-data", "--out", data, "--patients", "30")
    episodes = pd.read_csv(data / "episodes.csv", dtype=str)
    single = episodes.groupby("patient_id").filter(lambda e: len(e) == 1).iloc[0]
    _run(env, cli, "report", "patient", single["patient_id"], "--data", data, "--out", out)
    html = out / data.name / "patients" / f"{single['patient_id']}.html"
    text = html.read_text(encoding="utf-8")
    assert f"Patient {single['patient_id']}" in text and single["condition"] in text
    assert "Traceback" not in text
    sessions = pd.read_csv(data / "sessions.csv", dtype=str)
    month = pd.Period(sessions.loc[sessions["status"] == "attended", "session_date"].max(), "M")
    _run(env, cli, "monthly", "--month", str(month), "--data", data, "--out", out, "--clinic-name", "Fresh")
    manifest = json.loads((out / "fresh" / str(month) / "manifest.json").read_text())
    assert manifest["counts"]["failed"] == 0 and manifest["counts"]["ok"] >= 2  # the clinic and a patient
