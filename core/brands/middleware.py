"""Pick the brand from the request's host; refuse a host that no brand serves."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.http.request import split_domain_port
from django.template.loader import render_to_string

from core.brands import registry

logger = logging.getLogger(__name__)


class BrandMiddleware:
    """Set `request.brand` (and the brand's urlconf, if it has one) from the Host header."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            host = request.get_host()
        except DisallowedHost:
            # Not in ALLOWED_HOSTS: answer here with a readable page instead of a bare 400.
            host = ""
        domain, _port = split_domain_port(host)
        brand = registry.for_host(domain) if domain else None
        if brand is None:
            logger.info("request for unknown host %r refused", request.META.get("HTTP_HOST"))
            return _unknown_host(request)
        request.brand = brand  # type: ignore[attr-defined]
        if brand.urlconf:
            request.urlconf = brand.urlconf  # type: ignore[attr-defined]
        return self.get_response(request)


def _unknown_host(request: HttpRequest) -> HttpResponse:
    """Say which sites exist rather than serving a brand the visitor did not ask for."""
    body = render_to_string(
        "brands/unknown_host.html",
        {"brands": registry.all_brands(), "host": request.META.get("HTTP_HOST", "")},
    )
    return HttpResponseBadRequest(body)
