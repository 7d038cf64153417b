"""Each shipped source, end to end: a system's export as the package writes it, then the monthly run.

This is what a clinic does on its first day: `demo-data --format X` stands in
for the export of its practice-management system (Cliniko, Jane App), its
research database (REDCap) or its EHR (FHIR), and the scheduled monthly run
must make every report from it with the mapping alone.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from needling_analytics.cli import main

MONTH = "2026-10"
pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    ("fmt", "data", "mapping"),
    [
        ("cliniko", ".", None),  # the folder's own mapping.yaml is used
        ("jane", ".", None),
        ("redcap", ".", None),
        ("fhir", "bundle.json", "mapping.yaml"),
    ],
)
def test_a_system_export_makes_the_monthly_reports(fmt, data, mapping, tmp_path, capsys):
    export = tmp_path / fmt
    assert main(["demo-data", "--format", fmt, "--out", str(export), "--patients", "25", "--seed", "2"]) == 0
    out = tmp_path / "reports"
    args = ["monthly", "--month", MONTH, "--data", str(export / data), "--out", str(out), "--workers", "2"]
    args += ["--clinic-name", f"{fmt} clinic"] + (["--mapping", str(export / mapping)] if mapping else [])
    assert main(args) == 0, capsys.readouterr()
    run = out / f"{fmt}-clinic" / MONTH
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["counts"]["failed"] == 0 and manifest["counts"]["ok"] >= 2
    clinic_html = (run / "clinic" / "clinic_report.html").read_text(encoding="utf-8")
    assert "Traceback" not in clinic_html
    patients = sorted((run / "patients").glob("*.html"))
    assert len(patients) == manifest["counts"]["ok"] - 1
    quality = json.loads((run / "quality" / "quality.json").read_text())
    tables = pd.DataFrame(quality["tables"]).groupby("table")["rows_kept"].sum()
    assert tables["sessions"] > 0 and tables["episodes"] > 0
    assert quality["rows_quarantined"] == 0, quality["top_problems"]
