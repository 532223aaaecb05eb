"""The upload form: size, type and length are checked before anything is stored."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile

from shared_separation.engine import ErrorCode, MediaInfo, SeparationError, media

# HTTP status per refusal, so scripts and the upload script can tell them apart.
STATUS_BY_CODE = {
    "required": 400,
    "empty": 400,
    "too_large": 413,
    "not_audio": 415,
    "too_long": 422,
    "unavailable": 503,
}
ACCEPT = "audio/*,video/*,.mp3,.wav,.flac,.m4a,.aac,.ogg,.opus,.wma,.aiff,.mp4,.mkv,.webm,.mov"


def human_size(size: int) -> str:
    """Return a size as people read it (100 MB, 2.5 MB, 40 kB)."""
    mb = size / 1_000_000
    if mb >= 10:
        return f"{mb:.0f} MB"
    if mb >= 1:
        return f"{mb:.1f} MB"
    return f"{max(1, round(size / 1000))} kB"


def human_duration(seconds: float) -> str:
    """Return m:ss."""
    whole = round(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


@contextlib.contextmanager
def local_path(upload: UploadedFile) -> Iterator[Path]:
    """Yield a local path of the upload for ffprobe (large uploads already have one)."""
    path = getattr(upload, "temporary_file_path", None)
    if path is not None:
        yield Path(path())
        return
    with tempfile.NamedTemporaryFile(prefix="upload-", suffix=".bin") as tmp:
        for chunk in upload.chunks():
            tmp.write(chunk)
        tmp.flush()
        upload.seek(0)
        yield Path(tmp.name)


class UploadForm(forms.Form):
    """One audio or video file from an anonymous visitor."""

    file = forms.FileField(
        label="Choose a song",
        error_messages={"required": "Choose an audio or video file to upload."},
        widget=forms.ClearableFileInput(attrs={"accept": ACCEPT}),
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.media_info: MediaInfo | None = None

    def clean_file(self) -> UploadedFile:
        """Refuse empty, oversized, unreadable and overlong files, with the reason."""
        upload: UploadedFile = self.cleaned_data["file"]
        limit = settings.ANON_MAX_UPLOAD_BYTES
        if not upload.size:
            raise forms.ValidationError("The file is empty. Choose another file.", code="empty")
        if upload.size > limit:
            raise forms.ValidationError(
                f"The file is {human_size(upload.size)}; the limit is {human_size(limit)}. "
                "Upload a smaller file (an MP3 of a song is usually under 15 MB).",
                code="too_large",
            )
        try:
            with local_path(upload) as path:
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
        max_duration = settings.ANON_MAX_DURATION
        if info.duration > max_duration:
            raise forms.ValidationError(
                f"The song is {human_duration(info.duration)} long; the limit is "
                f"{human_duration(max_duration)}. Cut it shorter and upload it again.",
                code="too_long",
            )
        self.media_info = info
        return upload

    def error_status(self) -> int:
        """Return the HTTP status that fits the first error."""
        for error in self.errors.as_data().get("file", []):
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
