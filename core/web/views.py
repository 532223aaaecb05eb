"""Pages of the branded sites. Thin: state changes go through core.jobs.services."""

from __future__ import annotations

import logging
import math
import uuid
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files import File
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from core.billing import plans
from core.brands.links import brand_url
from core.brands.registry import Brand, other_brand
from core.http import files, ratelimit
from core.humanize import human_duration, human_size
from core.jobs import deliveries, live_streams, progress, selectors, services, transposition
from core.jobs.media import SeparationError
from core.jobs.models import Job, LinkImport, Separation
from core.web import advice, previews
from core.web.forms import LinkForm, UploadForm
from shared_separation.errors import Code, status_of
from shared_separation.links import LinkError

logger = logging.getLogger(__name__)

REFRESH_SECONDS = 3  # how often the job page reloads itself when JavaScript is off


def _brand(request: HttpRequest) -> Brand:
    brand: Brand = request.brand  # type: ignore[attr-defined]
    return brand


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _plan(request: HttpRequest) -> plans.Plan:
    """Return the visitor's plan: its limits apply to every song submitted here."""
    return plans.plan_for(request.user)


def _limits(plan: plans.Plan) -> dict[str, Any]:
    return {
        "max_size": human_size(plan.max_upload_bytes),
        "max_duration": human_duration(plan.max_duration),
        "plan": plan,
        "formats": sorted(plan.formats, key=["mp3", "wav", "flac"].index),
        # Longer songs that a higher plan takes are previewed for free (core.web.previews).
        "preview_seconds": (
            round(settings.PREVIEW_SECONDS)
            if plans.longest_previewable(plan) > plan.max_duration
            else None
        ),
    }


@require_http_methods(["GET", "HEAD", "POST"])
def home(request: HttpRequest) -> HttpResponse:
    """Show the upload form; take an upload and send the visitor to its job page."""
    if request.method == "POST":
        return _upload(request)
    return _render_home(request, UploadForm(plan=_plan(request)))


def _render_home(
    request: HttpRequest,
    form: UploadForm,
    *,
    status: int = 200,
    error: str = "",
    link_form: LinkForm | None = None,
    link_error: str = "",
) -> HttpResponse:
    errors = [*form.errors.get("file", []), *form.errors.get("format", [])]
    context = {
        "form": form,
        "error": error or str(next(iter(errors), "")),
        "link_form": link_form or LinkForm(),
        "link_error": link_error,
        "max_bytes": form.plan.max_upload_bytes,
        **_limits(form.plan),
    }
    return render(request, _brand(request).template_names("web/home.html"), context, status=status)


def _refuse(
    request: HttpRequest,
    form: UploadForm,
    status: int,
    error: str = "",
    **facts: Any,
) -> HttpResponse:
    errors = [*form.errors.get("file", []), *form.errors.get("format", [])]
    message = error or str(next(iter(errors), "The upload was refused."))
    logger.info("upload refused (%s): %s", status, message)
    if _wants_json(request):
        return JsonResponse({"error": message, **facts}, status=status)
    return _render_home(request, form, status=status, error=message)


def _over_quota(wait: int) -> str:
    return (
        f"You have separated {settings.ANON_SUBMISSIONS_PER_HOUR} songs in the last hour, "
        f"the limit for now. Please try again in {_minutes(wait)}."
    )


def _upload(request: HttpRequest) -> HttpResponse:
    brand = _brand(request)
    plan = _plan(request)
    client = ratelimit.client_id(request)
    wait = ratelimit.retry_after(client)
    if wait:
        # Refused before the body is read: a client over its quota costs no disk or probing.
        response = _refuse(request, UploadForm(plan=plan), 429, _over_quota(wait))
        response["Retry-After"] = str(wait)
        return response
    try:
        # Refused before reading the body, so an oversized upload never reaches the disk.
        services.check_request_length(plan, request.META.get("CONTENT_LENGTH"))
    except services.Refusal as refusal:
        return _refused(request, UploadForm(plan=plan), refusal)
    form = UploadForm(request.POST, request.FILES, plan=plan)
    if not form.is_valid():
        return _refuse(request, form, 400)
    uploads = form.cleaned_data["file"]
    order = services.Order(
        stem=brand.stem,
        brand=brand.slug,
        format=form.cleaned_data["format"],
        owner=request.user if isinstance(request.user, User) else None,
        plan=plan,
    )
    songs = [(File(upload, name=upload.name), upload.name or "song") for upload in uploads]
    try:
        jobs = services.take_many(songs, order)
    except services.Refusal as refusal:
        return _refused(request, form, refusal)
    ratelimit.record(client)
    urls = [reverse("web:job", args=[job.pk]) for job in jobs]
    # Several songs: the account page lists them all, each with its state.
    url = urls[0] if len(urls) == 1 else reverse("accounts:overview")
    if _wants_json(request):
        more = {"jobs": urls} if len(urls) > 1 else {}
        return JsonResponse({"redirect": url, **more}, status=201)
    return HttpResponseRedirect(url, status=303)


def _refused(request: HttpRequest, form: UploadForm, refusal: services.Refusal) -> HttpResponse:
    """Answer the intake's refusal: its status, its message, its code and facts for scripts."""
    if refusal.code == Code.INSUFFICIENT_CREDITS:
        return _payment_required(request, refusal)
    return _refuse(request, form, refusal.status, refusal.message, code=refusal.code)


def _payment_required(request: HttpRequest, refusal: services.Refusal) -> HttpResponse:
    """Answer 402 with the balance: the song needs more credits than the account has."""
    message = refusal.message
    submitted = int(refusal.facts.get("submitted") or 0)
    if submitted:
        message += f" The first {submitted} song{pluralize(submitted)} went through."
    logger.info("upload refused (402): %s", message)
    balance, needed = refusal.facts["balance"], refusal.facts["needed"]
    if _wants_json(request):
        return JsonResponse(
            {"error": message, "code": refusal.code, "balance": balance, "needed": needed},
            status=402,
        )
    context = {"title": "Not enough credits", "message": message, "balance": balance}
    return render(request, "web/message.html", context, status=402)


def _refuse_link(request: HttpRequest, form: LinkForm, status: int, message: str) -> HttpResponse:
    logger.info("link refused (%s): %s", status, message)
    if _wants_json(request):
        return JsonResponse({"error": message}, status=status)
    upload_form = UploadForm(plan=_plan(request))
    return _render_home(request, upload_form, status=status, link_form=form, link_error=message)


@require_POST
def link_submit(request: HttpRequest) -> HttpResponse:
    """Take a pasted link, queue its import and send the visitor to the link's (or job's) page."""
    brand = _brand(request)
    client = ratelimit.client_id(request)
    form = LinkForm(request.POST)
    wait = ratelimit.retry_after(client)
    if wait:
        response = _refuse_link(request, form, 429, _over_quota(wait))
        response["Retry-After"] = str(wait)
        return response
    if not form.is_valid():
        return _refuse_link(request, form, 400, str(form.errors["url"][0]))
    try:
        link = services.submit_link(
            form.cleaned_data["url"],
            stem=brand.stem,
            brand=brand.slug,
            client=client,
            # The owner pays, and the worker fetches within the owner's plan (its length).
            owner=request.user if isinstance(request.user, User) else None,
        )
    except LinkError as exc:
        return _refuse_link(request, form, status_of(exc.code), exc.message)
    ratelimit.record(client)
    # A video fetched before is already a job: straight to its page.
    if link.job_id is not None:
        url = reverse("web:job", args=[link.job_id])
    else:
        url = reverse("web:link", args=[link.pk])
    if _wants_json(request):
        return JsonResponse({"redirect": url}, status=201)
    return HttpResponseRedirect(url, status=303)


def _link(request: HttpRequest, link_id: uuid.UUID) -> LinkImport:
    link = selectors.link_for_brand(link_id, _brand(request).slug)
    if link is None:
        raise Http404("No such link on this site.")
    return link


def _link_status(link: LinkImport) -> dict[str, Any]:
    done = link.status == LinkImport.Status.SUCCEEDED and link.job_id is not None
    failed = link.status == LinkImport.Status.FAILED
    return {
        "state": "done" if done else "failed" if failed else "fetching",
        "finished": done or failed,
        "redirect": reverse("web:job", args=[link.job_id]) if done else None,
        "error": link.error_message if failed else None,
        # Stable for scripts: shared_separation.links' codes (bot_check, stream_only, ...).
        "code": link.error_code if failed else None,
    }


@never_cache
@require_safe
def link_page(request: HttpRequest, link_id: uuid.UUID) -> HttpResponse:
    """Show a link being fetched; go on to its job page once its audio is in, or say why not."""
    link = _link(request, link_id)
    status = _link_status(link)
    if status["redirect"]:
        return redirect(status["redirect"])
    context = {
        "link": link,
        **status,
        "refresh_seconds": REFRESH_SECONDS,
        "advice": advice.for_link(link.error_code),
    }
    return render(request, _brand(request).template_names("web/link.html"), context)


@never_cache
@require_safe
def link_status(request: HttpRequest, link_id: uuid.UUID) -> JsonResponse:
    """Return the link import's state as JSON, for the page's polling script."""
    return JsonResponse(_link_status(_link(request, link_id)))


def _minutes(seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


def _job(request: HttpRequest, job_id: uuid.UUID) -> Job:
    job = selectors.job_for_brand(job_id, _brand(request).slug)
    if job is None:
        raise Http404("No such job on this site.")
    return job


def _state(job: Job) -> str:
    """Return what the page shows: waiting, running, done, failed or gone."""
    if job.status == Job.Status.QUEUED:
        return "waiting"
    if job.status == Job.Status.RUNNING:
        return "running"
    if job.status == Job.Status.SUCCEEDED:
        return "done"
    if job.status == Job.Status.FAILED:
        return "failed"
    return "gone"  # cancelled or expired


def _status(job: Job) -> dict[str, Any]:
    separation: Separation = job.separation
    state = _state(job)
    return {
        "state": state,
        "status": job.status,
        "queue_position": selectors.queue_position(separation) if state == "waiting" else None,
        "progress": round(progress.current(separation), 3) if state == "running" else None,
        "finished": state not in ("waiting", "running"),
        "tempo_and_key": selectors.tempo_and_key(separation) if state == "done" else None,
    }


def _other_stem_url(request: HttpRequest, job: Job) -> str | None:
    """Return the other brand's address for this job's other stem, on the same port."""
    other = other_brand(_brand(request))
    if other is None or job.status != Job.Status.SUCCEEDED:
        return None
    return brand_url(request, other, reverse("web:other_stem", args=[job.pk]))


def _download_formats(job: Job) -> list[str]:
    """Return the formats a job may be downloaded in: its owner's plan's, and the one it asked."""
    allowed = plans.plan_for(job.owner).formats | {job.format}
    return [fmt for fmt in deliveries.FORMATS if fmt in allowed]


@never_cache
@require_safe
def job_page(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    """Show a job: its place in the queue, its progress, its result or why it failed."""
    job = _job(request, job_id)
    status = _status(job)
    context = {
        "job": job,
        **status,
        "progress_percent": round((status["progress"] or 0) * 100),
        "refresh_seconds": REFRESH_SECONDS,
        "advice": advice.for_job(job.error_code),
        "other_stem_url": _other_stem_url(request, job),
        "live_streams": settings.LIVE_STREAMS,
        "files_expire_at": selectors.files_expire_at(job.separation),
        "tempo_and_key": selectors.tempo_and_key(job.separation),
        "formats": Job.Format.choices,
        "lossless_formats": [f for f in _download_formats(job) if f != "mp3"],
        "download_name": deliveries.download_name(
            job.original_name, previews.file_label(job, _brand(request).stem_label), "mp3"
        ),
        "preview": previews.describe(request, job),
        # The instrumental's page offers it in another key and tempo (core/web/transpose.py).
        "transpose_form": transposition.form(job.separation.analysis)
        if status["state"] == "done" and job.stem == Job.Stem.ACCOMPANIMENT
        else None,
    }
    return render(request, _brand(request).template_names("web/job.html"), context)


@never_cache
@require_safe
def job_status(request: HttpRequest, job_id: uuid.UUID) -> JsonResponse:
    """Return the job's state as JSON, for the page's polling script."""
    return JsonResponse(_status(_job(request, job_id)))


def _finished_job(request: HttpRequest, job_id: uuid.UUID) -> Job:
    job = _job(request, job_id)
    if job.status != Job.Status.SUCCEEDED:
        raise Http404("This job has no result (yet).")
    return job


def _unavailable(request: HttpRequest, exc: SeparationError) -> HttpResponse:
    logger.error("delivery failed: %s (%s)", exc.message, exc.code)
    return render(
        request,
        "web/message.html",
        {
            "title": "The file could not be prepared",
            "message": "Something went wrong while preparing your file. Please try again.",
        },
        status=503,
    )


@require_safe
def job_audio(request: HttpRequest, job_id: uuid.UUID, which: str) -> HttpResponseBase:
    """Stream the delivered stem, or the original, as MP3 for the page's players."""
    if which not in ("result", "original"):
        raise Http404("No such audio.")
    job = _finished_job(request, job_id)
    source = deliveries.ORIGINAL if which == "original" else job.stem
    try:
        name = deliveries.encoded(job.separation, source, "mp3")
    except SeparationError as exc:
        return _unavailable(request, exc)
    except FileNotFoundError as exc:
        raise Http404("The files of this job are gone.") from exc
    return files.serve(request, name, content_type="audio/mpeg")


@require_safe
def job_stream(request: HttpRequest, job_id: uuid.UUID) -> HttpResponseBase:
    """Play the delivered stem while it is separated (a growing MP3), or the finished one."""
    job = _job(request, job_id)
    if job.status == Job.Status.SUCCEEDED:
        return redirect("web:job_audio", job_id=job.pk, which="result")
    refused = live_streams.refusal(job, job.stem)
    if refused is not None:
        if _wants_json(request):
            return JsonResponse({"error": refused.message}, status=refused.status)
        title = "No live playback" if refused.status != 410 else "These files are gone"
        context = {"title": title, "message": refused.message, "home_link": True}
        return render(request, "web/message.html", context, status=refused.status)
    return live_streams.response(job, job.stem)


@require_safe
def job_peaks(request: HttpRequest, job_id: uuid.UUID) -> JsonResponse:
    """Return the delivered stem's waveform peaks, for drawing it."""
    job = _finished_job(request, job_id)
    try:
        peaks = deliveries.peaks(job.separation, job.stem)
    except (SeparationError, FileNotFoundError) as exc:
        raise Http404("The waveform is not available.") from exc
    response = JsonResponse({"peaks": peaks})
    response["Cache-Control"] = "private, max-age=3600"
    return response


def _format_refused(request: HttpRequest, job: Job, fmt: str) -> HttpResponse | None:
    """Answer a download in a format that does not exist or that the job's plan lacks."""
    if fmt not in deliveries.FORMATS:
        return render(
            request,
            "web/message.html",
            {"title": "Unknown format", "message": "Choose MP3, WAV or FLAC."},
            status=400,
        )
    if fmt not in _download_formats(job):
        plan = plans.plan_for(job.owner)
        needed = plans.cheapest_plan_allowing(fmt=fmt)
        message = plans.plan_refusal(plan, needed, f"Downloading {fmt.upper()}")
        return render(
            request,
            "web/message.html",
            {"title": "Lossless files come with Pro", "message": message, "pricing_link": True},
            status=403,
        )
    return None


@require_safe
def job_download(request: HttpRequest, job_id: uuid.UUID) -> HttpResponseBase:
    """Download the delivered stem as `<song> (<Stem label>).<format>` (MP3 320 kbps default)."""
    job = _finished_job(request, job_id)
    fmt = request.GET.get("format", job.format)
    refused = _format_refused(request, job, fmt)
    if refused is not None:
        return refused
    try:
        name = deliveries.encoded(job.separation, job.stem, fmt)
    except SeparationError as exc:
        return _unavailable(request, exc)
    except FileNotFoundError as exc:
        raise Http404("The files of this job are gone.") from exc
    label = previews.file_label(job, _brand(request).stem_label)
    filename = deliveries.download_name(job.original_name, label, fmt)
    return files.serve(
        request,
        name,
        content_type=deliveries.CONTENT_TYPES[fmt],
        filename=filename,
        as_attachment=True,
    )


@require_safe
def other_stem(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    """Open this brand's stem of a job made on the other brand, reusing its separation."""
    brand = _brand(request)
    parent = selectors.job_by_id(job_id)
    if parent is None:
        raise Http404("No such job.")
    try:
        job = services.derive_job(parent, brand=brand.slug, stem=brand.stem)
    except services.JobUnavailable:
        return render(
            request,
            "web/message.html",
            {
                "title": "These files are gone",
                "message": "The song's files have been deleted. Upload it again here.",
                "home_link": True,
            },
            status=410,
        )
    return redirect("web:job", job_id=job.pk)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """Explain a refused form (expired page, cookies blocked) instead of Django's bare 403."""
    logger.info("CSRF failure: %s", reason)
    message = (
        "This form has expired or your browser blocked its security cookie. "
        "Reload the page and try again."
    )
    if _wants_json(request):
        return JsonResponse({"error": message}, status=403)
    if getattr(request, "brand", None) is None:
        return HttpResponse(message, status=403, content_type="text/plain; charset=utf-8")
    return render(
        request,
        "web/message.html",
        {"title": "Please reload the page", "message": message, "home_link": True},
        status=403,
    )
