"""Tempo and key of a real separation, read by the light task and shown by the page and the API."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from core.api import services as api_services
from core.jobs import services
from core.jobs.models import Job, Separation
from tests.audio import make_keyed_song
from tests.conftest import WorkerProcess, wait_for
from tests.core.api.conftest import assert_matches, client_for, make_user
from tests.core.api.helpers import upload

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _analysed() -> bool:
    separation = Separation.objects.filter(status=Separation.Status.SUCCEEDED).first()
    return separation is not None and bool(separation.analysis)


def test_a_separation_gets_its_tempo_and_key_on_the_page_and_in_the_api(
    celery_worker: WorkerProcess, tmp_path: Path
) -> None:
    path = make_keyed_song(tmp_path / "Minor Groove.mp3", 12, bpm=120, tonic=9, minor=True)
    user = make_user(credits=10)
    _, key = api_services.create_key(user, "analysis")
    api = client_for(key)
    created = upload(api, path, stem="accompaniment")
    assert created.status_code == 202, created.content
    assert created.json()["analysis"] is None  # not before the stems are made

    wait_for(lambda: Separation.objects.filter(status="succeeded").exists(), timeout=240)
    succeeded_at = time.monotonic()
    wait_for(_analysed, timeout=60)
    # The stems are never held back for the analysis: it comes after them, from a light task.
    print(f"tempo and key stored {time.monotonic() - succeeded_at:.2f} s after the stems")
    separation = Separation.objects.get()
    analysis = separation.analysis
    assert abs(analysis["bpm"] / 120 - 1) <= 0.02, analysis
    assert (analysis["key"], analysis["camelot"]) == ("A minor", "8A"), analysis
    assert 0 < analysis["bpm_confidence"] <= 1 and 0 < analysis["key_confidence"] <= 1

    detail = api.get(f"/api/v1/separations/{created.json()['id']}").json()
    assert_matches("Separation", detail)
    assert detail["status"] == "succeeded"
    assert detail["analysis"] == analysis

    # The same song on each site attaches to the finished separation and shows its line.
    line = f"{round(analysis['bpm'])} BPM · A minor (8A)"
    for host in ("vocals-remover.localhost:8000", "acapella-extractor.localhost:8000"):
        site = Client(HTTP_HOST=host)
        response = site.post("/", {"file": SimpleUploadedFile(path.name, path.read_bytes())})
        assert response.status_code == 303
        page = site.get(response["Location"]).content.decode()
        assert f">{line}</p>" in page, page
        status = site.get(f"{response['Location']}status.json").json()
        assert status["tempo_and_key"] == line
    assert Separation.objects.count() == 1
    assert Job.objects.filter(status=Job.Status.SUCCEEDED).count() == 3


def test_a_stored_stem_that_is_corrupt_or_gone_leaves_the_separation_without_analysis(
    celery_worker: WorkerProcess, tmp_path: Path
) -> None:
    path = make_keyed_song(tmp_path / "song.wav", 6, bpm=100, tonic=0, minor=False)
    with path.open("rb") as fh:
        job = services.submit(
            File(fh, name=path.name),
            services.Submission(
                original_name=path.name, stem="accompaniment", brand="vocals-remover"
            ),
        )
    wait_for(_analysed, timeout=240)
    separation = Separation.objects.get(pk=job.separation_id)
    assert separation.analysis["key"] == "C major"
    name = separation.accompaniment.name
    default_storage.delete(name)
    assert default_storage.save(name, ContentFile(b"not a FLAC file at all " * 100)) == name
    Separation.objects.filter(pk=separation.pk).update(analysis={})
    assert services.analyze_separation(separation.pk) is False
    default_storage.delete(name)
    assert services.analyze_separation(separation.pk) is False
    separation.refresh_from_db()
    assert separation.analysis == {}
    # The page shows the result with the line hidden, empty, and the status says there is none.
    site = Client(HTTP_HOST="vocals-remover.localhost:8000")
    page = site.get(f"/jobs/{job.pk}/")
    assert page.status_code == 200
    hidden = 'id="song-analysis" title="Tempo and key (Camelot code), measured on the instrumental"'
    assert f"{hidden} hidden></p>" in page.content.decode()
    assert site.get(f"/jobs/{job.pk}/status.json").json()["tempo_and_key"] is None
