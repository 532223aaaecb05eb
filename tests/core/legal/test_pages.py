"""The legal pages: brand-aware, linked from every page, reading the settings they describe."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.test import Client
from pytest_django.fixtures import Settings

from tests.core.web.conftest import AE_HOST, VR_HOST

pytestmark = pytest.mark.django_db

LEGAL = ("/terms/", "/privacy/", "/contact/", "/copyright/")


@pytest.mark.parametrize("path", ["/", "/pricing/", "/account/signup/", "/account/login/", *LEGAL])
def test_every_page_links_the_legal_pages_in_its_footer(vr: Client, path: str) -> None:
    page = vr.get(path)
    assert page.status_code == 200
    footer = re.search(r'<footer class="site-footer">.*?</footer>', page.content.decode(), re.S)
    assert footer is not None
    for link in LEGAL:
        assert f'href="{link}"' in footer.group(0)


def test_pricing_and_sign_up_link_the_terms_and_privacy(vr: Client) -> None:
    for path, marker in (("/pricing/", "pricing-legal"), ("/account/signup/", "signup-legal")):
        html = vr.get(path).content.decode()
        part = re.search(rf'<p class="hint {marker}">.*?</p>', html, re.S)
        assert part is not None, path
        assert 'href="/terms/"' in part.group(0) and 'href="/privacy/"' in part.group(0)


def test_the_pages_name_the_brand_its_host_and_the_contact_address(
    vr: Client, ae: Client, settings: Settings
) -> None:
    vr_terms = vr.get("/terms/").content.decode()
    assert "Vocals Remover at vocals-remover.localhost" in vr_terms
    assert "contact@vocals-remover.localhost" in vr_terms
    ae_contact = ae.get("/contact/").content.decode()
    assert "Acapella Extractor is run by StemSplit" in ae_contact
    assert 'href="mailto:contact@acapella-extractor.localhost"' in ae_contact

    settings.CONTACT_EMAIL = "legal@example.org"
    settings.LEGAL_OPERATOR = "Example Ltd"
    for client in (vr, ae):
        html = client.get("/contact/").content.decode()
        assert 'href="mailto:legal@example.org"' in html and "run by Example Ltd" in html


def test_the_privacy_policy_states_the_retention_settings_and_the_processors(
    vr: Client, settings: Settings
) -> None:
    settings.RETENTION_HOURS = 12
    settings.PAID_RETENTION_DAYS = 30
    html = vr.get("/privacy/").content.decode()
    kept = re.search(r'<td id="keep-free">(.*?)</td>', html, re.S)
    assert kept is not None
    assert "12 hours" in kept.group(1) and "30 days on the paid plan" in kept.group(1)
    assert "<strong>Stripe</strong> handles payments" in html
    assert "stored on our own servers" in html  # the local storage of the tests
    settings.STORAGE_PROVIDER_NAME = "Backblaze B2"
    assert "<strong>Backblaze B2</strong> stores uploads" in vr.get("/privacy/").content.decode()


def test_each_legal_page_has_its_own_title_description_and_canonical(ae: Client) -> None:
    seen = set()
    for path in LEGAL:
        html = ae.get(path).content.decode()
        title = re.search(r"<title>(.*?)</title>", html)
        description = re.search(r'<meta name="description" content="(.*?)">', html)
        assert title and description
        assert title.group(1).endswith("· Acapella Extractor")
        assert "Acapella Extractor" in description.group(1)
        assert (
            f'<link rel="canonical" href="http://acapella-extractor.localhost:8000{path}">' in html
        )
        seen.add((title.group(1), description.group(1)))
    assert len(seen) == len(LEGAL)


# Cookies that are strictly necessary; csrftoken only on pages with a form that posts.
NECESSARY = {"csrftoken"}


@pytest.mark.parametrize("host", [VR_HOST, AE_HOST])
def test_an_anonymous_visit_sets_no_cookie_but_the_csrf_token_of_a_form(host: str) -> None:
    client = Client(HTTP_HOST=host)
    for path in ("/terms/", "/privacy/", "/contact/"):
        answer = client.get(path)
        assert answer.status_code == 200
        assert dict(answer.cookies) == {}, path  # no form: no cookie at all
    for path in ("/", "/copyright/"):  # the upload and link forms; the takedown form
        answer = client.get(path)
        assert set(answer.cookies) <= NECESSARY, path
        assert "csrftoken" in answer.cookies
    assert set(client.cookies) <= NECESSARY
    assert settings.SESSION_COOKIE_NAME not in client.cookies
