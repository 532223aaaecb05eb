"""The free preview of a song longer than the visitor's plan: its page block and the whole song."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from core.billing import plans
from core.billing.services import InsufficientCredits, credits_for_duration
from core.humanize import human_duration
from core.jobs import selectors, services
from core.jobs.models import Job


def file_label(job: Job, stem_label: str) -> str:
    """Return the label of a job's downloads: a preview's says it holds the first seconds only."""
    if not job.preview:
        return stem_label
    return f"{stem_label}, preview of the first {round(settings.PREVIEW_SECONDS)} seconds"


def describe(request: HttpRequest, job: Job) -> dict[str, Any] | None:
    """Return what the job page shows of a preview: the whole song's length, price and plan."""
    if not job.preview:
        return None
    full = job.full_source
    duration = full.duration if full is not None else None
    needed = plans.cheapest_plan_allowing(duration=duration) if duration else None
    current = plans.plan_for(request.user)
    return {
        "seconds": round(settings.PREVIEW_SECONDS),
        "length": human_duration(duration) if duration else "",
        # The whole song is priced as any song: one credit per started minute, on every plan.
        "credits": credits_for_duration(duration) if duration else None,
        "plan": needed,
        "current": current,
        # The visitor's plan takes the whole song now (they bought credits since, say).
        "allowed": duration is not None and duration <= current.max_duration,
        "stored": services.whole_song(job) is not None,
    }


def _message(request: HttpRequest, title: str, message: str, status: int) -> HttpResponse:
    context = {"title": title, "message": message, "home_link": True}
    return render(request, "web/message.html", context, status=status)


@require_POST
def separate_whole(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    """Separate the whole song of a preview, if the visitor's plan allows it; else see pricing."""
    job = selectors.job_for_brand(job_id, request.brand.slug)  # type: ignore[attr-defined]
    if job is None or not job.preview:
        raise Http404("No such preview on this site.")
    full = services.whole_song(job)
    if full is None:
        return _message(
            request,
            "This song is gone",
            "The song's files have been deleted. Upload it again.",
            410,
        )
    if full.duration is None or full.duration > plans.plan_for(request.user).max_duration:
        return HttpResponseRedirect(reverse("billing:pricing"), status=303)
    owner = request.user if isinstance(request.user, User) else None
    try:
        whole = services.submit_whole(job, owner=owner)
    except InsufficientCredits as exc:
        message = services.credits_message(exc.needed, exc.balance)
        return _message(request, "Not enough credits", message, 402)
    except FileNotFoundError:
        return _message(request, "This song is gone", "Upload the song again.", 410)
    return redirect("web:job", job_id=whole.pk)
