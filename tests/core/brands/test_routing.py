"""The host picks the brand; an unknown host is refused, never served another brand."""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings
from django.core.checks import run_checks
from django.test import Client
from pytest_django.fixtures import Settings as SettingsWrapper

from core.brands import registry

pytestmark = pytest.mark.django_db


def _title(content: bytes) -> str:
    return content.decode().split("<title>", 1)[1].split("</title>", 1)[0]


@pytest.mark.parametrize(
    ("host", "name", "stem_label"),
    [
        ("vocals-remover.localhost:8000", "Vocals Remover", "instrumental"),
        ("acapella-extractor.localhost:8000", "Acapella Extractor", "acapella"),
        ("www.acapella-extractor.localhost", "Acapella Extractor", "acapella"),
        ("VOCALS-REMOVER.localhost", "Vocals Remover", "instrumental"),
    ],
)
def test_each_domain_serves_its_own_brand(host: str, name: str, stem_label: str) -> None:
    response = Client().get("/", headers={"host": host})
    assert response.status_code == 200
    assert response.wsgi_request.brand.name == name  # type: ignore[attr-defined]
    page = response.content.decode()
    assert name in _title(response.content)
    assert f"Upload and get the {stem_label}" in page
    other = "Acapella Extractor" if name == "Vocals Remover" else "Vocals Remover"
    assert other not in _title(response.content)


@pytest.mark.parametrize(
    "host", ["testserver", "evil.example", "other.localhost", "localhost.evil"]
)
def test_an_unknown_host_gets_a_clear_400_and_no_brand(host: str) -> None:
    response = Client().get("/", headers={"host": host})
    assert response.status_code == 400
    page = response.content.decode()
    assert "not one of our sites" in page
    assert "Upload and get" not in page
    assert not hasattr(response.wsgi_request, "brand")


def test_a_host_outside_allowed_hosts_is_refused_the_same_way(settings: SettingsWrapper) -> None:
    settings.ALLOWED_HOSTS = [settings.VOCALS_REMOVER_DOMAIN]
    response = Client().get("/", headers={"host": "acapella-extractor.localhost"})
    assert response.status_code == 400
    assert "not one of our sites" in response.content.decode()


@pytest.mark.parametrize("host", ["localhost:8000", "127.0.0.1:8000", "[::1]:8000"])
def test_plain_localhost_serves_the_configured_brand(host: str, settings: SettingsWrapper) -> None:
    assert Client().get("/", headers={"host": host}).wsgi_request.brand.slug == "vocals-remover"  # type: ignore[attr-defined]
    settings.LOCALHOST_BRAND = "acapella-extractor"
    response = Client().get("/", headers={"host": host})
    assert response.wsgi_request.brand.slug == "acapella-extractor"  # type: ignore[attr-defined]


def test_domains_come_from_settings(settings: SettingsWrapper) -> None:
    settings.ALLOWED_HOSTS = ["vocalsremover.example", "acapella.example"]
    settings.VOCALS_REMOVER_DOMAIN = "vocalsremover.example"
    settings.ACAPELLA_EXTRACTOR_DOMAIN = "acapella.example"
    response = Client().get("/", headers={"host": "acapella.example"})
    assert response.status_code == 200
    assert response.wsgi_request.brand.slug == "acapella-extractor"  # type: ignore[attr-defined]
    # The footer links to the other brand's configured domain.
    assert 'href="http://vocalsremover.example/"' in response.content.decode()
    old = Client().get("/", headers={"host": "acapella-extractor.localhost"})
    assert old.status_code == 400


def test_both_domains_are_allowed_hosts() -> None:
    s = django_settings
    for domain in (s.VOCALS_REMOVER_DOMAIN, s.ACAPELLA_EXTRACTOR_DOMAIN):
        assert domain in s.ALLOWED_HOSTS


def test_brands_are_registered_by_their_apps_with_the_right_stems() -> None:
    stems = {b.slug: (b.stem, b.stem_label) for b in registry.all_brands()}
    assert stems == {
        "vocals-remover": ("accompaniment", "Instrumental"),
        "acapella-extractor": ("vocals", "Acapella"),
    }


def test_pages_carry_the_brand_seo_and_colours() -> None:
    response = Client().get("/", headers={"host": "acapella-extractor.localhost"})
    page = response.content.decode()
    brand = registry.get("acapella-extractor")
    assert brand is not None
    assert f'<meta name="description" content="{brand.seo.description}">' in page
    assert 'property="og:image" content="http://acapella-extractor.localhost/static/' in page
    assert "acapella_extractor/logo.svg" in page
    # The colours come as a stylesheet of the brand's own (no inline style under the CSP).
    assert '<link rel="stylesheet" href="/brand.css?v=' in page
    css = Client().get("/brand.css", headers={"host": "acapella-extractor.localhost"})
    assert f"--primary: {brand.palette.primary};" in css.content.decode()


def test_a_misconfigured_localhost_brand_fails_the_system_checks(
    settings: SettingsWrapper,
) -> None:
    settings.LOCALHOST_BRAND = "karaoke"
    assert "brands.E001" in {m.id for m in run_checks()}
    settings.LOCALHOST_BRAND = "vocals-remover"
    assert "brands.E001" not in {m.id for m in run_checks()}


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize("brand", registry.all_brands(), ids=lambda b: b.slug)
def test_brand_colours_meet_wcag_aa_contrast(brand: registry.Brand) -> None:
    p = brand.palette
    pairs = {
        "text on background": (p.text, p.background),
        "text on surface": (p.text, p.surface),
        "muted on background": (p.muted, p.background),
        "muted on surface": (p.muted, p.surface),
        "links on background": (p.primary, p.background),
        "links on surface": (p.primary, p.surface),
        "button text": (p.on_primary, p.primary),
    }
    for what, (fg, bg) in pairs.items():
        assert _contrast(fg, bg) >= 4.5, f"{brand.slug}: {what} is {_contrast(fg, bg):.2f}:1"


def test_a_brand_app_overrides_only_what_differs() -> None:
    acapella = Client().get("/", headers={"host": "acapella-extractor.localhost"})
    vocals = Client().get("/", headers={"host": "vocals-remover.localhost"})
    assert "For the cleanest acapella" in acapella.content.decode()
    assert "For the cleanest acapella" not in vocals.content.decode()
    # The shared page is still the one underneath.
    assert "How it works" in acapella.content.decode()
