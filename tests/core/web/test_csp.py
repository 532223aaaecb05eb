"""Every page carries a strict Content-Security-Policy, and no page needs inline code to work."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.test import Client
from pytest_django.fixtures import Settings

from core.web import csp
from tests.core.web.conftest import AE_HOST, VR_HOST
from tests.factories import finished_job

pytestmark = pytest.mark.django_db


class _InlineFinder(HTMLParser):
    """Collect what a policy without 'unsafe-inline' would block."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        for name in names:
            if name == "style" or name.startswith("on"):
                self.found.append(f"<{tag} {name}=...>")
        if tag == "style":
            self.found.append("<style> block")
        # Data blocks (JSON, JSON-LD) never run, so the policy does not apply to them.
        data_block = names.get("type") in ("application/json", "application/ld+json")
        if tag == "script" and "src" not in names and not data_block:
            self._in_script = True

    def handle_endtag(self, tag: str) -> None:
        self._in_script = self._in_script and tag != "script"

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.found.append(f"inline script: {data.strip()[:60]!r}")


def _inline(html: str) -> list[str]:
    finder = _InlineFinder()
    finder.feed(html)
    return finder.found


def _assert_strict(response: object) -> None:
    header = response[csp.HEADER]  # type: ignore[index]
    assert "unsafe-inline" not in header and "unsafe-eval" not in header
    directives = dict(part.strip().split(" ", 1) for part in header.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"


@pytest.mark.parametrize("host", [VR_HOST, AE_HOST])
def test_pages_have_the_policy_and_no_inline_code(host: str, tmp_path: Path) -> None:
    client = Client(HTTP_HOST=host)
    job = finished_job(
        tmp_path, brand="vocals-remover" if host == VR_HOST else "acapella-extractor"
    )
    pages = ["/", f"/jobs/{job.pk}/", "/account/login/", "/account/signup/", "/no-such-page/"]
    for url in pages:
        response = client.get(url)
        assert response.status_code in (200, 404), url
        _assert_strict(response)
        assert _inline(response.content.decode()) == [], url

    user = User.objects.create_user("csp", "csp@example.com", "a long password 1")
    client.force_login(user)
    response = client.get("/account/")
    assert response.status_code == 200
    _assert_strict(response)
    assert _inline(response.content.decode()) == []


def test_unknown_host_page_is_covered_too() -> None:
    response = Client(HTTP_HOST="evil.example").get("/")
    assert response.status_code == 400
    _assert_strict(response)
    assert _inline(response.content.decode()) == []


def test_the_palette_stylesheet_carries_the_brand_colours() -> None:
    vr = Client(HTTP_HOST=VR_HOST).get("/brand.css")
    ae = Client(HTTP_HOST=AE_HOST).get("/brand.css")
    assert vr.status_code == ae.status_code == 200
    assert vr["Content-Type"].startswith("text/css")
    assert "--primary:" in vr.content.decode()
    # Each brand gets its own colours, and the page links the version of its own palette.
    assert vr.content != ae.content
    home = Client(HTTP_HOST=VR_HOST).get("/").content.decode()
    assert "/brand.css?v=" in home


def test_finder_sees_what_the_policy_blocks() -> None:
    # The checker itself must catch each kind, or the page tests above prove nothing.
    assert _inline("<p style='color:red'>x</p>") == ["<p style=...>"]
    assert _inline("<button onclick='go()'>x</button>") == ["<button onclick=...>"]
    assert _inline("<style>p{}</style>") == ["<style> block"]
    assert _inline("<script>alert(1)</script>") == ["inline script: 'alert(1)'"]
    assert _inline('<script src="/static/a.js"></script>') == []
    assert _inline('<script type="application/json">{"a": 1}</script>') == []


def test_a_bucket_that_serves_media_is_allowed_to(settings: Settings) -> None:
    assert "9000" not in csp.policy()
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {"bucket_name": "stems", "endpoint_url": "http://127.0.0.1:9000"},
        },
    }
    directives = dict(part.strip().split(" ", 1) for part in csp.policy().split(";"))
    assert "http://127.0.0.1:9000" in directives["media-src"].split()
    assert "http://127.0.0.1:9000" in directives["img-src"].split()
    assert "http://127.0.0.1:9000" not in directives["script-src"]
    settings.STORAGES["default"]["OPTIONS"] = {"bucket_name": "stems", "region_name": "eu-west-1"}
    assert "https://stems.s3.eu-west-1.amazonaws.com" in csp.policy()
