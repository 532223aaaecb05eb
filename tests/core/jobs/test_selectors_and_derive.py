"""Queue positions, and jobs for the other stem that share the first job's separation."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile

from core.jobs import deliveries, selectors, services
from core.jobs.models import Job, Separation

pytestmark = pytest.mark.django_db


def _submit(data: bytes, *, priority: bool = False) -> Job:
    return services.submit(
        ContentFile(data, name="a.mp3"),
        services.Submission(
            original_name="a.mp3", stem="accompaniment", brand="vocals-remover", priority=priority
        ),
    )


def test_queue_position_counts_earlier_queued_separations_priority_first() -> None:
    first, second, third = _submit(b"1"), _submit(b"2"), _submit(b"3")
    paid = _submit(b"4", priority=True)
    positions = [selectors.queue_position(j.separation) for j in (first, second, third, paid)]
    assert positions == [2, 3, 4, 1]
    services.claim_separation(first.separation_id, "w")
    second.separation.refresh_from_db()
    first.separation.refresh_from_db()
    assert selectors.queue_position(first.separation) is None
    assert selectors.queue_position(second.separation) == 2


def test_derive_job_makes_one_job_on_the_same_separation() -> None:
    job = _submit(b"song")
    derived = services.derive_job(job, brand="acapella-extractor", stem="vocals")
    again = services.derive_job(job, brand="acapella-extractor", stem="vocals")
    assert derived.pk == again.pk
    assert derived.separation_id == job.separation_id
    assert (derived.status, derived.original_name, derived.derived_from_id) == (
        "queued",
        "a.mp3",
        job.pk,
    )
    assert Separation.objects.count() == 1
    assert services.derive_job(job, brand="vocals-remover", stem="accompaniment").pk == job.pk
    # From the derived job back to the first brand: the first job, not a third one.
    assert services.derive_job(derived, brand="vocals-remover", stem="accompaniment").pk == job.pk
    assert Job.objects.count() == 2


def test_derive_job_refuses_a_failed_separation() -> None:
    job = _submit(b"bad")
    services.fail_separation(job.separation_id, code="not_audio", message="no")
    with pytest.raises(services.JobUnavailable):
        services.derive_job(job, brand="acapella-extractor", stem="vocals")


@pytest.mark.parametrize(
    ("original", "label", "expected"),
    [
        ("My Song.mp3", "Instrumental", "My Song (Instrumental).mp3"),
        ("../../etc/passwd", "Acapella", "passwd (Acapella).mp3"),
        ("C:\\Music\\Track 1.wav", "Acapella", "Track 1 (Acapella).mp3"),
        (".hidden", "Instrumental", "hidden (Instrumental).mp3"),
        ("no extension", "Instrumental", "no extension (Instrumental).mp3"),
        ('a<b>:"c"|?*.mp3', "Instrumental", "a b c (Instrumental).mp3"),
        ("", "Instrumental", "song (Instrumental).mp3"),
    ],
)
def test_download_names_are_safe(original: str, label: str, expected: str) -> None:
    assert deliveries.download_name(original, label, "mp3") == expected
