"""The upload form: size, type and length are checked before anything is stored."""

from __future__ import annotations

from django import forms
from django.core.files.uploadedfile import UploadedFile

from core.billing.plans import (
    Plan,
    anonymous_plan,
    cheapest_plan_allowing,
    plan_for_preview,
    plan_refusal,
)
from core.humanize import human_duration, human_size
from core.jobs import media
from core.jobs.media import ErrorCode, MediaInfo, SeparationError

# HTTP status per refusal, so scripts and the upload script can tell them apart.
STATUS_BY_CODE = {
    "required": 400,
    "empty": 400,
    "too_large": 413,
    "not_audio": 415,
    "too_long": 422,
    "too_many": 400,
    # A limit of the visitor's plan that a higher plan lifts: the message names that plan.
    "plan_required": 403,
    "unavailable": 503,
}
ACCEPT = "audio/*,video/*,.mp3,.wav,.flac,.m4a,.aac,.ogg,.opus,.wma,.aiff,.mp4,.mkv,.webm,.mov"


class MultipleFileInput(forms.ClearableFileInput):
    """A file input that lets a paying visitor choose several songs at once."""

    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """One or more files; cleaned into a list."""

    def clean(self, data: object, initial: object = None) -> list[UploadedFile]:
        """Return the uploads as a list, each checked as a file."""
        single = super().clean
        if isinstance(data, (list, tuple)):
            return [single(item, initial) for item in data] if data else [single(None, initial)]
        return [single(data, initial)]


class UploadForm(forms.Form):
    """Audio or video files, checked against the visitor's plan (the free tier by default)."""

    file = MultipleFileField(
        label="Choose a song",
        error_messages={"required": "Choose an audio or video file to upload."},
        widget=MultipleFileInput(attrs={"accept": ACCEPT}),
    )
    format = forms.ChoiceField(
        label="Format",
        required=False,
        choices=[("mp3", "MP3 320 kbps"), ("wav", "WAV"), ("flac", "FLAC")],
    )

    def __init__(self, *args: object, plan: Plan | None = None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.plan = plan or anonymous_plan()
        self.media_info: MediaInfo | None = None
        self.media_infos: list[MediaInfo] = []
        # Per file: too long for the plan but not for a higher one, so only previewed for free.
        self.previews: list[bool] = []

    def _lifted(self, what: str, **limit: float | int | str) -> forms.ValidationError | None:
        """Return the refusal naming the plan that lifts this limit, if a signed-in one does."""
        if self.plan.code == "anonymous":
            return None  # the free tier keeps its own messages and statuses
        message = plan_refusal(self.plan, cheapest_plan_allowing(**limit), what)  # type: ignore[arg-type]
        return forms.ValidationError(message, code="plan_required") if message else None

    def clean_format(self) -> str:
        """Refuse a format the plan does not include, naming the plan that does."""
        fmt: str = self.cleaned_data.get("format") or "mp3"
        if fmt not in self.plan.formats:
            message = plan_refusal(self.plan, cheapest_plan_allowing(fmt=fmt), fmt.upper())
            raise forms.ValidationError(
                message or f"{fmt.upper()} is not available.", code="plan_required"
            )
        return fmt

    def clean_file(self) -> list[UploadedFile]:
        """Refuse too many files, and empty, oversized, unreadable or overlong ones."""
        uploads: list[UploadedFile] = self.cleaned_data["file"]
        if len(uploads) > self.plan.max_files:
            refusal = self._lifted("Uploading several songs at once", files=len(uploads))
            if refusal is not None:
                raise refusal
            raise forms.ValidationError(
                f"Upload at most {self.plan.max_files} song{'s' if self.plan.max_files > 1 else ''}"
                " at once.",
                code="too_many",
            )
        self.previews = []
        self.media_infos = [self._clean_one(upload) for upload in uploads]
        self.media_info = self.media_infos[0]
        return uploads

    def _clean_one(self, upload: UploadedFile) -> MediaInfo:
        limit = self.plan.max_upload_bytes
        if not upload.size:
            raise forms.ValidationError("The file is empty. Choose another file.", code="empty")
        if upload.size > limit:
            refusal = self._lifted(f"A file of {human_size(upload.size)}", size=upload.size)
            if refusal is not None:
                raise refusal
            raise forms.ValidationError(
                f"The file is {human_size(upload.size)}; the limit is {human_size(limit)}. "
                "Upload a smaller file (an MP3 of a song is usually under 15 MB).",
                code="too_large",
            )
        try:
            with media.local_path(upload) as path:
                info = media.probe(path)
        except SeparationError as exc:
            if exc.code == ErrorCode.EMPTY_FILE:
                raise forms.ValidationError(
                    "The file is empty. Choose another file.", code="empty"
                ) from exc
            if exc.code == ErrorCode.FFMPEG_MISSING:
                raise forms.ValidationError(
                    "Uploads are unavailable right now. Please try again later.",
                    code="unavailable",
                ) from exc
            raise forms.ValidationError(
                f"{exc.message} Upload an MP3, WAV, FLAC, M4A, OGG or a video with sound.",
                code="not_audio",
            ) from exc
        if info.duration <= 0:
            raise forms.ValidationError(
                "The length of this file could not be read. Convert it to MP3 or WAV and "
                "upload it again.",
                code="not_audio",
            )
        max_duration = self.plan.max_duration
        preview = plan_for_preview(self.plan, info.duration) is not None
        self.previews.append(preview)
        if info.duration > max_duration and not preview:
            refusal = self._lifted(
                f"A song of {human_duration(info.duration)}", duration=info.duration
            )
            if refusal is not None:
                raise refusal
            raise forms.ValidationError(
                f"The song is {human_duration(info.duration)} long; the limit is "
                f"{human_duration(max_duration)}. Cut it shorter and upload it again.",
                code="too_long",
            )
        return info

    def error_status(self) -> int:
        """Return the HTTP status that fits the first error."""
        for field in ("file", "format"):
            for error in self.errors.as_data().get(field, []):
                return STATUS_BY_CODE.get(error.code or "", 400)
        return 400


class LinkForm(forms.Form):
    """A link to one song (a video or audio page); checked further by core.jobs.services."""

    # A CharField, not a URLField: Django's URL check would turn file:// or a bare host into
    # "Enter a valid URL", where the link check says exactly what is wrong.
    url = forms.CharField(
        label="Paste a link to a song",
        max_length=2048,
        error_messages={
            "required": "Paste a link to a song.",
            "max_length": "That link is too long.",
        },
        widget=forms.URLInput(attrs={"placeholder": "https://…", "inputmode": "url"}),
    )
