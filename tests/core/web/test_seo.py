"""What search engines read: robots.txt, sitemap.xml, canonical and preview tags, JSON-LD."""

from __future__ import annotations

import json
import re
from pathlib import Path
from xml.etree import ElementTree

import pytest
from django.test import Client
from pytest_django.fixtures import Settings

from tests.core.web.conftest import AE_HOST, VR_HOST
from tests.factories import finished_job

pytestmark = pytest.mark.django_db

SITEMAP_NS = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
SHARED = ("/", "/pricing/", "/terms/", "/privacy/", "/copyright/", "/contact/")


def _locs(client: Client) -> list[str]:
    answer = client.get("/sitemap.xml")
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("application/xml")
    tree = ElementTree.fromstring(answer.content)
    return [loc.text or "" for loc in tree.findall("s:url/s:loc", SITEMAP_NS)]


@pytest.mark.parametrize("host", [VR_HOST, AE_HOST])
def test_robots_txt_names_the_sitemap_on_the_brands_own_host(host: str) -> None:
    answer = Client(HTTP_HOST=f"www.{host}").get("/robots.txt")
    assert answer.status_code == 200
    assert answer["Content-Type"] == "text/plain; charset=utf-8"
    text = answer.content.decode()
    assert f"Sitemap: http://{host}/sitemap.xml\n" in text
    assert "Disallow: /account/" in text and "Disallow: /admin/" in text
    assert "Disallow: /jobs/" not in text  # crawlers must read a job page's noindex
    assert not answer.cookies


def test_the_sitemap_lists_each_brands_pages_on_its_own_host() -> None:
    for host in (VR_HOST, AE_HOST):
        locs = _locs(Client(HTTP_HOST=host))
        assert locs[: len(SHARED)] == [f"http://{host}{path}" for path in SHARED]
        assert all(loc.startswith(f"http://{host}/") for loc in locs)
    # Every page it lists answers, indexable.
    vr = Client(HTTP_HOST=VR_HOST)
    for loc in _locs(vr):
        page = vr.get(loc.removeprefix(f"http://{VR_HOST}"))
        assert page.status_code == 200, loc
        assert f'<link rel="canonical" href="{loc}">' in page.content.decode()


def _meta(html: str, attr: str, name: str) -> str:
    found = re.search(rf'<meta {attr}="{re.escape(name)}" content="([^"]*)">', html)
    assert found is not None, name
    return found.group(1)


def test_the_home_page_has_canonical_opengraph_and_twitter_tags_of_its_brand() -> None:
    html = Client(HTTP_HOST=f"www.{AE_HOST}").get("/").content.decode()
    canonical = f"http://{AE_HOST}/"
    assert f'<link rel="canonical" href="{canonical}">' in html
    assert _meta(html, "property", "og:url") == canonical
    assert _meta(html, "property", "og:site_name") == "Acapella Extractor"
    image = _meta(html, "property", "og:image")
    assert image.startswith(f"http://{AE_HOST}/static/acapella_extractor/og")
    assert _meta(html, "name", "twitter:card") == "summary_large_image"
    assert _meta(html, "name", "twitter:image") == image
    title = re.search(r"<title>(.*?)</title>", html)
    assert title is not None
    assert _meta(html, "property", "og:title") == title.group(1)
    assert _meta(html, "name", "twitter:title") == title.group(1)
    assert _meta(html, "name", "twitter:description") == _meta(html, "name", "description")


def _json_ld(html: str) -> dict[str, object]:
    found = re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    assert found is not None
    data: dict[str, object] = json.loads(found.group(1))
    return data


def test_json_ld_describes_the_web_application_with_the_offers_of_the_plans(
    vr: Client, settings: Settings
) -> None:
    settings.STRIPE_CREDIT_PACKS = ["100:500", "500:1990"]
    settings.STRIPE_CURRENCY = "eur"
    settings.STRIPE_SUBSCRIPTION_PRICE_ID = "price_monthly"
    settings.SUBSCRIPTION_CREDITS = 300
    settings.SUBSCRIPTION_PRICE_CENTS = 900
    for path in ("/", "/pricing/"):
        data = _json_ld(vr.get(path).content.decode())
        assert data["@context"] == "https://schema.org" and data["@type"] == "WebApplication"
        assert data["name"] == "Vocals Remover" and data["url"] == f"http://{VR_HOST}/"
        offers = data["offers"]
        assert isinstance(offers, list)
        assert [(o["name"], o["price"], o["priceCurrency"]) for o in offers] == [
            ("Free", "0.00", "EUR"),
            ("100 credits", "5.00", "EUR"),
            ("500 credits", "19.90", "EUR"),
            ("300 credits every month", "9.00", "EUR"),
        ]
        assert offers[-1]["priceSpecification"]["billingDuration"] == "P1M"
        assert all(o["url"] == f"http://{VR_HOST}/pricing/" for o in offers)
    assert "application/ld+json" not in vr.get("/terms/").content.decode()


def test_each_indexed_page_has_a_title_and_description_of_its_own(ae: Client) -> None:
    seen = set()
    for path in SHARED:
        html = ae.get(path).content.decode()
        title = re.search(r"<title>(.*?)</title>", html)
        assert title is not None and "Acapella Extractor" in title.group(1)
        seen.add((title.group(1), _meta(html, "name", "description")))
    assert len(seen) == len(SHARED)


def test_job_pages_are_noindex_and_not_in_the_sitemap(tmp_path: Path, vr: Client) -> None:
    job = finished_job(tmp_path)
    html = vr.get(f"/jobs/{job.pk}/").content.decode()
    assert '<meta name="robots" content="noindex">' in html
    assert 'rel="canonical"' not in html
    assert not any("/jobs/" in loc for loc in _locs(vr))
