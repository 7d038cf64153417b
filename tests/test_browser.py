"""What people read, in a real browser: Debian's Chromium, driven headless by Playwright.

Over a monthly run's ``index.html``, every report it links (the clinic
report and each patient's), at a desktop width and a phone's: every link
opens, every image loads, the page has a title and headings, nothing
scrolls sideways (wide tables scroll inside their own box), and nothing is
fetched from the network (pages are self-contained). The index's search
box filters the patient list. ``.ci/run`` installs Chromium; under
``CI=true`` a missing browser fails instead of skipping.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import urlparse

import pytest

from needling_analytics.demo import write_clinic
from needling_analytics.runner import RunConfig, run_monthly

from .conftest import demo_tables

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
#: As the machine's notes advise: no background connections to the browser maker's services.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}
pytestmark = pytest.mark.slow


def _missing(reason: str):
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}: .ci/run installs it")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        _missing("Chromium is not installed (Debian: apt-get install chromium)")
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    data = tmp_path_factory.mktemp("clinic")
    write_clinic(demo_tables(n_patients=12, seed=1), data)
    config = RunConfig(data_dir=data, clinic_name="Browser Physio", out_dir=tmp_path_factory.mktemp("out"), workers=2)
    done = run_monthly(config, month="2026-10")
    assert done.exit_code == 0
    return done.run_dir


def _page(browser, width: str):
    context = browser.new_context(viewport=dict(zip(("width", "height"), WIDTHS[width], strict=True)))
    page = context.new_page()
    fetched = []
    page.on("request", lambda request: fetched.append(request.url))
    return page, fetched


def _check_page(page, url: str) -> list[str]:
    """Open ``url``; return what is wrong with the page as a reader would see it."""
    page.goto(url, wait_until="load")
    problems = []
    if not page.title().strip():
        problems.append("no title")
    if page.locator("h1").count() == 0:
        problems.append("no h1 heading")
    broken = page.evaluate(
        "Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).map(i => i.alt || i.src.slice(0, 60))"
    )
    if broken:
        problems.append(f"broken images: {broken}")
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    if overflow > 1:
        wide = page.evaluate(
            """() => Array.from(document.querySelectorAll('body *'))
                .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
                .slice(0, 3).map(e => e.tagName + '.' + e.className)"""
        )
        problems.append(f"scrolls sideways by {overflow}px (widest: {wide})")
    return problems


@pytest.mark.parametrize("width", WIDTHS)
def test_every_page_of_a_run_opens_whole_and_fits_the_screen(browser, run, width):
    page, fetched = _page(browser, width)
    index = (run / "index.html").as_uri()
    problems = {"index.html": _check_page(page, index)}
    links = page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)")
    assert len(links) >= 3, links  # the clinic report and patient reports
    for link in links:
        assert urlparse(link).scheme == "file" and Path(urlparse(link).path).is_file(), f"a link opens nothing: {link}"
        problems[link.rsplit("/", 1)[-1]] = _check_page(page, link)
    assert not {name: p for name, p in problems.items() if p}, problems
    outside = [url for url in fetched if urlparse(url).scheme not in ("file", "data", "about")]
    assert not outside, f"fetched from the network: {outside[:5]}"


def test_the_index_shows_the_months_headline_and_its_search_box_filters_patients(browser, run):
    page, _ = _page(browser, "desktop")
    page.goto((run / "index.html").as_uri())
    assert "The month at a glance" in page.inner_text("body")
    rows = page.locator("#patients tbody tr")
    everyone = rows.count()
    assert everyone >= 3
    first = rows.nth(0).locator("a").inner_text()
    page.fill("#find", first)
    assert page.locator("#patients tbody tr:visible").count() == 1
    assert page.locator("#patients tbody tr:visible a").inner_text() == first
    assert page.inner_text("#found") == f"1 of {everyone} shown"
    page.fill("#find", "nobody-has-this-id")
    assert page.locator("#patients tbody tr:visible").count() == 0
    page.fill("#find", "")
    assert page.locator("#patients tbody tr:visible").count() == everyone
    assert page.locator("#patients thead tr:visible").count() == 1  # the header row never hides
