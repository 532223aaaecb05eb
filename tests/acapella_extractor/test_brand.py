"""The Acapella Extractor brand: the vocals, its own look, texts and SEO."""

from __future__ import annotations

from django.contrib.staticfiles import finders

from acapella_extractor.brand import BRAND
from core.brands import registry


def test_the_brand_delivers_the_vocals_and_is_registered() -> None:
    assert registry.get("acapella-extractor") is BRAND
    assert (BRAND.stem, BRAND.stem_label) == ("vocals", "Acapella")
    assert BRAND.other_stem_prompt == "Need the instrumental instead?"


def test_its_logo_and_preview_image_are_static_files() -> None:
    for path in (BRAND.logo, BRAND.seo.og_image):
        assert finders.find(path), path


def test_its_search_snippet_fits_what_engines_show() -> None:
    assert len(BRAND.seo.title) <= 60
    assert 70 <= len(BRAND.seo.description) <= 160
