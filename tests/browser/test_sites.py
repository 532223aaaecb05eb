"""A real headless Chromium uses both sites, on a desktop and a phone, with the real worker.

Debian's `chromium` is driven by Playwright (never `playwright install`). Each brand's home and
result pages are screenshotted; with STEMSPLIT_SCREENSHOTS=1 the pictures go to
docs/screenshots/ (the ones the README shows), otherwise to the test's temporary folder.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core.files.storage import default_storage
from pytest_django.fixtures import Settings
from pytest_django.live_server_helper import LiveServer

from core.jobs.models import Job
from tests.audio import make_song
from tests.conftest import ROOT, WorkerProcess
from tests.core.web.test_end_to_end import _decode, _similarity

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CHROMIUM = shutil.which("chromium")
ARGS = [
    "--no-sandbox",  # the tests run as root, where Chromium's sandbox cannot start
    "--disable-gpu",
    # No network here: Chromium's own background connections would only fail, noisily.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    # The brands are told apart by host; *.localhost must reach the live server's IPv4 socket.
    "--host-resolver-rules=MAP *.localhost 127.0.0.1",
]
BRANDS = {
    "vocals-remover": ("Instrumental", "accompaniment", "vocals"),
    "acapella-extractor": ("Acapella", "vocals", "accompaniment"),
}
VIEWPORTS: dict[str, dict[str, Any]] = {
    "desktop": {"viewport": {"width": 1280, "height": 800}},
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
}
SHOTS = ROOT / "docs" / "screenshots"
# The job page's state and its progress bar's value (null while indeterminate).
JOB_STATE = """(() => { const j = document.getElementById('job');
  const b = document.getElementById('job-progress');
  return [j && j.dataset.state, b && b.hasAttribute('value') ? b.value : null]; })()"""

# Every form control names itself to assistive technology: a <label>, aria-label(ledby) or text.
UNLABELLED = """() => Array.from(document.querySelectorAll(
    'input:not([type=hidden]), select, textarea, button, audio'))
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
    && !el.getAttribute('aria-labelledby') && !(el.tagName === 'BUTTON' && el.textContent.trim()))
  .map(el => el.outerHTML.slice(0, 80))"""

# WCAG contrast ratio of an element's text against the first opaque background behind it.
CONTRAST = """(selector) => {
  const rgb = s => s.match(/[\\d.]+/g).map(Number);
  const lum = c => { const v = c.slice(0, 3).map(x => { x /= 255;
      return x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4); });
    return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2]; };
  const el = document.querySelector(selector);
  let bg = el, back = [255, 255, 255];
  while (bg) { const c = rgb(getComputedStyle(bg).backgroundColor);
    if (c.length < 4 || c[3] > 0.9) { back = c; break; } bg = bg.parentElement; }
  const [a, b] = [lum(rgb(getComputedStyle(el).color)), lum(back)];
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, with a fresh profile."""
    if CHROMIUM is None:
        pytest.fail("chromium is not installed (scripts/install.sh --dev installs it)")
    # Playwright's sync API keeps an event loop in this thread for as long as it runs; Django
    # would take every database query here (the test's and the database flush after each test)
    # for async code and refuse it. The live server answers in threads of its own.
    with pytest.MonkeyPatch.context() as mp, playwright_api.sync_playwright() as p:
        mp.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        # launch() gives every run a new temporary profile (user data dir), deleted at the end.
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def site(live_server: LiveServer, settings: Settings) -> Iterator[str]:
    """Return the live server's port; the brands' hosts reach it through *.localhost."""
    settings.ANON_SUBMISSIONS_PER_HOUR = 0  # four uploads from one address in a minute
    port = urlsplit(live_server.url).port
    assert port is not None
    yield str(port)


def _shot(page: Any, name: str, tmp_path: Path, *, full_page: bool = False) -> None:
    """Take a picture of the page at rest: from the top, nothing focused."""
    page.evaluate("document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0)")
    folder = SHOTS if os.environ.get("STEMSPLIT_SCREENSHOTS") == "1" else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=full_page)


def _no_horizontal_scroll(page: Any) -> None:
    # Against the device's width, not innerWidth: a phone widens its layout to fit overflow.
    width = page.evaluate("document.documentElement.scrollWidth")
    device = page.viewport_size["width"]
    assert width <= device, f"page is {width}px wide on a {device}px wide screen"


def _tab_to(page: Any, element_id: str, limit: int = 12) -> None:
    """Press Tab until the element has focus, then check its focus ring is visible."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == element_id:
            ring = page.evaluate(
                "(() => { const s = getComputedStyle(document.activeElement);"
                " return [s.outlineStyle, parseFloat(s.outlineWidth)]; })()"
            )
            assert ring[0] != "none" and ring[1] >= 2, f"#{element_id} focus ring: {ring}"
            return
    pytest.fail(f"Tab never reached #{element_id}")


def _wait_until(page: Any, expression: str, timeout: float) -> None:
    """Poll an expression from outside the page: the CSP forbids page.wait_for_function's eval."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        page.wait_for_timeout(100)


def _wait_for_result(page: Any, timeout: float) -> tuple[list[str], set[float], int]:
    """Follow the job page, by itself, to its result; return states, bar values and reloads."""
    states: list[str] = []
    values: set[float] = set()
    loads = {"n": 0}
    page.on("framenavigated", lambda f: loads.__setitem__("n", loads["n"] + (f == page.main_frame)))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state, value = page.evaluate(JOB_STATE)
        except playwright_api.Error:
            state, value = None, None  # the page is reloading itself
        if value is not None:
            values.add(value)
        if state and (not states or states[-1] != state):
            states.append(state)
        if state in ("done", "failed", "gone"):
            return states, values, loads["n"]
        time.sleep(0.1)
    pytest.fail(f"no result within {timeout}s; states seen: {states}")


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
@pytest.mark.parametrize("brand", list(BRANDS))
def test_upload_play_and_download_the_brands_stem(
    browser: Any,
    site: str,
    celery_worker: WorkerProcess,
    tmp_path: Path,
    brand: str,
    viewport: str,
) -> None:
    label, stem, other_stem = BRANDS[brand]
    seed = 11 + list(BRANDS).index(brand) * 2 + list(VIEWPORTS).index(viewport)
    # Short clips keep the suite quick; one song spans several of the engine's 47.5 s blocks, so
    # that its progress moves in steps the page's polling must show on the bar.
    long_song = (brand, viewport) == ("vocals-remover", "desktop")
    song = make_song(tmp_path / "Night Drive.mp3", 100 if long_song else 8, seed=seed)
    base = f"http://{brand}.localhost:{site}"
    context = browser.new_context(accept_downloads=True, **VIEWPORTS[viewport])
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # The Content-Security-Policy forbids inline code: anything it blocks is a broken page.
    page.on(
        "console",
        lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    try:
        page.goto(f"{base}/")
        # The brand's palette arrives as a stylesheet, allowed by the policy.
        primary = "getComputedStyle(document.documentElement).getPropertyValue('--primary')"
        assert page.evaluate(primary).strip().startswith("#")
        assert page.locator("body").get_attribute("class") == f"brand-{brand}"
        _no_horizontal_scroll(page)
        assert page.evaluate(UNLABELLED) == []
        for selector in ("h1", ".lead", ".hint", "#upload-button", ".link-label", ".site-footer p"):
            ratio = page.evaluate(CONTRAST, selector)
            assert ratio >= 4.5, f"{selector}: contrast {ratio:.2f}"
        # Keyboard only: Tab reaches the file input, the upload button and the link field.
        _tab_to(page, "id_file")
        _tab_to(page, "upload-button")
        _tab_to(page, "id_url")
        # Nothing of the upload's progress shows before a file is chosen.
        assert not page.locator("#upload-status").is_visible()
        _shot(page, f"{brand}-home-{viewport}", tmp_path, full_page=True)

        # The drop zone's file input, found by its label as a screen reader would.
        file_input = page.get_by_label(re.compile("Drop a song here"))
        assert page.get_by_label("Paste a link to a song").is_visible()
        file_input.set_input_files(str(song))  # the script uploads as soon as a file is chosen
        page.wait_for_url(re.compile(r"/jobs/[0-9a-f-]{36}/$"), timeout=60_000)
        states, values, loads = _wait_for_result(page, timeout=300)
        assert states[-1] == "done", (states, celery_worker.log()[-3000:])
        if states[0] != "done":
            assert loads >= 1, "the page did not reload itself into the result"
        assert set(states) <= {"waiting", "running", "done"}
        if long_song:
            assert any(0 < value < 100 for value in values), f"the bar never moved: {values}"
        page.wait_for_load_state("load")
        _no_horizontal_scroll(page)
        assert page.evaluate(UNLABELLED) == []
        assert page.get_by_role("heading", name=f"Your {label.lower()} is ready").is_visible()
        # The tempo and key come from a light worker after the stems; the script shows them.
        analysis = page.locator("#song-analysis")
        analysis.wait_for(state="visible", timeout=30_000)
        line = r"\d+ BPM( · [A-G][#b]? (major|minor) \(\d{1,2}[AB]\))?"
        assert re.fullmatch(line, analysis.inner_text()), analysis.inner_text()

        # Play the result: Space on the focused player, as a keyboard user would.
        audio = page.locator("#result-audio")
        audio.focus()
        page.keyboard.press("Space")
        if page.evaluate("document.getElementById('result-audio').paused"):
            audio.evaluate("a => a.play()")
        _wait_until(page, "document.getElementById('result-audio').currentTime > 0.5", 15.0)
        assert page.evaluate("document.getElementById('result-audio').paused") is False
        audio.evaluate("a => { a.pause(); a.currentTime = 0; }")
        page.wait_for_timeout(300)  # the waveform redraws at the start
        _shot(page, f"{brand}-result-{viewport}", tmp_path)

        button = page.get_by_role("link", name=re.compile(f"Download {label.lower()}"))
        with page.expect_download() as info:
            button.click()
        download = info.value
        assert download.suggested_filename == f"Night Drive ({label}).mp3"
        saved = tmp_path / "download.mp3"
        download.save_as(saved)
        assert errors == []
    finally:
        context.close()

    # The file is this brand's stem of the separation: compare with the stored stems.
    job = Job.objects.select_related("separation").get(brand=brand)
    separation = job.separation
    delivered = _decode(saved)
    stems = {}
    for name in (stem, other_stem):
        path = tmp_path / f"{name}.flac"
        with default_storage.open(getattr(separation, name).name, "rb") as fh:
            path.write_bytes(fh.read())
        stems[name] = _similarity(delivered, _decode(path))
    assert stems[stem] > 0.9, stems
    assert stems[stem] > stems[other_stem] + 0.3, stems
