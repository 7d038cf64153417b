"""Expected recovery in the run: the cache, a saved (pooled) model, the configuration, report hashes, fit-recovery.

The model is fitted once per run in ``write_cache`` (or loaded from the file
``recovery_model`` names), saved in the cache without patient rows, and its
predictions written as per-patient tables that each patient report reads
alone. A group of clinics fits one model on its pooled data with
``fit-recovery`` (``pool_clinics`` keeps the clinics' IDs apart) and each
clinic's run uses it; a new model file remakes the reports.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from needling_analytics import metrics
from needling_analytics.cli import main
from needling_analytics.clinic import pool_clinics
from needling_analytics.demo import write_clinic
from needling_analytics.errors import InputError
from needling_analytics.metrics.recovery_data import outcome_data
from needling_analytics.reporting import RunSettings, read_patient, read_recovery, write_cache
from needling_analytics.reporting.cache import EXPECTED_DAYS, RECOVERY_FILE, expected_days
from needling_analytics.runner import RunConfig, load_config

from .conftest import AS_OF, demo_clinic_of, demo_tables, small_clinic


@pytest.fixture(scope="module")
def run_cache(tmp_path_factory):
    """The cache of an 80-patient demo clinic (the model fitted in write_cache) and the clinic itself."""
    clinic = demo_clinic_of(n_patients=80, seed=0, as_of=AS_OF)
    cache = write_cache(clinic, tmp_path_factory.mktemp("recovery") / "cache")
    return clinic, cache


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    """A model fitted on another clinic (100 patients, seed 5) and saved: the stand-in for a group's pooled model."""
    model = metrics.fit_expected_recovery(demo_clinic_of(n_patients=100, seed=5), validate=False)
    assert model.fitted
    return model, model.save(tmp_path_factory.mktemp("model") / "group-model.json")


# ------------------------------------------------------------------ the cache


def test_the_cache_holds_the_run_model_with_no_patient_or_course_id(run_cache):
    clinic, cache = run_cache
    text = (cache / RECOVERY_FILE).read_text(encoding="utf-8")
    model = read_recovery(cache)
    assert model.fitted and model.n_courses > 50
    ids = {
        *clinic.patients["patient_id"],
        *clinic.episodes["episode_id"],
        *clinic.sessions["session_id"],
        *clinic.sessions["practitioner_id"].dropna(),
    }
    quoted = set(re.findall(r'"([^"]*)"', text))
    assert not ids & quoted, sorted(ids & quoted)[:5]
    assert not re.search(r"\b(P\d{4}|E\d{4,}|S\d{5,})\b", text)  # the demo's ID shapes, anywhere
    saved = json.loads(text)
    assert set(saved) == {*model.to_dict()}  # parameters, coding, counts and figures only
    assert "validation_predictions" not in saved  # the validation's rows stay in memory
    assert read_recovery(cache).validation_predictions.empty


def test_a_cache_without_the_model_file_is_explained(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"holds no expected-recovery model \(recovery.json\)"):
        read_recovery(tmp_path)


def test_each_patient_reads_only_their_own_expected_course(run_cache):
    clinic, cache = run_cache
    model = read_recovery(cache)
    steps_all = model.one_step(clinic)
    with_steps = steps_all.merge(clinic.episodes[["episode_id", "patient_id"]], on="episode_id")
    patient = with_steps["patient_id"].value_counts().index[0]  # the patient with the most follow-up scores
    own = set(clinic.episodes.loc[clinic.episodes["patient_id"] == patient, "episode_id"])
    data = read_patient(cache, patient)

    for name in ("expected", "expected_steps", "similar"):
        frame = getattr(data, name)
        assert len(frame) and set(frame["patient_id"]) == {patient}, name
        assert set(frame["episode_id"]) <= own, name

    expected = data.expected
    assert set(expected["kind"]) == {"like_you", "updated"}
    for _, rows in expected.groupby(["episode_id", "kind"]):
        assert rows["day"].tolist() == expected_days(model).astype(float).tolist()  # weekly, as far as validated
    like_you = expected[expected["kind"] == "like_you"]
    assert (like_you["n_conditioned"] == 0).all()
    assert (expected.loc[expected["kind"] == "updated", "n_conditioned"] > 0).any()

    # the rows are the run model's predictions for this patient's courses, both kinds
    for kind, conditional in (("like_you", False), ("updated", True)):
        predicted = model.predict(clinic, expected_days(model), conditional=conditional)
        predicted = predicted[predicted["episode_id"].isin(own)].sort_values(["episode_id", "day"])
        cached = expected[expected["kind"] == kind].sort_values(["episode_id", "day"])
        np.testing.assert_allclose(cached["expected"], predicted["expected"], rtol=1e-12)
        np.testing.assert_allclose(cached["upper"], predicted["upper"], rtol=1e-12)
    steps = data.expected_steps.sort_values(["episode_id", "day"])
    mine = steps_all[steps_all["episode_id"].isin(own)].sort_values(["episode_id", "day"])
    assert steps["position"].tolist() == mine["position"].tolist()
    assert (data.similar["n_similar"] >= 0).all()


def test_a_clinic_too_small_to_fit_gets_empty_tables_not_an_error(tmp_path):
    clinic = demo_clinic_of(n_patients=12, seed=1, as_of=AS_OF)
    cache = write_cache(clinic, tmp_path / "cache")
    model = read_recovery(cache)
    assert not model.fitted and model.reason.startswith("too_few_courses")
    patient = clinic.patients["patient_id"].iloc[0]
    data = read_patient(cache, patient)
    assert data.expected.empty and data.expected_steps.empty and data.similar.empty
    assert {"episode_id", "kind", "expected", "lower", "upper"} <= set(data.expected.columns)


def test_a_saved_model_named_by_the_settings_is_used_instead_of_fitting(saved_model, tmp_path, monkeypatch):
    model, path = saved_model
    clinic = demo_clinic_of(n_patients=30, seed=7, as_of=AS_OF)  # too small to fit its own model

    def no_fit(*args, **kwargs):
        raise AssertionError("the run fitted a model although one was given")

    monkeypatch.setattr(metrics, "fit_expected_recovery", no_fit)
    cache = write_cache(clinic, tmp_path / "cache", settings=RunSettings(recovery_model_file=str(path)))
    assert json.loads((cache / RECOVERY_FILE).read_text()) == json.loads(path.read_text())
    used = read_recovery(cache)
    pd.testing.assert_frame_equal(used.predict(clinic, [28]), model.predict(clinic, [28]))

    patient = model.one_step(clinic).merge(clinic.episodes, on="episode_id")["patient_id"].iloc[0]
    cached = read_patient(cache, patient).expected.query("kind == 'updated'").sort_values(["episode_id", "day"])
    given = model.predict(clinic, expected_days(model))
    given = given[given["episode_id"].isin(set(cached["episode_id"]))].sort_values(["episode_id", "day"])
    np.testing.assert_allclose(cached["expected"], given["expected"], rtol=1e-12)


# ------------------------------------------------------------------ the configuration


def test_recovery_model_in_the_config_is_relative_to_the_file_and_reaches_the_cache(saved_model, tmp_path):
    from needling_analytics.runner.config import report_settings

    _, path = saved_model
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "group.json").write_bytes(path.read_bytes())
    (tmp_path / "clinic.toml").write_text('data_dir = "exports"\nrecovery_model = "models/group.json"\n')
    config = load_config(tmp_path / "clinic.toml")
    assert config.recovery_model == (tmp_path / "models" / "group.json").resolve()
    assert report_settings(config).recovery_model_file == str(config.recovery_model)
    assert load_config_without_model(tmp_path).recovery_model is None
    assert report_settings(load_config_without_model(tmp_path)).recovery_model_file == ""


def load_config_without_model(folder: Path) -> RunConfig:
    (folder / "plain.toml").write_text('data_dir = "exports"\n')
    return load_config(folder / "plain.toml")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, r"`recovery_model` names no file"),
        ("not json", r"`recovery_model` is not an expected-recovery model"),
        ('{"outcome": "pain"}', r"`recovery_model` is not an expected-recovery model"),
    ],
)
def test_a_missing_or_broken_recovery_model_is_an_input_error_naming_the_file(tmp_path, content, message):
    path = tmp_path / "group-model.json"
    if content is not None:
        path.write_text(content)
    (tmp_path / "clinic.toml").write_text('data_dir = "exports"\nrecovery_model = "group-model.json"\n')
    with pytest.raises(InputError, match=message) as caught:
        load_config(tmp_path / "clinic.toml")
    assert str(path.resolve()) in str(caught.value) and caught.value.path == path.resolve()


def test_a_model_of_another_outcome_is_refused(tmp_path):
    """The reports' expected course is of pain: a questionnaire's model would be drawn on the pain chart."""
    model = metrics.ExpectedRecovery(outcome="NDI", better="lower", scale=(0.0, 100.0), level=0.8)
    path = model.save(tmp_path / "ndi.json")
    with pytest.raises(InputError, match=r"a model of NDI, but reports show the expected course of pain"):
        RunConfig(data_dir=tmp_path, recovery_model=path)


def test_the_command_line_refuses_a_missing_model_before_loading_anything(tmp_path, capsys):
    missing = tmp_path / "nowhere.json"
    code = main(["monthly", "--data", str(tmp_path / "no-data"), "--recovery-model", str(missing)])
    assert code == 2
    error = capsys.readouterr().err
    assert str(missing) in error and "`recovery_model` names no file" in error


# ------------------------------------------------------------------ report hashes and the manifest


def test_a_new_model_file_remakes_every_report_and_the_manifest_records_it(saved_model, tmp_path):
    from needling_analytics.runner.monthly import _jobs, _manifest

    _, path = saved_model
    clinic = demo_clinic_of(n_patients=12, seed=1, as_of=AS_OF)
    month = pd.Period("2026-10", "M")
    model_file = tmp_path / "group.json"
    model_file.write_bytes(path.read_bytes())

    def keys(**options) -> dict[str, str]:
        config = RunConfig(data_dir=tmp_path, out_dir=tmp_path, show_practitioner_ids=True, **options)
        return {j.name: j.key for j in _jobs(config, month, clinic, tmp_path / "cache", tmp_path, "fingerprint")}

    first = keys(recovery_model=model_file)
    assert len(first) > 1  # the clinic report and at least one patient
    assert keys(recovery_model=model_file) == first  # the same file: reports are skipped
    assert keys() != first and all(keys()[name] != first[name] for name in first)  # without the model
    refitted = json.loads(model_file.read_text())
    refitted["coefficients"][0] += 0.01  # the group refitted its model
    model_file.write_text(json.dumps(refitted))
    second = keys(recovery_model=model_file)
    assert all(second[name] != first[name] for name in first)  # every report is remade

    config = RunConfig(data_dir=tmp_path, out_dir=tmp_path, recovery_model=model_file)
    manifest = _manifest(config, month, pd.Timestamp.now(tz="UTC"), [], 0, "fingerprint", tmp_path)
    assert manifest["parameters"]["recovery_model"] == str(model_file.resolve())
    assert manifest["parameters"]["recovery_model_sha256"] == hashlib.sha256(model_file.read_bytes()).hexdigest()
    plain = _manifest(RunConfig(data_dir=tmp_path), month, pd.Timestamp.now(tz="UTC"), [], 0, "", tmp_path)
    assert plain["parameters"]["recovery_model"] is None and plain["parameters"]["recovery_model_sha256"] is None


# ------------------------------------------------------------------ a group's pooled model


def test_pool_clinics_keeps_two_clinics_same_ids_apart():
    sessions = pd.DataFrame(
        {"episode_id": ["E1", "E1"], "session_date": ["2026-01-05", "2026-01-12"], "pain_pre": [7.0, 4.0]}
    )
    north = small_clinic(sessions=sessions, as_of="2026-06-30")
    south = small_clinic(
        sessions=sessions.assign(pain_pre=[5.0, 5.0]),
        as_of="2026-09-30",
        journal=pd.DataFrame({"patient_id": ["P1"], "entry_date": ["2026-01-06"], "pain": [5.0]}),
    )
    pooled = pool_clinics({"north": north, "south": south})
    assert pooled.patients["patient_id"].tolist() == ["north/P1", "south/P1"]
    assert pooled.episodes["episode_id"].tolist() == ["north/E1", "south/E1"]
    assert pooled.sessions["session_id"].tolist() == ["north/S0", "north/S1", "south/S0", "south/S1"]
    assert pooled.sessions["practitioner_id"].tolist() == ["north/PR1"] * 2 + ["south/PR1"] * 2
    assert pooled.journal["patient_id"].tolist() == ["south/P1"]  # a table only one clinic supplied
    assert pooled.as_of == pd.Timestamp("2026-09-30")
    outcomes = metrics.episode_pain(pooled).set_index("episode_id")
    assert outcomes.loc["north/E1", "reduction"] == 3.0 and outcomes.loc["south/E1", "reduction"] == 0.0
    with pytest.raises(ValueError, match="at least one clinic"):
        pool_clinics({})


def test_fit_recovery_pools_two_demo_clinics_prints_the_figures_and_saves_a_loadable_model(tmp_path, capsys):
    """Two demo clinics (as ``demo-data --seed 1/2 --patients 60`` writes them): the same IDs (P0001...) in both."""
    folders = {seed: tmp_path / f"clinic{seed}" for seed in (1, 2)}
    for seed, folder in folders.items():
        write_clinic(demo_tables(n_patients=60, seed=seed), folder)
    out = tmp_path / "models" / "group.json"
    args = ["fit-recovery", "--data", str(folders[1]), "--data", str(folders[2]), "--out", str(out)]
    assert main(args) == 0
    printed = capsys.readouterr().out

    model = metrics.load_expected_recovery(out)
    separate = sum(outcome_data(demo_clinic_of(n_patients=60, seed=s), "pain")[1]["course"].nunique() for s in folders)
    assert model.n_courses == separate  # no course of one clinic merged with the other's same ID
    assert f"Expected recovery of pain: {model.n_courses:,} courses of care" in printed
    assert f"{model.n_observations:,} follow-up scores from 2 clinics" in printed
    check = model.validation
    assert check["status"] == "done" and check["n_courses_test"] >= 20  # enough courses to validate
    assert f"Validation on {check['n_courses_test']:,} later courses: {check['coverage']:.0%}" in printed
    assert f"typical error {check['mae_model']:.2f} points against {check['mae_carry_forward']:.2f}" in printed
    assert f"Usable in reports: {'yes' if model.available else 'no (' + model.reason + ')'}" in printed
    assert f"Saved: {out}" in printed
    assert not re.search(r"\b(P\d{4}|E\d{4,})\b", out.read_text())  # parameters only
    RunConfig(data_dir=folders[1], recovery_model=out)  # a monthly run accepts it


def test_the_cache_holds_expected_courses_only_as_far_as_the_validation_checked():
    from needling_analytics.metrics import ExpectedRecovery

    model = ExpectedRecovery(outcome="pain", better="lower", scale=(0.0, 10.0), level=0.8)
    assert expected_days(model).tolist() == EXPECTED_DAYS.tolist()  # not validated: nothing to cut by
    model.validation = {"max_day_checked": 45.0}
    assert expected_days(model).tolist() == [0, 7, 14, 21, 28, 35, 42, 49]  # to the week after day 45
    model.validation = {"max_day_checked": 10.0}
    assert expected_days(model).max() == 28  # at least four weeks
