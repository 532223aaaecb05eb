"""A Content-Security-Policy on every response: no inline script or style runs anywhere."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from django.conf import settings
from django.http import HttpRequest, HttpResponse

HEADER = "Content-Security-Policy"


@cache
def policy() -> str:
    """Build the policy from settings once per process."""
    media = " ".join(settings.CSP_MEDIA_SOURCES)
    forms = " ".join(settings.CSP_FORM_ACTION_SOURCES)
    directives = {
        "default-src": "'self'",
        "script-src": "'self'",
        "style-src": "'self'",
        # data: for the favicon fallbacks browsers build; media and downloads may come from a
        # bucket's signed URLs when storage is S3.
        "img-src": f"'self' data: {media}",
        "media-src": f"'self' blob: {media}",
        "connect-src": f"'self' {media}",
        "font-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'none'",
        "frame-ancestors": "'none'",
        # Checkout is a redirect after a POST, which form-action also governs.
        "form-action": f"'self' {forms}",
    }
    return "; ".join(f"{name} {value.strip()}" for name, value in directives.items())


class ContentSecurityPolicyMiddleware:
    """Add the policy unless a view set its own (the API docs page, for instance)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if HEADER not in response:
            response[HEADER] = policy()
        return response
