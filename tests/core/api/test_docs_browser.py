"""The API reference page works in a real headless Chromium under the strict CSP, offline."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
from pytest_django.live_server_helper import LiveServer

from tests.browser.test_sites import SHOTS, browser  # noqa: F401  (the Chromium fixture)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_swagger_ui_renders_the_schema_without_csp_violations(
    live_server: LiveServer,
    browser: Any,  # noqa: F811
    tmp_path: Path,
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    problems: list[str] = []
    outside: list[str] = []
    page.on(
        "console",
        lambda m: problems.append(m.text) if m.type == "error" else None,
    )
    page.on(
        "request",
        lambda r: outside.append(r.url) if not r.url.startswith(live_server.url) else None,
    )
    page.goto(f"{live_server.url}/api/v1/docs/")
    deadline = time.monotonic() + 30
    operations: list[str] = []
    while time.monotonic() < deadline:
        operations = page.locator(".opblock-summary-path").all_inner_texts()
        if len(operations) >= 6:
            break
        time.sleep(0.2)
    assert "/api/v1/separations" in [o.replace("\u200b", "") for o in operations]
    assert "StemSplit API" in page.locator(".info .title").inner_text()
    assert outside == []  # everything came from the site itself
    assert not [p for p in problems if "Content Security Policy" in p], problems
    # STEMSPLIT_SCREENSHOTS=1 writes the README's picture of the page.
    folder = SHOTS if os.environ.get("STEMSPLIT_SCREENSHOTS") == "1" else tmp_path
    page.screenshot(path=str(folder / "api-docs-desktop.png"))
    page.close()
