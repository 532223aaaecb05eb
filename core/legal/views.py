"""Terms, privacy, contact and copyright: written once, each reading the brand and settings."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.defaultfilters import pluralize
from django.views.decorators.http import require_http_methods, require_safe

from core.billing import plans
from core.brands.registry import Brand
from core.humanize import human_duration
from core.legal import services
from core.legal.forms import TakedownForm

# The day the texts last changed, shown on each page.
UPDATED = "2 December 2026"


def _brand(request: HttpRequest) -> Brand:
    brand: Brand = request.brand  # type: ignore[attr-defined]
    return brand


def _kept(delta: timedelta) -> str:
    """Return a retention as people read it: 7 days, 24 hours."""
    hours = round(delta.total_seconds() / 3600)
    if hours >= 48 and hours % 24 == 0:
        return f"{hours // 24} days"
    return f"{hours} hour{pluralize(hours)}"


def _context(request: HttpRequest, title: str, description: str, **extra: Any) -> dict[str, Any]:
    brand = _brand(request)
    return {
        "page_title": f"{title} · {brand.name}",
        "page_description": description.format(brand=brand.name),
        "operator": settings.LEGAL_OPERATOR,
        "contact_email": services.contact_email(brand),
        "host": brand.domain,
        "updated": UPDATED,
        **extra,
    }


@require_safe
def terms(request: HttpRequest) -> HttpResponse:
    """Show the terms of service."""
    context = _context(
        request,
        "Terms of service",
        "The terms of {brand}: your songs and your rights, limits, accounts and credits.",
        free_length=human_duration(plans.free_plan().max_duration),
        pro_length=human_duration(plans.paid_plan().max_duration),
    )
    return render(request, "legal/terms.html", context)


@require_safe
def privacy(request: HttpRequest) -> HttpResponse:
    """Show what is stored, for how long, and who else sees it."""
    s3 = settings.STORAGES["default"]["BACKEND"] != "django.core.files.storage.FileSystemStorage"
    bucket = "an S3-compatible storage provider" if s3 else ""
    context = _context(
        request,
        "Privacy policy",
        "What {brand} stores, how long it keeps your songs, who else sees them, and cookies.",
        free_retention=_kept(plans.free_plan().retention),
        pro_retention=_kept(plans.paid_plan().retention),
        anon_retention=_kept(plans.anonymous_plan().retention),
        house_retention=_kept(plans.house_plan().retention),
        storage_provider=settings.STORAGE_PROVIDER_NAME or bucket,
        submissions_per_hour=settings.ANON_SUBMISSIONS_PER_HOUR,
        sentry=bool(settings.SENTRY_DSN),
    )
    return render(request, "legal/privacy.html", context)


@require_safe
def contact(request: HttpRequest) -> HttpResponse:
    """Show where to write to."""
    context = _context(request, "Contact", "How to reach the people behind {brand}.")
    return render(request, "legal/contact.html", context)


@require_http_methods(["GET", "HEAD", "POST"])
def copyright_policy(request: HttpRequest) -> HttpResponse:
    """Show the copyright policy and its takedown form; store a notice sent with it."""
    form = TakedownForm(request.POST or None)
    title = "Copyright policy"
    about = "How {brand} handles copyright, and the form to have a song taken down."
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            notice = services.receive_notice(
                brand=_brand(request).slug,
                work=data["work"],
                location=data["location"],
                name=data["name"],
                email=data["email"],
                good_faith=data["good_faith"],
            )
            context = _context(request, "Notice received", about, notice=notice)
            return render(request, "legal/notice_received.html", context, status=201)
        context = _context(request, title, about, form=form)
        return render(request, "legal/copyright.html", context, status=400)
    return render(request, "legal/copyright.html", _context(request, title, about, form=form))
