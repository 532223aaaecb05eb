"""Put the request's brand (and the other brand) into every template."""

from __future__ import annotations

from django.http import HttpRequest

from core.brands import registry
from core.brands.links import brand_url
from core.brands.views import palette_version


def brand(request: HttpRequest) -> dict[str, object]:
    """Return the brand, its palette's version and the other brand; empty without a brand."""
    current = getattr(request, "brand", None)
    if current is None:
        return {}
    other = registry.other_brand(current)
    return {
        "brand": current,
        # Canonical and preview addresses name the brand's own domain (never www. or an alias).
        "site_url": brand_url(request, current, ""),
        "canonical_url": brand_url(request, current, request.path),
        "palette_version": palette_version(current),
        "other_brand": other,
        "other_brand_url": brand_url(request, other) if other else "",
    }
