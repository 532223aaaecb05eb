"""Requests per minute per API key, counted in Redis (core.http.ratelimit)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from core.http import ratelimit

WINDOW_SECONDS = 60


class KeyRateThrottle(BaseThrottle):
    """Refuse a key's requests beyond API_REQUESTS_PER_MINUTE with 429 and Retry-After."""

    def __init__(self) -> None:
        self._wait = 0

    def allow_request(self, request: Request, view: Any) -> bool:
        """Count this request against its key; False once the key's minute is full."""
        key = request.auth
        prefix = getattr(key, "prefix", None)
        if not prefix:
            return True  # unauthenticated requests are refused before they could cost anything
        self._wait = ratelimit.take(
            f"api:{prefix}",
            limit=int(settings.API_REQUESTS_PER_MINUTE),
            window=WINDOW_SECONDS,
        )
        return self._wait == 0

    def wait(self) -> float | None:
        """Return the seconds until the key may ask again."""
        return float(self._wait)
