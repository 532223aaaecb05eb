"""The upload and link forms: the fields; the songs are checked by the intake."""

from __future__ import annotations

from django import forms
from django.core.files.uploadedfile import UploadedFile

from core.billing.plans import Plan, anonymous_plan

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
    """Audio or video files and a format; the intake (core.jobs.services) checks the songs."""

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
        # The limits the page states; the intake applies the same plan.
        self.plan = plan or anonymous_plan()

    def clean_format(self) -> str:
        """Return the chosen format, MP3 by default."""
        fmt: str = self.cleaned_data.get("format") or "mp3"
        return fmt


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
