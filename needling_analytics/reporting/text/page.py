"""The frame of every report: header (with its audience), footer, and the data-quality appendix."""

from __future__ import annotations

import html

from ...privacy.suppression import Disclosure
from .words import Html, as_rule, format_date

__all__ = ["AUDIENCE_LINES", "audience_line", "data_quality_note", "report_footer", "report_header"]


def data_quality_note(quality) -> Html:
    """The data-quality appendix: the loader's summary, or where to find it when the data came from a cache.

    ``quality`` is ``Clinic.quality`` (a ``QualityReport``); a clinic read
    from a metrics cache has an empty one.
    """
    if quality is None or quality.tables is None or len(quality.tables) == 0:
        return Html(
            '<p class="na-text">This report was built from the run\'s metrics cache; the data-quality report '
            "(rows read, kept and set aside, and why) is listed in the run's index.</p>"
        )
    return Html(f'<pre class="na-quality">{html.escape(quality.summary())}</pre>')


#: Who an aggregate report is for, in the words its header uses.
AUDIENCE_LINES = {
    "owner": "For the clinic owner: not for sharing. Every count is shown, small ones included.",
    "staff": "For staff: small counts are hidden to protect patients' privacy.",
    "public": "Suitable for sharing: small counts are hidden to protect patients' privacy.",
}


def audience_line(disclosure) -> str:
    """The header's sentence on who the report is for (``disclosure``: a Disclosure or an audience name)."""
    policy = disclosure if isinstance(disclosure, Disclosure) else Disclosure(str(disclosure))
    line = AUDIENCE_LINES[policy.audience]
    if policy.rounds:
        line = line.replace(" are hidden", " are hidden, the others rounded to the nearest 5,")
    return line


def report_header(title: str, subtitle="", *, audience: Disclosure | str | None = None) -> Html:
    """The report's title block (HTML); with ``audience``, a line saying who the report is for (:func:`audience_line`).

    ``subtitle``: text, or parts (the clinic's name, the period) joined by " · ", empty ones left out.

    >>> "Harbour Physio · October 2026" in report_header("Report", ("Harbour Physio", "October 2026"))
    True
    >>> ">October 2026<" in report_header("Report", ("", "October 2026"))
    True
    """
    if not isinstance(subtitle, str):
        subtitle = " · ".join(str(part) for part in subtitle if part)
    sub = f'<p class="na-subtitle" style="margin:0;color:#555;">{html.escape(subtitle)}</p>' if subtitle else ""
    if audience is not None:
        sub += f'<p class="na-audience" style="margin:0.2em 0 0 0;font-weight:600;">{html.escape(audience_line(audience))}</p>'
    return Html(
        '<header class="na-header" style="border-bottom:2px solid #0173b2;margin-bottom:1em;padding-bottom:0.4em;">'
        f'<h1 style="margin:0 0 0.2em 0;">{html.escape(title)}</h1>{sub}</header>'
    )


def report_footer(*, title: str, clinic_name: str, period: str, as_of, rule, version: str) -> Html:
    """The report's footer (HTML): title, clinic, period, as-of date, responder rule in words, package version.

    A row whose value is empty (e.g. no clinic name) is left out.
    """
    rows = [
        ("Report", title),
        ("Clinic", clinic_name),
        ("Period", period),
        ("Data complete to", format_date(as_of) if not isinstance(as_of, str) else as_of),
        ("Clinically important improvement", as_rule(rule).describe()),
        ("Produced with", f"needling-analytics {version}"),
    ]
    rows = [(k, v) for k, v in rows if v]  # e.g. no clinic name: no row
    cells = "".join(
        f'<tr><th style="text-align:left;padding-right:1em;font-weight:600;">{html.escape(k)}</th>'
        f'<td style="text-align:left;">{html.escape(str(v))}</td></tr>'
        for k, v in rows
    )
    return Html(
        '<footer class="na-footer" style="margin-top:2em;border-top:1px solid #ccc;padding-top:0.5em;'
        f'font-size:0.85em;color:#444;"><table>{cells}</table></footer>'
    )
