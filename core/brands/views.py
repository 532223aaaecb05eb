"""The brand's palette as a stylesheet, so that no page needs an inline style (strict CSP)."""

from __future__ import annotations

import hashlib
from dataclasses import astuple

from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.views.decorators.http import require_safe

from core.brands.registry import Brand


def palette_version(brand: Brand) -> str:
    """Return a short fingerprint of the brand's colours, for cache busting."""
    return hashlib.sha256("|".join(astuple(brand.palette)).encode()).hexdigest()[:12]


@require_safe
def palette_css(request: HttpRequest) -> HttpResponse:
    """Serve the CSS variables of the request's brand; site.css reads only these."""
    brand: Brand = request.brand  # type: ignore[attr-defined]
    body = render_to_string("brands/palette.css", {"palette": brand.palette})
    response = HttpResponse(body, content_type="text/css; charset=utf-8")
    # Pages link it with ?v=<fingerprint>, so a changed palette is a new URL.
    response["Cache-Control"] = "public, max-age=86400"
    response["Vary"] = "Host"
    return response
