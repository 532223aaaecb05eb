"""The account page. Thin: balances and history come from the billing selectors."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from core.accounts import services
from core.billing import catalog, plans
from core.billing import selectors as billing
from core.brands import registry
from core.brands.links import brand_url
from core.jobs import selectors as jobs
from core.jobs.models import Job


@dataclass(frozen=True)
class JobRow:
    """A job as the account page lists it: on which site, and where to open it."""

    job: Job
    site: str
    url: str


def _job_rows(request: HttpRequest, user: User) -> list[JobRow]:
    rows = []
    for job in jobs.jobs_of_owner(user.pk):
        brand = registry.get(job.brand)
        # A job is only shown on its own brand's host: link there, keeping this port.
        url = brand_url(request, brand, reverse("web:job", args=[job.pk])) if brand else ""
        rows.append(JobRow(job=job, site=brand.name if brand else job.origin, url=url))
    return rows


@never_cache
@require_safe
@login_required
def overview(request: HttpRequest) -> HttpResponse:
    """Show the balance, the plan, the credit history and the jobs of both sites."""
    user = request.user
    assert isinstance(user, User)
    context = {
        "balance": billing.balance(user),
        "reserved": billing.reserved(user),
        "plan": plans.plan_for(user).name,
        "payments_enabled": catalog.payments_enabled(),
        "subscription": billing.active_subscription(user),
        "owed": billing.owed(user),
        "entries": billing.history(user),
        "job_rows": _job_rows(request, user),
        "grant_refused": services.signup_grant_refused(user),
    }
    return render(request, "accounts/overview.html", context)
