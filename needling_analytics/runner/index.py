"""The run's ``index.html``: the month's headline figures, every report with its status and a search box,
and the data-quality summary. One self-contained page (inline style and script, nothing fetched)."""

from __future__ import annotations

import html
import json
from pathlib import Path

_STYLE = """
body { font-family: -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; margin: 2rem auto; max-width: 60rem; color: #1f2933; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; } h2 { font-size: 1.2rem; margin-top: 2rem; }
.meta { color: #52606d; } table { border-collapse: collapse; width: 100%; margin-top: 0.5rem; }
th, td { text-align: left; padding: 0.35rem 0.6rem; border-bottom: 1px solid #e4e7eb; } th { background: #f5f7fa; }
.ok { color: #0b6e4f; } .failed { color: #b42318; font-weight: 600; } .skipped { color: #52606d; }
.banner { padding: 0.7rem 1rem; border-radius: 6px; margin: 1rem 0; } .good { background: #e6f4ea; } .bad { background: #fdecea; }
.scroll { overflow-x: auto; } .headline { padding-left: 1.2rem; } .headline li { margin: 0.3rem 0; }
input[type=search] { font: inherit; padding: 0.3rem 0.5rem; width: 16rem; max-width: 100%; box-sizing: border-box; }
@media (max-width: 40rem) { body { margin: 1rem 0.8rem; } th, td { padding: 0.3rem 0.4rem; } }
"""
#: Filters the patient table as the user types (no library, nothing fetched).
_SEARCH = """
<script>
(function () {
  var box = document.getElementById('find'), found = document.getElementById('found');
  var rows = document.querySelectorAll('#patients tbody tr');
  box.addEventListener('input', function () {
    var text = box.value.trim().toLowerCase(), shown = 0;
    rows.forEach(function (row) {
      var hit = row.textContent.toLowerCase().indexOf(text) >= 0;
      row.hidden = !hit;
      if (hit) { shown += 1; }
    });
    found.textContent = text ? shown + ' of ' + rows.length + ' shown' : '';
  });
})();
</script>
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


def _share(rate) -> str:
    return f"{rate:.0%}"


def headline(summary: dict) -> list[str]:
    """Plain sentences of the month's headline figures from the clinic report's ``summary.json``.

    Figures hidden for the report's audience (``null``) are said to be hidden, never shown.

    >>> headline({"responders": {"assessed": 290, "improved": 222, "rate": 0.7655, "ci_lower": 0.712, "ci_upper": 0.813}})[0]
    'Of 290 courses of care that ended with a pain score, 222 (77%; likely between 71% and 81%) improved by an amount patients notice.'
    """
    lines = []
    responders = summary.get("responders") or {}
    if responders.get("assessed") is None or responders.get("improved") is None:
        lines.append("How many courses of care improved is hidden in this report's audience (too few to show).")
    elif responders["assessed"]:
        lines.append(
            f"Of {responders['assessed']:,} courses of care that ended with a pain score, {responders['improved']:,} "
            f"({_share(responders['rate'])}; likely between {_share(responders['ci_lower'])} and "
            f"{_share(responders['ci_upper'])}) improved by an amount patients notice."
        )
    practitioners = summary.get("practitioners") or {}
    if practitioners.get("shown") is not None:
        outside = sum(practitioners.get(k) or 0 for k in ("above_95", "below_95"))
        compared = (practitioners.get("shown") or 0) + (practitioners.get("hidden") or 0)
        lines.append(
            f"{compared} practitioner(s) compared with the clinic as a whole: "
            + (
                "none outside the range chance allows."
                if not outside
                else f"{outside} outside the range chance allows."
            )
        )
    return lines


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
    head = "<thead><tr><th>Report</th><th>Status</th><th>Why not</th><th>Time</th></tr></thead>"
    summary_file = run_dir / "clinic" / "summary.json"
    current = any(r["name"] == "clinic_report" and r["status"] in ("ok", "skipped") for r in reports)
    figures = (
        headline(json.loads(summary_file.read_text(encoding="utf-8"))) if current and summary_file.is_file() else []
    )
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p class='meta'>Run started {html.escape(manifest['started'])}, finished {html.escape(manifest['finished'])}. needling-analytics {html.escape(manifest['versions']['needling-analytics'])}.</p>",
        banner,
    ]
    if figures:
        items = "".join(f"<li>{html.escape(line)}</li>" for line in figures)
        parts += ["<h2>The month at a glance</h2>", f"<ul class='headline'>{items}</ul>"]
    parts += [
        "<h2>Clinic report</h2>",
        f"<div class='scroll'><table>{head}<tbody>{''.join(clinic_rows) or '<tr><td colspan=4>Not made in this run.</td></tr>'}</tbody></table></div>",
        f"<h2>Patient reports ({len(patient_rows)})</h2>",
        "<p class='meta'>One report for each patient with an attended session in the month. Each holds that patient's data only.</p>",
    ]
    if patient_rows:
        parts.append(
            "<p><label for='find'>Find a patient: </label><input id='find' type='search' placeholder='Patient ID' "
            "autocomplete='off'> <span id='found' class='meta' aria-live='polite'></span></p>"
        )
    parts.append(
        f"<div class='scroll'><table id='patients'>{head}<tbody>{''.join(patient_rows) or '<tr><td colspan=4>No patient attended in this month.</td></tr>'}</tbody></table></div>"
    )
    if patient_rows:
        parts.append(_SEARCH)
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
        parts += [
            "<h2>Data quality</h2>",
            f"<p>{html.escape(verdict)}</p>",
            f"<div class='scroll'>{table.to_html(index=False, border=0)}</div>",
        ]
    parts.append(
        "<p class='meta'>Files: manifest.json (what ran, with versions and timings), run.log (details of any failure).</p></body></html>"
    )
    path = run_dir / "index.html"
    path.write_text("\n".join(parts), encoding="utf-8")
    return path
