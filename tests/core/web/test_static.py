"""The pages' own scripts and styles: present, parseable, and with no outside resources."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.test import Client
from pytest_django.fixtures import Settings

pytestmark = pytest.mark.django_db

SCRIPTS = ["web/upload.js", "web/job.js", "web/link.js"]


@pytest.mark.parametrize("name", SCRIPTS)
def test_scripts_parse(name: str) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    path = finders.find(name)
    assert path, name
    subprocess.run([node, "--check", str(path)], check=True, capture_output=True)


@pytest.mark.parametrize("name", [*SCRIPTS, "web/site.css"])
def test_no_cdn_or_outside_resources(name: str) -> None:
    path = finders.find(name)
    assert path, name
    text = Path(str(path)).read_text()
    assert "http://" not in text and "https://" not in text and "//cdn" not in text


def test_a_missing_page_is_a_branded_404_in_production(vr: Client, settings: Settings) -> None:
    settings.DEBUG = False
    response = vr.get("/no-such-page/")
    assert response.status_code == 404
    page = response.content.decode()
    assert "Page not found" in page
    assert "Vocals Remover" in page
