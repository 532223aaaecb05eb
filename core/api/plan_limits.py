"""The account's plan against a request: format, file size and song length, before storing."""

from __future__ import annotations

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile

from core.api.errors import ApiError
from core.billing import plans
from core.humanize import human_duration, human_size
from core.jobs import media
from core.jobs.media import ErrorCode, SeparationError

# Plans from the least to the most generous: only a more generous plan can be named.
_RANK = {plans.ANONYMOUS: 0, plans.FREE: 1, plans.PAID: 2}


def plan_error(plan: plans.Plan, what: str, allowing: plans.Plan | None) -> ApiError:
    """Return the 403 that names the plan allowing what the account's plan does not."""
    if allowing is None or _RANK.get(allowing.code, 0) <= _RANK.get(plan.code, 0):
        return ApiError(422, "not_allowed", f"{what} is not possible on any plan.")
    return ApiError(
        403,
        "plan_required",
        f"{what} is not included in your plan ({plan.name}); the {allowing.name} plan includes it.",
        plan=plan.code,
        required_plan=allowing.code,
    )


def check_format(plan: plans.Plan, fmt: str) -> None:
    """Refuse a format the plan does not include (403 naming the plan that does)."""
    if fmt not in plan.formats:
        raise plan_error(plan, fmt.upper(), plans.cheapest_plan_allowing(fmt=fmt))


def check_size(plan: plans.Plan, size: int) -> None:
    """Refuse a file over the plan's size limit (413)."""
    if size > plan.max_upload_bytes:
        raise ApiError(
            413,
            "too_large",
            f"The file is {human_size(size)}; the limit of your plan is "
            f"{human_size(plan.max_upload_bytes)}.",
            limit_bytes=plan.max_upload_bytes,
        )


def probe(plan: plans.Plan, upload: UploadedFile) -> float:
    """Return the length in seconds of an uploaded song, or refuse it with a clear error."""
    if not upload.size:
        raise ApiError(400, "empty_file", "The file is empty.")
    check_size(plan, upload.size)
    try:
        with media.local_path(upload) as path:
            info = media.probe(path)
    except SeparationError as exc:
        if exc.code == ErrorCode.EMPTY_FILE:
            raise ApiError(400, "empty_file", "The file is empty.") from exc
        if exc.code == ErrorCode.FFMPEG_MISSING:
            raise ApiError(503, "unavailable", "Uploads are unavailable right now.") from exc
        raise ApiError(
            415,
            "not_audio",
            f"{exc.message} Send an MP3, WAV, FLAC, M4A, OGG or a video with sound.",
        ) from exc
    if info.duration <= 0:
        raise ApiError(415, "not_audio", "The length of this file could not be read.")
    if info.duration > plan.max_duration:
        allowing = plans.cheapest_plan_allowing(duration=info.duration)
        if info.duration > settings.SEPARATION_MAX_DURATION:
            allowing = None
        raise plan_error(plan, f"A song of {human_duration(info.duration)}", allowing)
    return info.duration
