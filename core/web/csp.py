"""A Content-Security-Policy on every response: no inline script or style runs anywhere."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse

HEADER = "Content-Security-Policy"


def storage_origins() -> list[str]:
    """Return where signed media URLs point when storage is an S3 bucket (players load them)."""
    default = settings.STORAGES.get("default", {})
    if not str(default.get("BACKEND", "")).startswith("storages.backends.s3"):
        return []
    options = default.get("OPTIONS", {})
    endpoint = options.get("endpoint_url")
    if endpoint:
        parts = urlsplit(endpoint)
        # Virtual-hosted style puts the bucket in the host name.
        return [f"{parts.scheme}://{parts.netloc}", f"{parts.scheme}://*.{parts.netloc}"]
    bucket = options.get("bucket_name", "")
    region = options.get("region_name")
    origins = [f"https://{bucket}.s3.amazonaws.com"]
    if region:
        origins.append(f"https://{bucket}.s3.{region}.amazonaws.com")
    return origins


def policy() -> str:
    """Build the policy from settings (cheap: a few string joins per response)."""
    media = " ".join([*settings.CSP_MEDIA_SOURCES, *storage_origins()])
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
