"""The Vocals Remover brand: the instrumental, its own look, texts and SEO."""

from __future__ import annotations

from django.contrib.staticfiles import finders

from core.brands import registry
from vocals_remover.brand import BRAND


def test_the_brand_delivers_the_instrumental_and_is_registered() -> None:
    assert registry.get("vocals-remover") is BRAND
    assert (BRAND.stem, BRAND.stem_label) == ("accompaniment", "Instrumental")
    assert BRAND.other_stem_prompt == "Need the vocals instead?"


def test_its_logo_and_preview_image_are_static_files() -> None:
    for path in (BRAND.logo, BRAND.seo.og_image):
        assert finders.find(path), path


def test_its_search_snippet_fits_what_engines_show() -> None:
    assert len(BRAND.seo.title) <= 60
    assert 70 <= len(BRAND.seo.description) <= 160
