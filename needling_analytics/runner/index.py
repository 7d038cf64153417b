"""The run's ``index.html``: every report, its status, and the data-quality summary."""

from __future__ import annotations

import html
from pathlib import Path

_STYLE = """
body { font-family: -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; margin: 2rem auto; max-width: 60rem; color: #1f2933; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; } h2 { font-size: 1.2rem; margin-top: 2rem; }
.meta { color: #52606d; } table { border-collapse: collapse; width: 100%; margin-top: 0.5rem; }
th, td { text-align: left; padding: 0.35rem 0.6rem; border-bottom: 1px solid #e4e7eb; } th { background: #f5f7fa; }
.ok { color: #0b6e4f; } .failed { color: #b42318; font-weight: 600; } .skipped { color: #52606d; }
.banner { padding: 0.7rem 1rem; border-radius: 6px; margin: 1rem 0; } .good { background: #e6f4ea; } .bad { background: #fdecea; }
"""

_STATUS_WORDS = {"ok": "made", "skipped": "unchanged (kept from the last run)", "failed": "could not be made"}


def _row(report: dict, label: str) -> str:
    status = report["status"]
    link = (
        f'<a href="{html.escape(report["html"])}">{html.escape(label)}</a>'
        if report.get("html") and status != "failed"
        else html.escape(label)
    )
    note = html.escape(report.get("reason") or "") if status == "failed" else ""
    return f'<tr><td>{link}</td><td class="{status}">{_STATUS_WORDS[status]}</td><td>{note}</td><td>{report["seconds"]:.1f} s</td></tr>'


def write_index(run_dir: Path, manifest: dict, *, jobs=(), quality=None) -> Path:
    """Write ``index.html`` for a run from its manifest; return its path."""
    labels = {job.name: job.label for job in jobs}
    reports = manifest["reports"]
    failed = manifest["counts"]["failed"]
    title = f"Monthly reports: {manifest['clinic'] or 'clinic'}, {manifest['month']}"
    if manifest["exit_code"] == 130:
        banner = '<div class="banner bad">The run was interrupted. Reports already made are kept; run it again to make the rest.</div>'
    elif failed:
        banner = f'<div class="banner bad">{failed} report(s) could not be made; the reason is given beside each. Details are in run.log.</div>'
    else:
        banner = '<div class="banner good">Every report was made.</div>'
    clinic_rows = [_row(r, labels.get(r["name"], "Clinic report")) for r in reports if r["name"] == "clinic_report"]
    patient_rows = [_row(r, labels.get(r["name"], r["name"])) for r in reports if r["name"] != "clinic_report"]
    head = "<tr><th>Report</th><th>Status</th><th>Why not</th><th>Time</th></tr>"
    parts = [
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p class='meta'>Run started {html.escape(manifest['started'])}, finished {html.escape(manifest['finished'])}. needling-analytics {html.escape(manifest['versions']['needling-analytics'])}.</p>",
        banner,
        "<h2>Clinic report</h2>",
        f"<table>{head}{''.join(clinic_rows) or '<tr><td colspan=4>Not made in this run.</td></tr>'}</table>",
        f"<h2>Patient reports ({len(patient_rows)})</h2>",
        "<p class='meta'>One report for each patient with an attended session in the month. Each holds that patient's data only.</p>",
        f"<table>{head}{''.join(patient_rows) or '<tr><td colspan=4>No patient attended in this month.</td></tr>'}</table>",
    ]
    if quality is not None:
        table = quality.tables[quality.tables["supplied"]][
            ["table", "rows_read", "rows_kept", "rows_quarantined", "duplicates_collapsed"]
        ]
        table.columns = ["Table", "Rows read", "Rows kept", "Rows set aside", "Exact duplicates removed"]
        verdict = (
            "All rows passed the checks."
            if quality.is_clean
            else f"{quality.rows_quarantined:,} row(s) were set aside because of errors; see quality/quality.md and the quarantine folder for each row and the reason."
        )
        parts += ["<h2>Data quality</h2>", f"<p>{html.escape(verdict)}</p>", table.to_html(index=False, border=0)]
    parts.append(
        "<p class='meta'>Files: manifest.json (what ran, with versions and timings), run.log (details of any failure).</p></body></html>"
    )
    path = run_dir / "index.html"
    path.write_text("\n".join(parts), encoding="utf-8")
    return path
