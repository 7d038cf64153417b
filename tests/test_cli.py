"""The command line: exit codes, messages and files written."""

from __future__ import annotations

import json

import pytest

from needling_analytics.cli import main

from .conftest import AS_OF, VALID


def test_validate_clean_clinic_exits_0_and_writes_the_report(make_clinic, tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["validate", str(make_clinic()), "--out", str(out), "--as-of", AS_OF, "--strict"]) == 0
    printed = capsys.readouterr().out
    assert "Result: clean: every row and value was kept." in printed
    report = json.loads((out / "quality.json").read_text())
    assert report["clean"] is True and report["as_of"] == AS_OF
    assert {t["table"] for t in report["tables"]} >= {"patients", "episodes", "sessions"}
    assert not (out / "quarantine").exists()


def test_validate_with_quarantined_rows_exits_1_only_when_strict(make_clinic, tmp_path, capsys):
    sessions = VALID["sessions"].rstrip() + "\n        S9,E9,0012,PR1,2026-01-20,,attended,11,4,,,\n"
    folder = make_clinic(sessions=sessions)
    out = tmp_path / "report"
    assert main(["validate", str(folder), "--out", str(out), "--as-of", AS_OF]) == 0
    assert main(["validate", str(folder), "--out", str(out), "--as-of", AS_OF, "--strict"]) == 1
    printed = capsys.readouterr().out
    assert (
        "sessions: 1 x unknown_episode in episode_id -- e.g. sessions.csv line 6: episode_id 'E9' is not in the episodes table"
        in printed
    )
    assert "1 row(s) quarantined, 0 value(s) cleared" in printed
    assert (out / "quarantine" / "sessions.csv").is_file()


def test_validate_strict_fails_on_a_cleared_value_too(make_clinic, tmp_path, capsys):
    sessions = VALID["sessions"].rstrip() + "\n        S9,E1,0012,PR1,2026-01-20,,attended,11,4,,,\n"
    out = tmp_path / "report"
    assert main(["validate", str(make_clinic(sessions=sessions)), "--out", str(out), "--as-of", AS_OF, "--strict"]) == 1
    printed = capsys.readouterr().out
    assert "0 row(s) quarantined, 1 value(s) cleared" in printed
    cleared = (out / "cleared.csv").read_text()
    assert (
        "line 6" in cleared
        and "11 is outside the allowed range 0 to 10 (NPRS points (0-10)); the value was cleared" in cleared
    )
    assert not (out / "quarantine").exists() or not any((out / "quarantine").iterdir())


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda folder: folder / "missing", r"folder not found"),
        (lambda folder: (folder / "sessions.csv").unlink() or folder, r"required table 'sessions' not found"),
        (
            lambda folder: (folder / "patients.csv").write_bytes(b"\x00\x01\x02") and folder,
            r"patients.csv: the file holds binary data",
        ),
    ],
)
def test_unreadable_input_exits_2_with_a_message(make_clinic, tmp_path, capsys, setup, message):
    import re

    target = setup(make_clinic())
    assert main(["validate", str(target), "--out", str(tmp_path / "r"), "--as-of", AS_OF]) == 2
    err = capsys.readouterr().err
    assert err.startswith("needling-analytics: ")
    assert re.search(message, err)
    assert "What to do:" in err


def test_demo_data_then_validate_is_clean(tmp_path, capsys):
    folder = tmp_path / "demo"
    assert main(["demo-data", "--out", str(folder), "--patients", "40", "--seed", "3"]) == 0
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        f"{t}.csv" for t in ["patients", "episodes", "sessions", "rom", "proms", "adverse_events", "journal"]
    )
    assert main(["validate", str(folder), "--out", str(tmp_path / "r"), "--strict"]) == 0
    assert "Result: clean" in capsys.readouterr().out


def test_practitioners_command_without_recorded_practitioners(make_clinic, tmp_path, capsys):
    sessions = VALID["sessions"].replace(",PR1,", ",,").replace(",PR2,", ",,")
    data = make_clinic(sessions=sessions)
    assert main(["practitioners", "--data", str(data), "--out", str(tmp_path / "out")]) == 0
    assert "Practitioners are not recorded in this clinic's data" in capsys.readouterr().out

    data = make_clinic(sessions=VALID["sessions"].replace(",PR2,", ",,"))
    assert main(["practitioners", "--data", str(data), "--out", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    assert "PR1" in printed and "1 session has no practitioner recorded." in printed
