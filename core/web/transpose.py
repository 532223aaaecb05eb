"""The instrumental in a new key and tempo: the page, its 30-second preview and the download.

A plain GET form (`pitch` in semitones, `tempo` in percent), so it works without JavaScript;
each rendering is a delivery (core.jobs.deliveries.transposed), made once and kept in storage.
"""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from core.http import files
from core.jobs import deliveries
from core.jobs import transposition as tr
from core.jobs.media import SeparationError
from core.jobs.models import Job
from core.web import previews
from core.web.views import _brand, _download_formats, _finished_job, _format_refused, _unavailable


def _instrumental_job(request: HttpRequest, job_id: uuid.UUID) -> Job:
    """Return the finished job if it delivers the instrumental (the Vocals Remover's stem)."""
    job = _finished_job(request, job_id)
    if job.stem != Job.Stem.ACCOMPANIMENT:
        raise Http404("Only an instrumental can change key and tempo here.")
    return job


def _shift(request: HttpRequest) -> tr.Shift:
    """Return the shift of the page's GET form; `tempo` is in percent there."""
    percent = request.GET.get("tempo", "").strip()
    if percent:
        try:
            factor = str(int(percent) / 100)
        except ValueError:
            raise tr.InvalidShift("tempo", "Tempo: a whole percentage from 70 to 130.") from None
    else:
        factor = ""
    try:
        return tr.parse(request.GET.get("pitch"), factor)
    except tr.InvalidShift as exc:
        if exc.field == "tempo":
            raise tr.InvalidShift("tempo", "Tempo: a whole percentage from 70 to 130.") from exc
        raise tr.InvalidShift("pitch", "Key: from 6 semitones down to 6 up.") from exc


def _query(shift: tr.Shift, **extra: str) -> str:
    """Return the GET parameters of a shift, as the page's links carry them."""
    return urlencode({"pitch": shift.semitones, "tempo": shift.percent, **extra})


@never_cache
@require_safe
def transpose_page(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    """Show the key and tempo form; with values, the new key, a preview and the downloads."""
    job = _instrumental_job(request, job_id)
    analysis = job.separation.analysis
    error: tr.InvalidShift | None = None
    try:
        shift = _shift(request)
    except tr.InvalidShift as exc:
        error, shift = exc, tr.Shift()
    asked = not error and ("pitch" in request.GET or "tempo" in request.GET)
    context = {
        "job": job,
        "shift": shift,
        "error": error,
        "asked": asked,
        "form": tr.form(analysis, shift),
        "original_key": tr.key_after(analysis, 0),
        "new_key": tr.key_after(analysis, shift.semitones),
        "new_bpm": tr.bpm_after(analysis, shift),
        "query": _query(shift),
        "formats": _download_formats(job),
        "preview_seconds": round(tr.PREVIEW_SECONDS),
        "stem_label": _brand(request).stem_label,
    }
    return render(
        request,
        _brand(request).template_names("web/transpose.html"),
        context,
        status=400 if error else 200,
    )


def _refused(request: HttpRequest, error: tr.InvalidShift) -> HttpResponse:
    return render(
        request,
        "web/message.html",
        {"title": "That key or tempo cannot be made", "message": error.message},
        status=400,
    )


@require_safe
def transpose_preview(request: HttpRequest, job_id: uuid.UUID) -> HttpResponseBase:
    """Play the first 30 seconds of the instrumental in the asked key and tempo (MP3)."""
    job = _instrumental_job(request, job_id)
    try:
        shift = _shift(request)
    except tr.InvalidShift as exc:
        return _refused(request, exc)
    try:
        name = deliveries.transposed(job.separation, job.stem, "mp3", shift, preview=True)
    except SeparationError as exc:
        return _unavailable(request, exc)
    except FileNotFoundError as exc:
        raise Http404("The files of this job are gone.") from exc
    return files.serve(request, name, content_type="audio/mpeg")


@require_safe
def transpose_download(request: HttpRequest, job_id: uuid.UUID) -> HttpResponseBase:
    """Download the whole instrumental in the asked key and tempo, MP3 or the plan's formats."""
    job = _instrumental_job(request, job_id)
    try:
        shift = _shift(request)
    except tr.InvalidShift as exc:
        return _refused(request, exc)
    fmt = request.GET.get("format", "mp3")
    refused = _format_refused(request, job, fmt)
    if refused is not None:
        return refused
    try:
        name = deliveries.transposed(job.separation, job.stem, fmt, shift)
    except SeparationError as exc:
        return _unavailable(request, exc)
    except FileNotFoundError as exc:
        raise Http404("The files of this job are gone.") from exc
    label = previews.file_label(job, _brand(request).stem_label)
    if not shift.identity:
        label = f"{label}, {shift.label()}"
    return files.serve(
        request,
        name,
        content_type=deliveries.CONTENT_TYPES[fmt],
        filename=deliveries.download_name(job.original_name, label, fmt),
        as_attachment=True,
    )
