"""The monthly run end to end on a tiny clinic: reports, index, manifest, failures, resuming."""

from __future__ import annotations

import html as markup
import json
import re
import shutil
import stat
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from needling_analytics.cli import main
from needling_analytics.clinic import Clinic
from needling_analytics.demo import write_clinic
from needling_analytics.runner import ParameterError, RunConfig, patients_seen, run_monthly, run_report
from needling_analytics.runner.execute import NOTEBOOK_DIR

from .conftest import demo_tables

MONTH = "2026-10"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny")
    write_clinic(demo_tables(n_patients=12, seed=1), folder)
    return folder


@pytest.fixture(scope="module", params=["local", "dask"])
def first_run(data_dir, tmp_path_factory, request):
    """A monthly run with each executor: the same tests hold for both."""
    out = tmp_path_factory.mktemp("runs")
    config = RunConfig(data_dir=data_dir, clinic_name="Tiny Physio", out_dir=out, workers=2, executor=request.param)
    return config, run_monthly(config, month=MONTH)


def _expected_patients(data_dir):
    tables = {p.stem: pd.read_csv(p, dtype=str) for p in data_dir.glob("*.csv")}
    return patients_seen(Clinic.from_frames(**tables), pd.Period(MONTH, "M"))


def test_monthly_run_makes_every_report_with_index_and_manifest(first_run, data_dir):
    config, run = first_run
    assert run.exit_code == 0
    assert run.run_dir == config.out_dir / "tiny-physio" / MONTH
    expected = _expected_patients(data_dir)
    assert expected  # the fixture has patients in the month
    made = sorted(p.stem for p in (run.run_dir / "patients").glob("*.html"))
    assert made == sorted(expected)
    assert (run.run_dir / "clinic" / "clinic_report.html").is_file()
    for html in [run.run_dir / "clinic" / "clinic_report.html", *(run.run_dir / "patients").glob("*.html")]:
        assert html.with_suffix(".ipynb").is_file()  # the executed notebook, kept for audit
        assert oct(html.stat().st_mode & 0o777) == "0o600"
    manifest = json.loads((run.run_dir / "manifest.json").read_text())
    assert manifest["counts"] == {"ok": len(expected) + 1, "skipped": 0, "failed": 0}
    assert manifest["month"] == MONTH and manifest["exit_code"] == 0
    assert manifest["parameters"]["executor"] == config.executor
    if config.executor == "dask":  # the run's own cluster talks TLS: no other account can reach its workers
        assert "Dask cluster: scheduler tls://127.0.0.1:" in (run.run_dir / "run.log").read_text()
    assert {"pandas", "papermill", "statsmodels"} <= set(manifest["versions"])
    assert manifest["parameters"]["responder_rule"]["pct_threshold"] == 30.0
    assert len(manifest["data_fingerprint"]) == 64
    index = (run.run_dir / "index.html").read_text()
    assert "Every report was made." in index
    for patient in expected:
        assert f'href="patients/{patient}.html"' in index
    assert (run.run_dir / "run.log").read_text().count(" made in ") == len(expected) + 1


def test_the_clinic_report_writes_its_figures_as_json_and_its_tables_as_csv(first_run):
    _, run = first_run
    clinic = run.run_dir / "clinic"
    summary = json.loads((clinic / "summary.json").read_text())
    assert summary["audience"] == "public" and summary["period"]["month"] == MONTH  # monthly's default: the safe one
    assert set(summary) >= {"audience", "period", "rule", "responders", "practitioners", "frequency"}
    assert summary["responders"]["cohort"] == "ended" and summary["frequency"]["design"] == "landmark"
    assert set(summary["practitioners"]) == {
        "shown", "hidden", "above_95", "below_95", "above_998", "below_998", "comparison",
    }  # fmt: skip
    # a 12-patient clinic: too few courses for the expected course, so it says why and shows no figure
    assert summary["recovery"]["available"] is False and summary["recovery"]["reason"] == "too_few_courses"
    assert summary["practitioners"]["comparison"] == "responder_rate"
    # a tiny clinic: every headline count is small, so the public summary gives none of them
    assert summary["responders"]["improved"] is None and summary["responders"]["rate"] is None
    written = {p.stem for p in (clinic / "tables").glob("*.csv")}
    assert {"activity", "outcomes_by_region", "safety", "attendance", "practitioners"} <= written
    activity = pd.read_csv(clinic / "tables" / "activity.csv", dtype=str)
    assert activity.columns.tolist()[:3] == ["indicator", "this_month", "previous_month"]


def test_every_file_and_folder_of_a_run_is_private(first_run):
    """Reports, cache, quality report, log, manifest, index: owner-only, whoever wrote them."""
    _, run = first_run
    paths = [run.run_dir, *run.run_dir.rglob("*")]
    assert any(p.suffix == ".parquet" for p in paths) and any(p.name == "quality.md" for p in paths)
    modes = {p.relative_to(run.run_dir.parent).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in paths}
    wrong = {
        path: oct(mode)
        for path, mode in modes.items()
        if mode != (0o700 if Path(run.run_dir.parent, path).is_dir() else 0o600)
    }
    assert not wrong


def test_reports_show_no_code_prompts_or_tracebacks(first_run):
    _, run = first_run
    patient = sorted((run.run_dir / "patients").glob("*.html"))[0]
    for html in (patient, run.run_dir / "clinic" / "clinic_report.html"):
        text = html.read_text()
        assert "data:image/png;base64" in text  # charts embedded: the page stands alone
        for forbidden in (
            "Traceback",
            "import needling_analytics",
            "from needling_analytics",
            "injected-parameters",
            "In&nbsp;[",
            "Warning:",
        ):
            assert forbidden not in text, (html.name, forbidden)
    patient_text = patient.read_text()
    assert re.search(r"Pain before and after", patient_text)
    assert patient.stem in patient_text


def test_a_rerun_skips_unchanged_reports_and_finishes_an_interrupted_one(first_run):
    config, run = first_run
    patients = sorted((run.run_dir / "patients").glob("*.html"))
    lost = patients[0]
    kept = {p: p.stat().st_mtime_ns for p in patients[1:]}
    lost.unlink()  # as if the run had been killed before this report was written
    stale = run.run_dir / "patients" / f".{lost.stem}.tmp-99999.ipynb"
    stale.write_text("{half written")
    again = run_monthly(config, month=MONTH)
    assert again.exit_code == 0
    statuses = {r.name: r.status for r in again.results}
    assert statuses[lost.stem] == "ok" and statuses["clinic_report"] == "skipped"
    assert all(statuses[p.stem] == "skipped" for p in kept)
    assert all(p.stat().st_mtime_ns == mtime for p, mtime in kept.items())
    assert lost.is_file() and not stale.exists()
    assert sorted(p.stem for p in (run.run_dir / "patients").glob("*.html")) == sorted(p.stem for p in patients)
    forced = {
        r.name: r.status for r in run_monthly(config, month=MONTH, force=True).results if r.name == "clinic_report"
    }
    assert forced == {"clinic_report": "ok"}


@pytest.mark.parametrize("executor", ["local", "dask"])
def test_one_broken_patient_fails_alone(data_dir, tmp_path, monkeypatch, executor):
    victim = _expected_patients(data_dir)[0]
    notebooks = tmp_path / "notebooks"
    shutil.copytree(NOTEBOOK_DIR, notebooks, ignore=shutil.ignore_patterns("*.py", "README.md"))
    book = nbformat.read(notebooks / "patient_report.ipynb", as_version=4)
    position = next(i for i, c in enumerate(book.cells) if "parameters" in c.metadata.get("tags", [])) + 1
    book.cells.insert(
        position,
        nbformat.v4.new_code_cell(f"if patient_id == {victim!r}:\n    raise RuntimeError('simulated failure')"),
    )
    nbformat.write(book, notebooks / "patient_report.ipynb")
    monkeypatch.setenv("NEEDLING_NOTEBOOKS", str(notebooks))
    config = RunConfig(
        data_dir=data_dir, clinic_name="Tiny Physio", out_dir=tmp_path / "out", workers=2, executor=executor
    )
    run = run_monthly(config, month=MONTH)
    assert run.exit_code == 1
    statuses = {r.name: r.status for r in run.results}
    assert statuses.pop(victim) == "failed"
    assert set(statuses.values()) == {"ok"}
    failed = next(r for r in run.results if r.status == "failed")
    assert "simulated failure" in failed.reason and "RuntimeError" in failed.error
    assert not (run.run_dir / "patients" / f"{victim}.html").exists()
    assert not list((run.run_dir / "patients").glob(".*tmp*"))
    index = (run.run_dir / "index.html").read_text()
    assert "1 report(s) could not be made" in index and "simulated failure" in index
    manifest = json.loads((run.run_dir / "manifest.json").read_text())
    assert manifest["counts"]["failed"] == 1 and manifest["exit_code"] == 1
    assert "simulated failure" in (run.run_dir / "run.log").read_text()


def test_unknown_parameters_are_refused_before_running(tmp_path):
    with pytest.raises(
        ParameterError, match=r"patient_report.ipynb: unknown parameter\(s\) \['colour'\]; it accepts \[.*'patient_id'"
    ):
        run_report("patient", {"patient_id": "P1", "colour": "red"}, tmp_path / "x.html", title="x")
    with pytest.raises(ParameterError, match=r"missing parameter\(s\) \['patient_id'\]"):
        run_report("patient", {}, tmp_path / "x.html", title="x")
    assert not list(tmp_path.iterdir())


def test_report_command_for_an_unknown_patient_exits_2(data_dir, tmp_path, capsys):
    assert main(["report", "patient", "NOBODY", "--data", str(data_dir), "--out", str(tmp_path)]) == 2
    assert "patient 'NOBODY' is not in the data" in capsys.readouterr().err


def test_notebooks_in_the_repository_have_no_outputs():
    for path in Path(NOTEBOOK_DIR).glob("*.ipynb"):
        book = nbformat.read(path, as_version=4)
        assert all(
            not c.get("outputs") and not c.get("execution_count") for c in book.cells if c.cell_type == "code"
        ), path.name


def test_report_command_makes_one_patient_report(data_dir, tmp_path, capsys):
    patient = _expected_patients(data_dir)[0]
    assert main(["report", "patient", patient, "--data", str(data_dir), "--out", str(tmp_path)]) == 0
    html = tmp_path / data_dir.name / "patients" / f"{patient}.html"
    assert f"Report: {html}" in capsys.readouterr().out
    text = html.read_text()
    assert patient in text and "Traceback" not in text
    others = set(pd.read_csv(data_dir / "patients.csv", dtype=str)["patient_id"]) - {patient}
    assert not any(f">{other}<" in text or f" {other} " in text for other in others)


def test_a_new_practitioner_key_remakes_the_clinic_report_only(data_dir, tmp_path):
    """The skip check covers the pseudonym key: a lost key renames practitioners, so the clinic report is stale."""
    from needling_analytics import load_clinic
    from needling_analytics.reporting.pseudonyms import KEY_FILE_NAME
    from needling_analytics.runner.config import ensure_practitioner_key
    from needling_analytics.runner.monthly import _jobs

    config = RunConfig(data_dir=data_dir, out_dir=tmp_path)
    clinic = load_clinic(data_dir)
    month = pd.Period(MONTH, "M")
    ensure_practitioner_key(config)  # the run makes the key before its jobs
    before = {j.name: j.key for j in _jobs(config, month, clinic, tmp_path / "cache", tmp_path, "fingerprint")}
    (tmp_path / KEY_FILE_NAME).unlink()  # lost: the next run makes a new key
    ensure_practitioner_key(config)
    after = {j.name: j.key for j in _jobs(config, month, clinic, tmp_path / "cache", tmp_path, "fingerprint")}
    changed = sorted(name for name in before if before[name] != after[name])
    assert changed == ["clinic_report"]


HOSTILE_IDS = ["../../etc/passwd", "a/b\\c", "CON", "x" * 300, "Zoë 01", "<script>alert(1)</script>"]


def test_hostile_patient_ids_stay_inside_the_run_folder_end_to_end(tmp_path):
    """IDs that are paths, reserved names, markup or 300 characters long: each gets its own report, inside the run.

    The run shares reports with a group (``permissions = "group"``), which must not open the cache or quarantine.
    """
    tables = demo_tables(n_patients=20, seed=1)  # 7 patients seen in the month: 6 hostile IDs and 1 plain
    seen = patients_seen(Clinic.from_frames(**tables), pd.Period(MONTH, "M"))
    renames = dict(zip(seen, HOSTILE_IDS, strict=False))
    assert len(renames) == len(HOSTILE_IDS)
    for name, frame in tables.items():
        if "patient_id" in frame.columns:
            tables[name] = frame.assign(patient_id=frame["patient_id"].replace(renames))
    write_clinic(tables, tmp_path / "data")
    config = RunConfig(data_dir=tmp_path / "data", out_dir=tmp_path / "out", workers=1, permissions="group")
    run = run_monthly(config, month=MONTH)
    assert run.exit_code == 0, [r.error for r in run.results if r.status == "failed"]
    made = {r.name: Path(r.html) for r in run.results if r.name != "clinic_report"}
    assert len(made) == len(seen) and len(set(made.values())) == len(seen)  # one distinct file per patient
    for path in made.values():
        assert path.resolve().parent == (run.run_dir / "patients").resolve()
    outside = [p for p in tmp_path.rglob("*") if not p.resolve().is_relative_to((tmp_path / "out").resolve())]
    assert all(p.resolve().is_relative_to((tmp_path / "data").resolve()) for p in outside)
    index = (run.run_dir / "index.html").read_text(encoding="utf-8")
    assert "<script>alert(1)</script>" not in index  # shown escaped, never as markup
    # permissions = "group": reports readable by the group, every patient's rows (cache, quarantine) still not
    assert {stat.S_IMODE(p.stat().st_mode) for p in made.values()} == {0o640}
    assert stat.S_IMODE((run.run_dir / "patients").stat().st_mode) == 0o750
    assert [stat.S_IMODE((run.run_dir / f).stat().st_mode) for f in ("cache", "quality")] == [0o700, 0o700]
    pages = {name: path.read_text(encoding="utf-8") for name, path in made.items()}
    for hostile in renames.values():  # each patient's own report names them, escaped
        assert sum(f"Patient {markup.escape(hostile)} " in page for page in pages.values()) == 1, hostile


def test_report_as_of_a_day_says_what_it_left_out_and_dates_the_report(data_dir, tmp_path, capsys):
    patient = _expected_patients(data_dir)[0]
    sessions = pd.read_csv(data_dir / "sessions.csv", dtype=str)
    mine = sessions[sessions["patient_id"] == patient].sort_values("session_date")
    day = mine["session_date"].iloc[1][:10]  # the day of the patient's second session
    later = (sessions["session_date"].str[:10] > day).sum()
    command = ["report", "patient", patient, "--data", str(data_dir), "--out", str(tmp_path), "--as-of", day]
    assert main(command) == 0
    printed = capsys.readouterr().out
    assert f"As of {day}: {later:,} sessions" in printed
    text = (tmp_path / data_dir.name / "patients" / f"{patient}.html").read_text()
    assert re.search(rf"Data complete to</th><td[^>]*>{pd.Timestamp(day):%-d %b %Y}</td>", text)
    assert main([*command[:-1], "2026-13-01"]) == 2
    assert "--as-of must be a date written YYYY-MM-DD" in capsys.readouterr().err
