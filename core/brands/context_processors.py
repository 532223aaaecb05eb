"""Put the request's brand (and the other brand) into every template."""

from __future__ import annotations

from django.http import HttpRequest

from core.brands import registry
from core.brands.links import brand_url


def brand(request: HttpRequest) -> dict[str, object]:
    """Return `brand`, `other_brand` and `other_brand_url`; empty where no brand was chosen."""
    current = getattr(request, "brand", None)
    if current is None:
        return {}
    other = registry.other_brand(current)
    return {
        "brand": current,
        "other_brand": other,
        "other_brand_url": brand_url(request, other) if other else "",
    }
