"""What the API reads and writes; the schema at /api/v1/schema/ is generated from these."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.billing.models import CreditEntry
from core.jobs.models import Job, Separation

STATUSES = ["fetching", "queued", "running", "succeeded", "failed", "cancelled", "expired"]
STEMS = [Job.Stem.VOCALS.value, Job.Stem.ACCOMPANIMENT.value, Job.Stem.BOTH.value]
FORMATS = [f.value for f in Job.Format]
QUALITIES = [q.value for q in Separation.Quality]


class _Submit(serializers.Serializer):
    stem = serializers.ChoiceField(
        choices=STEMS,
        required=False,
        help_text="The stem to deliver (default: the one of the site's brand).",
    )
    format = serializers.ChoiceField(choices=FORMATS, default=Job.Format.MP3.value)
    quality = serializers.ChoiceField(
        choices=QUALITIES,
        required=False,
        help_text="`standard` equals the official Spleeter output; `high` separates better "
        "with the same model (default: the service's, `high` unless configured otherwise).",
    )
    callback_url = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=2048,
        help_text="A public http(s) address to POST the finished job to, signed.",
    )


class UploadSubmitSerializer(_Submit):
    """A song sent as a file (multipart/form-data)."""

    file = serializers.FileField(help_text="The song: any audio or video file with sound.")


class LinkSubmitSerializer(_Submit):
    """A song fetched from a link (application/json)."""

    url = serializers.CharField(max_length=2048, help_text="A link to one song's page or file.")


class ErrorDetailSerializer(serializers.Serializer):
    """A stable code and a message for people."""

    code = serializers.CharField()
    message = serializers.CharField()


class ErrorSerializer(serializers.Serializer):
    """Every error of the API has this shape (some add fields beside code and message)."""

    error = ErrorDetailSerializer()


class AnalysisSerializer(serializers.Serializer):
    """The song's tempo and key, read from the separated accompaniment."""

    bpm = serializers.FloatField(help_text="Beats per minute.")
    bpm_confidence = serializers.FloatField(help_text="0 to 1: how clear the beat is.")
    key = serializers.CharField(help_text='Tonic and mode, e.g. "A minor".')
    tonic = serializers.CharField(help_text='e.g. "A", "F#", "Bb".')
    mode = serializers.ChoiceField(choices=["major", "minor"])
    camelot = serializers.CharField(help_text='The Camelot wheel code, e.g. "8A" for A minor.')
    key_confidence = serializers.FloatField(
        help_text="0 to 1: how far the key stands above the next likeliest."
    )


class SeparationSerializer(serializers.Serializer):
    """One separation asked for through the API."""

    id = serializers.UUIDField()
    url = serializers.URLField(help_text="This separation's status address.")
    status = serializers.ChoiceField(choices=STATUSES)
    stem = serializers.ChoiceField(choices=STEMS)
    format = serializers.ChoiceField(choices=FORMATS)
    quality = serializers.ChoiceField(choices=QUALITIES, help_text="The separation's mode.")
    name = serializers.CharField(allow_null=True)
    source = serializers.ChoiceField(choices=["upload", "link"])
    link = serializers.CharField(allow_null=True)
    queue_position = serializers.IntegerField(
        allow_null=True, help_text="1 for the next to start; only while queued."
    )
    progress = serializers.FloatField(allow_null=True, help_text="0 to 1 while running.")
    error = ErrorDetailSerializer(allow_null=True)
    credits_held = serializers.IntegerField(help_text="Reserved while the job runs.")
    credits_charged = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(
        allow_null=True, help_text="When the files are deleted, once finished."
    )
    callback_url = serializers.CharField(allow_null=True)
    downloads = serializers.DictField(
        child=serializers.URLField(), help_text="Stem name to download address, once succeeded."
    )
    cancel_url = serializers.URLField()
    streams = serializers.DictField(
        child=serializers.URLField(),
        help_text="Stem name to live MP3 address, while queued or running (plays as it is made).",
    )
    analysis = AnalysisSerializer(
        allow_null=True,
        help_text="Tempo and key, a few seconds after the separation succeeded; null until then.",
    )


class LimitsSerializer(serializers.Serializer):
    """What the account's plan allows."""

    max_duration_seconds = serializers.FloatField()
    max_upload_bytes = serializers.IntegerField()
    formats = serializers.ListField(child=serializers.ChoiceField(choices=FORMATS))
    priority = serializers.BooleanField()
    retention_hours = serializers.FloatField()
    max_files = serializers.IntegerField()
    requests_per_minute = serializers.IntegerField(help_text="0: no limit.")


class PlanSerializer(serializers.Serializer):
    """The account's plan."""

    code = serializers.CharField()
    name = serializers.CharField()
    api_access = serializers.BooleanField()


class AccountSerializer(serializers.Serializer):
    """The account of the key: balance, plan and limits."""

    email = serializers.EmailField()
    balance = serializers.IntegerField(help_text="Credits that can be spent now.")
    held = serializers.IntegerField(help_text="Credits held by unfinished jobs.")
    plan = PlanSerializer()
    limits = LimitsSerializer()


class LedgerEntrySerializer(serializers.ModelSerializer):
    """One movement of credits."""

    separation = serializers.SerializerMethodField()

    class Meta:
        model = CreditEntry
        fields = ["id", "kind", "amount", "reserved_change", "balance_after", "separation"]
        fields += ["note", "created_at"]

    @extend_schema_field(serializers.UUIDField(allow_null=True))
    def get_separation(self, entry: CreditEntry) -> str | None:
        """Return the API separation the entry paid for, if it was asked for through the API."""
        api_job = getattr(entry.job, "api_job", None) if entry.job_id else None
        return str(api_job.pk) if api_job is not None else None


class _Page(serializers.Serializer):
    count = serializers.IntegerField(help_text="Items on all pages.")
    next = serializers.URLField(allow_null=True, help_text="The next page, if any.")
    previous = serializers.URLField(allow_null=True, help_text="The previous page, if any.")


class SeparationPageSerializer(_Page):
    """A page of separations, newest first."""

    results = SeparationSerializer(many=True)


class LedgerPageSerializer(_Page):
    """A page of credit movements, newest first."""

    results = LedgerEntrySerializer(many=True)
