"""Who may read what the tool writes: owner only by default, the group when configured."""

from __future__ import annotations

import os
import stat

import pandas as pd
import pytest

from needling_analytics.cli import main
from needling_analytics.errors import InputError
from needling_analytics.privacy.permissions import file_permissions
from needling_analytics.runner import RunConfig, load_config

from .conftest import AS_OF, VALID


def modes(folder) -> dict[str, int]:
    return {p.relative_to(folder).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in [folder, *folder.rglob("*")]}


@pytest.mark.parametrize(("level", "file_mode", "folder_mode"), [("owner", 0o600, 0o700), ("group", 0o640, 0o750)])
def test_files_and_folders_created_inside_get_the_level(tmp_path, level, file_mode, folder_mode):
    previous = os.umask(0o022)
    try:
        with file_permissions(level):
            (tmp_path / "a" / "b").mkdir(parents=True)
            (tmp_path / "a" / "b" / "report.html").write_text("x")
            pd.DataFrame({"x": [1]}).to_parquet(tmp_path / "a" / "t.parquet")
        assert os.umask(0o022) == 0o022  # the caller's mask is back
    finally:
        os.umask(previous)
    found = modes(tmp_path / "a")
    assert found == {".": folder_mode, "b": folder_mode, "b/report.html": file_mode, "t.parquet": file_mode}


def test_an_unknown_level_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="'owner'.*'group'.*'everyone'"), file_permissions("everyone"):
        pass
    with pytest.raises(InputError, match="permissions"):
        RunConfig(data_dir=tmp_path, permissions="world")
    (tmp_path / "clinic.toml").write_text(f'data_dir = "{tmp_path}"\npermissions = "group"\n')
    assert load_config(tmp_path / "clinic.toml").permissions == "group"


@pytest.mark.parametrize(
    ("option", "file_mode", "folder_mode"), [([], 0o600, 0o700), (["--permissions", "group"], 0o640, 0o750)]
)
def test_validate_writes_its_quality_report_and_quarantine_privately(
    make_clinic, tmp_path, option, file_mode, folder_mode
):
    sessions = (
        VALID["sessions"].rstrip()
        + "\n        S9,E1,0012,PR1,2026-01-20,,attended,11,12,,,"  # pain 11: cleared
        + "\n        S10,E9,0012,PR1,2026-01-21,,attended,5,4,,,\n"  # unknown episode: quarantined
    )
    out = tmp_path / "validation"
    previous = os.umask(0o022)  # a typical default: files readable by everyone
    try:
        folder = make_clinic(sessions=sessions)
        assert main(["validate", str(folder), "--out", str(out), "--as-of", AS_OF, *option]) == 0
    finally:
        os.umask(previous)
    found = modes(out)
    assert {"quarantine/sessions.csv", "cleared.csv", "quality.md"} <= set(found)
    assert {p: m for p, m in found.items() if m != (folder_mode if (out / p).is_dir() else file_mode)} == {}
