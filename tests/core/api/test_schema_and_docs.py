"""The OpenAPI schema validates with no warning; the docs page loads nothing from outside."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.contrib.staticfiles import finders
from django.test import Client
from openapi_spec_validator import validate
from rest_framework.test import APIClient

from tests.core.api.conftest import HOST, Account, assert_matches, openapi

pytestmark = pytest.mark.django_db

AE_HOST = "acapella-extractor.localhost:8000"


def test_the_schema_validates_and_describes_every_endpoint() -> None:
    document = openapi()  # generated with --validate --fail-on-warn
    validate(document)  # openapi-spec-validator, independently
    paths = document["paths"]
    assert set(paths) == {
        "/api/v1/separations",
        "/api/v1/separations/{id}",
        "/api/v1/separations/{id}/cancel",
        "/api/v1/separations/{id}/{stem}.{fmt}",
        "/api/v1/separations/{id}/{stem}/stream",
        "/api/v1/account",
        "/api/v1/account/ledger",
    }
    create = paths["/api/v1/separations"]["post"]
    assert set(create["requestBody"]["content"]) == {"multipart/form-data", "application/json"}
    assert {"202", "402", "413", "415", "422", "429"} <= set(create["responses"])
    assert document["components"]["securitySchemes"]["ApiKeyAuth"]["name"] == "Authorization"
    stream = paths["/api/v1/separations/{id}/{stem}/stream"]["get"]
    assert set(stream["responses"]["200"]["content"]) == {"audio/mpeg"}
    assert {"401", "404", "409", "410"} <= set(stream["responses"])


@pytest.mark.parametrize("host", [HOST, AE_HOST])
def test_the_schema_is_served_on_both_hosts_without_a_key(host: str) -> None:
    response = APIClient(HTTP_HOST=host).get("/api/v1/schema/?format=json")
    assert response.status_code == 200
    validate(response.json())


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []
        self.inline: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name in ("src", "href"):
            if values.get(name):
                self.refs.append(str(values[name]))
        if tag == "script" and not values.get("src"):
            self.inline.append("script")
        if tag == "style" or "style" in values:
            self.inline.append(tag)


@pytest.mark.parametrize("host", [HOST, AE_HOST])
def test_the_docs_page_is_served_offline(host: str) -> None:
    client = Client(HTTP_HOST=host)
    response = client.get("/api/v1/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    parser = _Refs()
    parser.feed(html)
    assert parser.inline == []  # nothing the strict Content-Security-Policy would block
    assert not re.search(r"https?://", html)  # no CDN: every reference is on this site
    assert "default-src 'self'" in response["Content-Security-Policy"]
    statics = [r for r in parser.refs if r.startswith("/static/")]
    assert len(statics) >= 4
    for ref in statics:
        assert finders.find(ref.removeprefix("/static/").split("?")[0]), ref
    script = [r for r in parser.refs if "script" in r and not r.startswith("/static/")]
    assert len(script) == 1
    init = client.get(script[0])
    assert init.status_code == 200
    assert init["Content-Type"].startswith("application/javascript")
    assert "/api/v1/schema/" in init.content.decode()


def test_account_and_ledger_match_the_schema(account: Account) -> None:
    body = account.client.get("/api/v1/account").json()
    assert_matches("Account", body)
    assert body["balance"] == 100 and body["held"] == 0
    assert body["plan"] == {"code": "paid", "name": "Pro", "api_access": True}
    assert body["limits"]["formats"] == ["flac", "mp3", "wav"]
    ledger = account.client.get("/api/v1/account/ledger").json()
    assert_matches("LedgerPage", ledger)
    assert ledger["count"] == 1
    assert ledger["results"][0]["kind"] == "purchase"
    assert ledger["results"][0]["amount"] == 100
