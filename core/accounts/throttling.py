"""The answer to a throttled login, sign-up or reset: 429 with Retry-After, in the brand's page."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def too_many_requests(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Refuse the attempt and say when to try again (allauth calls this as handler429)."""
    wait = settings.LOGIN_FAILURE_WINDOW
    response = render(
        request,
        "web/message.html",
        {
            "title": "Too many attempts",
            "message": (
                "There were too many attempts from here or for this account. "
                f"Please wait {max(1, wait // 60)} minutes and try again, "
                "or reset your password."
            ),
        },
        status=429,
    )
    # Counters slide over the window; waiting a whole window always clears them.
    response["Retry-After"] = str(wait)
    return response
