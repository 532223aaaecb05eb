"""The operations page of the admin: queues, jobs per state, workers and their speed."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from core.health.stats import snapshot


def operations(request: HttpRequest) -> HttpResponse:
    """Show the pool's state now (staff only: wrapped by admin.site.admin_view)."""
    snap = snapshot()
    context = {
        **admin.site.each_context(request),
        "title": "Operations",
        "snap": snap,
        "window_minutes": round(snap.window_seconds / 60),
        "link_window_hours": round(snap.link_window_seconds / 3600),
    }
    return TemplateResponse(request, "health/operations.html", context)
