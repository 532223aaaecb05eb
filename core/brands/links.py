"""Absolute links to a brand's site, keeping the port the visitor uses (locally :8000)."""

from __future__ import annotations

from django.http import HttpRequest
from django.http.request import split_domain_port

from core.brands.registry import Brand


def brand_url(request: HttpRequest, brand: Brand, path: str = "/") -> str:
    """Return `scheme://<brand domain>[:port]<path>` as seen from this request."""
    _host, port = split_domain_port(request.get_host())
    netloc = f"{brand.domain}:{port}" if port else brand.domain
    return f"{request.scheme}://{netloc}{path}"
