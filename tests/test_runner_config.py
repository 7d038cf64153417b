"""Run configuration, safe file names and the choice of patients for a month."""

from __future__ import annotations

import pandas as pd
import pytest

from needling_analytics.clinic import Clinic
from needling_analytics.errors import InputError
from needling_analytics.metrics import ResponderRule
from needling_analytics.runner import RunConfig, load_config, patients_seen, previous_month, safe_name


@pytest.mark.parametrize(
    "identifier",
    ["../../etc/x", "a/b\\c", "nul\x00byte", "CON", "con.txt", "x" * 300, "", "  ", "Ünïcødé id", "..", "-rf"],
)
def test_safe_name_stays_inside_its_folder(tmp_path, identifier):
    name = safe_name(identifier)
    assert name and len(name) <= 100
    assert set(name) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
    path = (tmp_path / f"{name}.html").resolve()
    assert path.parent == tmp_path.resolve()
    path.write_text("ok")  # a real file can be made with it


def test_safe_name_keeps_plain_ids_and_separates_lookalikes():
    assert safe_name("P0001") == "P0001"
    assert safe_name("a/b") != safe_name("a_b") != safe_name("a?b")
    assert safe_name("a/b") == safe_name("a/b")  # stable between runs


def test_config_file_with_relative_paths_and_rule(tmp_path):
    (tmp_path / "clinic.toml").write_text(
        'clinic_name = "Harbour Physio"\ndata_dir = "exports"\nout_dir = "out"\nworkers = 3\n[responder_rule]\npct_threshold = 50.0\nrequire = "either"\n'
    )
    config = load_config(tmp_path / "clinic.toml")
    assert config.data_dir == (tmp_path / "exports").resolve() and config.out_dir == (tmp_path / "out").resolve()
    assert config.workers == 3 and config.rule == ResponderRule(pct_threshold=50.0, require="either")
    assert config.clinic_slug == "harbour-physio"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('data_dir = "x"\nworker = 2\n', r"unknown setting\(s\) \['worker'\]"),
        ('clinic_name = "x"\n', r"`data_dir` is required"),
        ('data_dir = "x"\nworkers = 0\n', r"`workers` must be a whole number of at least 1, got 0"),
        ('data_dir = "x"\n[responder_rule]\nrequire = "all"\n', r"`require` must be 'both' or 'either'"),
        ("data_dir = \n", r"not valid TOML"),
        ('data_dir = "x"\ntimezone = "Melbourne"\n', r"`timezone` 'Melbourne' is not a time zone"),
        ('data_dir = "x"\nrecovery_model = 5\n', r"`recovery_model` must be a path in quotes, got 5"),
        ("data_dir = 1\n", r"`data_dir` must be a path in quotes, got 1"),
    ],
)
def test_config_mistakes_are_explained(tmp_path, text, message):
    (tmp_path / "clinic.toml").write_text(text)
    with pytest.raises(InputError, match=message):
        load_config(tmp_path / "clinic.toml")


def test_the_clinic_time_zone_comes_from_the_configuration_and_the_command_line_wins(tmp_path):
    from needling_analytics.cli import _run_config, build_parser

    (tmp_path / "clinic.toml").write_text('data_dir = "x"\ntimezone = "Australia/Perth"\n')
    assert load_config(tmp_path / "clinic.toml").timezone == "Australia/Perth"
    args = build_parser().parse_args(["monthly", "--config", str(tmp_path / "clinic.toml")])
    assert _run_config(args).timezone == "Australia/Perth"
    args = build_parser().parse_args(["monthly", "--config", str(tmp_path / "clinic.toml"), "--timezone", "UTC"])
    assert _run_config(args).timezone == "UTC"


def test_the_audience_defaults_to_public_comes_from_the_configuration_and_the_command_line_wins(tmp_path):
    from needling_analytics.cli import _run_config, build_parser
    from needling_analytics.privacy.suppression import Disclosure

    (tmp_path / "plain.toml").write_text('data_dir = "x"\n')
    args = build_parser().parse_args(["monthly", "--config", str(tmp_path / "plain.toml")])
    assert _run_config(args).disclosure_policy == Disclosure("public", "suppress", 11)  # the safe default
    (tmp_path / "clinic.toml").write_text('data_dir = "x"\naudience = "staff"\ndisclosure = "round"\n')
    args = build_parser().parse_args(["monthly", "--config", str(tmp_path / "clinic.toml")])
    assert _run_config(args).disclosure_policy == Disclosure("staff", "round", 11)
    args = build_parser().parse_args(
        ["monthly", "--config", str(tmp_path / "clinic.toml"), "--audience", "owner", "--disclosure", "suppress"]
    )
    assert _run_config(args).disclosure_policy == Disclosure("owner", "suppress", 11)
    (tmp_path / "bad.toml").write_text('data_dir = "x"\naudience = "everyone"\n')
    with pytest.raises((InputError, ValueError), match="audience"):
        load_config(tmp_path / "bad.toml")


def test_previous_month():
    assert str(previous_month(pd.Timestamp("2026-11-28"))) == "2026-10"
    assert str(previous_month(pd.Timestamp("2026-01-03"))) == "2025-12"


def test_patients_seen_are_those_with_an_attended_session_in_the_month():
    sessions = pd.DataFrame(
        [
            ("S1", "E1", "P1", "2026-10-05", "attended"),
            ("S2", "E2", "P2", "2026-10-06", "cancelled"),
            ("S3", "E3", "P3", "2026-09-30", "attended"),
            ("S4", "E4", "P4", "2026-10-31", "attended"),
        ],
        columns=["session_id", "episode_id", "patient_id", "session_date", "status"],
    ).assign(practitioner_id="PR1")
    episodes = sessions[["episode_id", "patient_id"]].assign(start_date="2026-09-01")
    clinic = Clinic.from_frames(patients=sessions[["patient_id"]], episodes=episodes, sessions=sessions)
    assert patients_seen(clinic, pd.Period("2026-10", "M")) == ["P1", "P4"]


def test_paths_become_absolute_because_notebooks_run_in_their_own_folder(tmp_path, monkeypatch):
    from needling_analytics.runner import RunConfig

    monkeypatch.chdir(tmp_path)
    config = RunConfig(data_dir="data/demo", out_dir="reports", mapping="map.yaml")
    assert config.data_dir == tmp_path / "data" / "demo"
    assert config.out_dir == tmp_path / "reports" and config.mapping == tmp_path / "map.yaml"


def test_min_baseline_from_the_config_reaches_clinic_and_patient_reports_alike(tmp_path):
    """Verdict 7 of issue 10: the rule travels in the run's cache only, all four fields, to every report."""
    import json

    from needling_analytics import reporting
    from needling_analytics.cohort import episode_outcomes
    from needling_analytics.reporting import read_patient, read_settings, write_cache
    from needling_analytics.runner.config import clinic_parameters, patient_parameters, report_settings

    (tmp_path / "clinic.toml").write_text(
        'data_dir = "exports"\nout_dir = "out"\n[responder_rule]\nabs_threshold = 2.0\nmin_baseline = 3\n'
    )
    config = load_config(tmp_path / "clinic.toml")
    assert config.rule == ResponderRule(abs_threshold=2.0, pct_threshold=30.0, require="both", min_baseline=3.0)

    # P1 goes 2 -> 0 (a 2-point, 100% fall: improved under the default rule, but starts below 3);
    # P2 goes 8 -> 2 (improved under either rule).
    sessions = pd.DataFrame(
        [
            ("S1", "E1", "P1", "2026-10-05", 2.0),
            ("S2", "E1", "P1", "2026-10-12", 0.0),
            ("S3", "E2", "P2", "2026-10-05", 8.0),
            ("S4", "E2", "P2", "2026-10-12", 2.0),
        ],
        columns=["session_id", "episode_id", "patient_id", "session_date", "pain_pre"],
    )
    episodes = pd.DataFrame(
        {"episode_id": ["E1", "E2"], "patient_id": ["P1", "P2"], "start_date": "2026-10-05", "end_date": "2026-10-12"}
    )
    clinic = Clinic.from_frames(
        patients=pd.DataFrame({"patient_id": ["P1", "P2"]}), episodes=episodes, sessions=sessions, as_of="2026-11-28"
    )
    cache = write_cache(clinic, tmp_path / "cache", settings=report_settings(config))

    parameters = clinic_parameters("2026-10", cache)
    assert not {"abs_threshold", "pct_threshold", "require", "min_baseline", "rule"} & set(parameters)
    assert not (tmp_path / "out").exists()  # building parameters writes no file (no key file either)
    patient_parameters("P1", cache)
    assert not (tmp_path / "out").exists()

    stored = json.loads((cache / "cache.json").read_text(encoding="utf-8"))["rule"]
    assert stored == {"abs_threshold": 2.0, "pct_threshold": 30.0, "require": "both", "min_baseline": 3.0}
    clinic_rule = reporting.run_settings(cache_dir=parameters["cache_dir"]).rule  # what the clinic report does
    patient = read_patient(cache, "P1")  # what the patient report does
    assert clinic_rule == patient.rule == read_settings(cache).rule == config.rule
    # the research notebook given the cache: the run's rule, whatever its own parameters say
    assert reporting.run_settings(cache_dir=str(cache), rule=ResponderRule(abs_threshold=5.0)).rule == config.rule

    # ... and so both reports reach the same verdict on P1: not assessed (starts below 3).
    assert patient.episodes.set_index("episode_id").loc["E1", "assessment"] == "baseline_too_low"
    outcomes = episode_outcomes(reporting.open_clinic(cache_dir=parameters["cache_dir"]), rule=clinic_rule)
    assert outcomes.set_index("episode_id")["assessment"].to_dict() == {"E1": "baseline_too_low", "E2": "responder"}
    assert reporting.run_settings().rule == ResponderRule()  # a report built straight from data: the default


def test_every_run_setting_reaches_the_reports_through_the_cache_only(tmp_path):
    """Issue 14: rule, disclosure, clinic name and practitioner settings are written once, into the cache.

    Notebook parameters carry the cache's path, the month and IDs only, and building them (or the
    settings) creates no file: the practitioner key is made by the run's set-up step.
    """
    from needling_analytics.demo import generate_clinic
    from needling_analytics.reporting import Disclosure, read_settings, run_settings, write_cache
    from needling_analytics.runner.config import (
        clinic_parameters,
        ensure_practitioner_key,
        patient_parameters,
        report_settings,
    )

    config = RunConfig(
        data_dir=tmp_path / "exports",
        out_dir=tmp_path / "out",
        clinic_name="Harbour Physio",
        audience="staff",
        disclosure="round",
        min_cell_size=5,
        min_episodes=3,
        rule=ResponderRule(abs_threshold=3.0, min_baseline=2.0),
    )
    settings = report_settings(config)
    assert not (tmp_path / "out").exists()  # pure: the key file is only named
    assert settings.practitioner_key_file == str(tmp_path / "out" / ".practitioner-key")
    assert clinic_parameters("2026-10", tmp_path / "cache", results_dir=tmp_path / "r") == {
        "month": "2026-10",
        "cache_dir": str(tmp_path / "cache"),
        "results_dir": str(tmp_path / "r"),
    }
    assert patient_parameters("P0001", tmp_path / "cache") == {
        "patient_id": "P0001",
        "cache_dir": str(tmp_path / "cache"),
    }
    assert not (tmp_path / "out").exists()

    ensure_practitioner_key(config)  # the set-up step
    clinic = Clinic.from_frames(**generate_clinic(n_patients=10, seed=3))
    cache = write_cache(clinic, tmp_path / "cache", settings=settings)
    assert read_settings(cache) == settings
    assert settings.disclosure == Disclosure("staff", "round", 5) and settings.clinic_name == "Harbour Physio"
    # a report given the cache reads the run's settings; its by-hand arguments are for reports without one
    assert run_settings(cache_dir=str(cache), audience="owner", clinic_name="Other", min_episodes=50) == settings
    by_hand = run_settings(audience="owner", clinic_name="By hand")
    assert by_hand.disclosure == Disclosure("owner") and by_hand.clinic_name == "By hand"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"executor": "threads"}, "`executor` must be 'local'"),
        ({"scheduler": "tls://10.0.0.5:8786"}, 'give it with `executor = "dask"`'),
        ({"executor": "dask", "scheduler": "10.0.0.5:8786"}, "must be an address like tls://HOST:8786"),
        ({"executor": "dask", "scheduler": "tcp://10.0.0.5:8786"}, "unencrypted"),
        ({"executor": "dask", "scheduler": "tls://10.0.0.5:8786"}, "needs the certificate files tls_ca_file"),
        ({"executor": "dask", "insecure": "yes"}, "`insecure` must be true or false"),
    ],
)
def test_scheduler_addresses_that_would_expose_patient_data_are_refused(tmp_path, settings, message):
    with pytest.raises(InputError, match=message):
        RunConfig(data_dir=tmp_path, **settings)


def test_plain_tcp_needs_insecure_even_on_this_computer(tmp_path):
    """Dask's TCP has no authentication: another account on the scheduler's computer could run code."""
    with pytest.raises(InputError, match="another account on its computer"):
        RunConfig(data_dir=tmp_path, executor="dask", scheduler="tcp://127.0.0.1:8786")
    local = RunConfig(data_dir=tmp_path, executor="dask", scheduler="tcp://127.0.0.1:8786", insecure=True)
    remote = RunConfig(data_dir=tmp_path, executor="dask", scheduler="tcp://10.0.0.5:8786", insecure=True)
    assert local.insecure and remote.insecure


def test_tls_scheduler_needs_existing_certificate_files_named_in_the_config(tmp_path):
    for name in ("ca.pem", "client.pem"):
        (tmp_path / name).write_text("-----BEGIN CERTIFICATE-----\n")
    (tmp_path / "clinic.toml").write_text(
        'data_dir = "."\nexecutor = "dask"\nscheduler = "tls://10.0.0.5:8786"\n'
        'tls_ca_file = "ca.pem"\ntls_cert_file = "client.pem"\ntls_key_file = "client-key.pem"\n'
    )
    with pytest.raises(InputError, match="`tls_key_file` names no file") as caught:
        load_config(tmp_path / "clinic.toml")
    assert str(tmp_path / "client-key.pem") in str(caught.value)
    (tmp_path / "client-key.pem").write_text("-----BEGIN PRIVATE KEY-----\n")
    config = load_config(tmp_path / "clinic.toml")
    assert config.tls_ca_file == (tmp_path / "ca.pem").resolve() and config.executor == "dask"


def test_the_command_line_refuses_a_remote_plain_tcp_scheduler_with_exit_2(tmp_path, capsys):
    from needling_analytics.cli import main

    code = main(["monthly", "--data", str(tmp_path), "--executor", "dask", "--scheduler", "tcp://10.0.0.5:8786"])
    assert code == 2
    error = capsys.readouterr().err
    assert "unencrypted" in error and "--insecure" in error


def test_pdf_without_weasyprint_says_how_to_install_it_and_exits_2(tmp_path, monkeypatch, capsys):
    import importlib.util

    from needling_analytics.cli import main

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "weasyprint" else real(name, *a))
    with pytest.raises(InputError, match=r"pip install 'needling-analytics\[pdf\]'"):
        RunConfig(data_dir=tmp_path, format="pdf")
    assert RunConfig(data_dir=tmp_path, format="html").format == "html"  # HTML never needs it
    assert main(["report", "clinic", "--month", "2026-10", "--data", str(tmp_path), "--format", "both"]) == 2
    assert "WeasyPrint" in capsys.readouterr().err
