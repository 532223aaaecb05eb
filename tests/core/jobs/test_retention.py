"""Retention: files go after the set time by a periodic task; deleting a job deletes its files."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from django.utils import timezone

from core.celery import celery_app
from core.jobs import deliveries, selectors, services, tasks
from core.jobs.models import AudioSource, Job, Separation
from tests.factories import finished_job, stored_files

if TYPE_CHECKING:
    from pytest_django import DjangoCaptureOnCommitCallbacks

pytestmark = pytest.mark.django_db

VR = "vocals-remover.localhost"


Committed = Callable[[], AbstractContextManager[object]]


@pytest.fixture
def committed(
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> Committed:
    """Run the on-commit callbacks (file deletions) of a block, as a real commit would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def _age(hours: float) -> None:
    """Make every separation and job look `hours` old."""
    then = timezone.now() - timedelta(hours=hours)
    Separation.objects.update(created_at=then, finished_at=then)
    Job.objects.update(created_at=then)


def _files_of(job: Job) -> set[str]:
    separation = Separation.objects.select_related("source").get(pk=job.separation_id)
    return {
        separation.vocals.name,
        separation.accompaniment.name,
        separation.source.file.name,
    } | {n for n in stored_files() if n.startswith(f"deliveries/{separation.pk}/")}


def test_the_periodic_task_expires_old_results_and_deletes_their_files(
    tmp_path: Path, committed: Committed
) -> None:
    job = finished_job(tmp_path)
    client = Client(HTTP_HOST=VR)
    assert client.get(f"/jobs/{job.pk}/download/").status_code == 200  # caches a delivery
    files = _files_of(job)
    assert len(files) == 4 and files <= stored_files()

    _age(settings.RETENTION_HOURS - 1)
    assert tasks.expire_due() == 0
    assert files <= stored_files()

    _age(settings.RETENTION_HOURS + 1)
    with committed():
        assert tasks.expire_due() == 1
    job.refresh_from_db()
    separation = Separation.objects.get()
    assert job.status == Job.Status.EXPIRED
    assert separation.status == Separation.Status.EXPIRED
    assert not separation.vocals and not separation.accompaniment
    assert not AudioSource.objects.get().file
    assert not files & stored_files()
    page = client.get(f"/jobs/{job.pk}/").content.decode()
    assert "These files have been deleted" in page
    assert client.get(f"/jobs/{job.pk}/download/").status_code == 404
    assert tasks.expire_due() == 0  # nothing left to do


def test_the_result_page_says_when_the_files_go(tmp_path: Path) -> None:
    job = finished_job(tmp_path)
    expires = selectors.files_expire_at(job.separation)
    assert expires is not None
    assert expires - job.created_at == pytest.approx(
        timedelta(hours=settings.RETENTION_HOURS), abs=timedelta(seconds=5)
    )
    page = Client(HTTP_HOST=VR).get(f"/jobs/{job.pk}/").content.decode()
    assert "Your files are kept until" in page
    assert f'datetime="{expires.isoformat()}"' in page


def test_a_new_request_for_the_same_song_keeps_its_files(tmp_path: Path) -> None:
    job = finished_job(tmp_path)
    _age(settings.RETENTION_HOURS + 1)
    services.derive_job(job, brand="acapella-extractor", stem="vocals")  # a fresh request
    assert tasks.expire_due() == 0
    assert Separation.objects.get().status == Separation.Status.SUCCEEDED


def test_a_failed_separation_loses_its_upload_but_keeps_its_reason(committed: Committed) -> None:
    job = services.submit(
        ContentFile(b"bad bytes", name="x.mp3"),
        services.Submission(original_name="x.mp3", stem="vocals", brand="acapella-extractor"),
    )
    services.fail_separation(job.separation_id, code="not_audio", message="Not audio.")
    upload = AudioSource.objects.get().file.name
    _age(settings.RETENTION_HOURS + 1)
    with committed():
        assert tasks.expire_due() == 1
    job.refresh_from_db()
    assert (job.status, job.error_message) == (Job.Status.FAILED, "Not audio.")
    assert not default_storage.exists(upload)


def test_the_same_song_uploaded_after_expiry_is_stored_and_separated_again(
    tmp_path: Path, committed: Committed
) -> None:
    job = finished_job(tmp_path)
    with AudioSource.objects.get().file.open("rb") as fh:
        data = fh.read()
    _age(settings.RETENTION_HOURS + 1)
    with committed():
        tasks.expire_due()
    again = services.submit(
        ContentFile(data, name="My Song.mp3"),
        services.Submission(original_name="My Song.mp3", stem="accompaniment"),
    )
    assert again.separation_id != job.separation_id
    assert again.status == Job.Status.QUEUED
    source = AudioSource.objects.get()
    assert source.file and default_storage.exists(source.file.name)
    with source.file.open("rb") as fh:
        assert fh.read() == data


def test_deleting_the_last_job_deletes_the_separation_and_every_file(
    tmp_path: Path, committed: Committed
) -> None:
    job = finished_job(tmp_path)
    Client(HTTP_HOST=VR).get(f"/jobs/{job.pk}/peaks.json")
    derived = services.derive_job(job, brand="acapella-extractor", stem="vocals")
    files = _files_of(job)

    with committed():
        assert services.delete_job(job.pk)
    assert Separation.objects.count() == 1  # the derived job still uses it
    assert files <= stored_files()

    with committed():
        assert services.delete_job(derived.pk)
    counts = (Job.objects.count(), Separation.objects.count(), AudioSource.objects.count())
    assert counts == (0, 0, 0)
    assert not files & stored_files()
    assert not services.delete_job(derived.pk)
    assert deliveries.delete_folder(job.separation_id) == 0


def test_the_admin_deletes_jobs_through_the_service(
    tmp_path: Path, admin_client: Client, committed: Committed
) -> None:
    job = finished_job(tmp_path)
    files = _files_of(job)
    with committed():
        response = admin_client.post(
            f"/admin/jobs/job/{job.pk}/delete/", {"post": "yes"}, headers={"host": VR}
        )
    assert response.status_code == 302
    assert Job.objects.count() == 0
    assert not files & stored_files()


def test_retention_runs_periodically_on_the_default_queue() -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["expire-files"]
    assert entry["task"] == tasks.EXPIRE_TASK
    assert settings.CELERY_TASK_ROUTES[tasks.EXPIRE_TASK] == {"queue": "default"}


def test_a_finished_separation_queues_its_deliveries_and_analysis_on_the_light_queue(
    committed: Committed, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[tuple[str, list[str], str]] = []
    monkeypatch.setattr(
        celery_app, "send_task", lambda name, args, queue: sent.append((name, args, queue))
    )
    job = services.submit(
        ContentFile(b"song", name="a.mp3"),
        services.Submission(original_name="a.mp3", stem="vocals", brand="acapella-extractor"),
    )
    _claim, separation = services.claim_separation(job.separation_id, "w")
    assert separation is not None
    with committed():
        services.complete_separation(separation.pk, vocals="v.flac", accompaniment="a.flac")
    assert sent == [
        ("jobs.prepare_deliveries", [str(separation.pk)], "default"),
        ("jobs.analyze", [str(separation.pk)], "default"),
    ]


def test_preparing_deliveries_encodes_the_asked_stems_and_their_waveforms(
    tmp_path: Path,
) -> None:
    job = finished_job(tmp_path, stem="vocals", brand="acapella-extractor")
    folder = f"deliveries/{job.separation_id}"
    assert tasks.prepare_deliveries(str(job.separation_id)) == [f"{folder}/vocals.mp3"]
    assert {f"{folder}/vocals.mp3", f"{folder}/vocals.peaks.json"} <= stored_files()
    assert f"{folder}/accompaniment.mp3" not in stored_files()
    assert tasks.prepare_deliveries("00000000-0000-0000-0000-000000000000") == []


def test_a_render_in_a_new_key_expires_with_its_separation(
    tmp_path: Path, committed: Committed
) -> None:
    job = finished_job(tmp_path)
    client = Client(HTTP_HOST=VR)
    query = "?pitch=2&tempo=90"
    assert client.get(f"/jobs/{job.pk}/key-and-tempo/download/{query}").status_code == 200
    assert client.get(f"/jobs/{job.pk}/key-and-tempo/preview.mp3{query}").status_code == 200
    renders = {n for n in _files_of(job) if ".p+2.t90." in n}
    assert len(renders) == 2 and renders <= stored_files()

    _age(settings.RETENTION_HOURS + 1)
    with committed():
        assert tasks.expire_due() == 1
    assert not renders & stored_files()
    assert client.get(f"/jobs/{job.pk}/key-and-tempo/download/{query}").status_code == 404
