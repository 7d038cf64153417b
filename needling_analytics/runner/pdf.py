"""PDF reports: the same HTML page laid out on A4 by WeasyPrint (the optional ``[pdf]`` extra).

Charts and tables are never cut across two pages, headings stay with what
follows them, and every page carries the report's title, the clinic and
its page number ("Page 2 of 5") at the foot.
"""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path

from ..errors import InputError

#: What to do when WeasyPrint is missing.
INSTALL_HINT = (
    "PDF reports need WeasyPrint: pip install 'needling-analytics[pdf]' (or conda install -c conda-forge weasyprint); "
    "it uses the system's Pango library (Debian: apt-get install libpango-1.0-0 libpangoft2-1.0-0)"
)

_PAGE = """
@page {
  size: A4;
  margin: 14mm 13mm 17mm 13mm;
  @bottom-left { content: "%(footer)s"; font-family: sans-serif; font-size: 7.5pt; color: #52606d; }
  @bottom-right { content: "Page " counter(page) " of " counter(pages); font-family: sans-serif; font-size: 7.5pt; color: #52606d; }
}
html, body { background: white; }
body { font-size: 9.5pt; }
img, svg, table, tr, figure, .jp-RenderedImage, .jp-OutputArea-child { break-inside: avoid; }
h1, h2, h3, h4 { break-after: avoid; }
.jp-RenderedHTMLCommon table { display: table; }
img { max-width: 100%%; height: auto; }
"""


def check_pdf_support() -> None:
    """Raise :class:`~needling_analytics.errors.InputError` saying how to install WeasyPrint when it cannot be used."""
    if importlib.util.find_spec("weasyprint") is None:
        raise InputError(INSTALL_HINT)
    try:
        import weasyprint  # noqa: F401 - fails without the Pango system library
    except OSError as exc:
        raise InputError(f"{INSTALL_HINT} ({exc})") from None


def _css_text(text: str) -> str:
    return re.sub(r'(["\\])', r"\\\1", " ".join(text.split()))


def write_pdf(source: Path, pdf: Path, *, footer: str) -> Path:
    """Lay out the HTML report ``source`` as an A4 PDF at ``pdf`` (written under a temporary name, then renamed).

    ``footer``: the text at the foot of every page, beside the page number.
    """
    import weasyprint

    style = weasyprint.CSS(string=_PAGE % {"footer": _css_text(footer)})
    tmp = pdf.with_name(f".{pdf.name}.tmp-{os.getpid()}")
    weasyprint.HTML(filename=str(source), base_url=str(source.parent)).write_pdf(str(tmp), stylesheets=[style])
    os.replace(tmp, pdf)
    return pdf


#: The files each ``format`` setting makes.
FORMATS = {"html": ("html",), "pdf": ("pdf",), "both": ("html", "pdf")}


def finish_formats(html_path: Path, formats: tuple[str, ...], *, footer: str) -> Path:
    """After the HTML report is written: add its PDF when ``formats`` asks for one (else remove a PDF an
    earlier run made), and remove the HTML when only the PDF is wanted. Returns the report's main file
    (the HTML when kept)."""
    if "pdf" not in formats:
        html_path.with_suffix(".pdf").unlink(missing_ok=True)  # never leave an older PDF beside a newer page
        return html_path
    pdf = write_pdf(html_path, html_path.with_suffix(".pdf"), footer=footer)
    if "html" not in formats:
        html_path.unlink()
        return pdf
    return html_path
