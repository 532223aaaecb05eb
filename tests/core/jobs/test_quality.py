"""A separation per quality: the two modes never share a result."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.base import ContentFile

from core.jobs import services
from core.jobs.models import Job, Separation

pytestmark = pytest.mark.django_db


def _submit(data: bytes, **kw: Any) -> Job:
    fields: dict[str, Any] = {"original_name": "song.mp3", "stem": "accompaniment", **kw}
    return services.submit(ContentFile(data, name="song.mp3"), services.Submission(**fields))


def test_each_quality_has_its_own_separation_of_the_same_audio() -> None:
    standard = _submit(b"same audio", quality="standard")
    high = _submit(b"same audio", quality="high")
    again = _submit(b"same audio", quality="high", stem="vocals")
    assert standard.separation_id != high.separation_id
    assert again.separation_id == high.separation_id
    qualities = dict(Separation.objects.values_list("pk", "quality"))
    assert qualities == {standard.separation_id: "standard", high.separation_id: "high"}


def test_a_finished_standard_result_never_answers_a_high_request() -> None:
    standard = _submit(b"audio", quality="standard")
    services.claim_separation(standard.separation_id, "w1")
    assert services.complete_separation(
        standard.separation_id, vocals="v.flac", accompaniment="a.flac"
    )
    high = _submit(b"audio", quality="high")
    assert high.status == Job.Status.QUEUED
    assert high.separation_id != standard.separation_id


def test_no_quality_means_the_sites_default(settings: Any) -> None:
    settings.SEPARATION_DEFAULT_QUALITY = "high"
    assert _submit(b"one").separation.quality == Separation.Quality.HIGH
    settings.SEPARATION_DEFAULT_QUALITY = "standard"
    assert _submit(b"two").separation.quality == Separation.Quality.STANDARD


def test_an_unknown_quality_is_refused_before_anything_is_stored() -> None:
    with pytest.raises(ValueError):
        _submit(b"three", quality="best")
    assert not Separation.objects.exists()
