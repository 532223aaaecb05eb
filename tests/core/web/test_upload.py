"""Uploads: accepted files become jobs; every refusal says why, with the right status, and
leaves nothing behind (no job, no source, no stored file)."""

from __future__ import annotations

import json as jsonlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from pytest_django.fixtures import Settings

from core.jobs.models import AudioSource, Job, Separation
from tests.audio import make_song
from tests.core.web.conftest import VR_HOST, stored_files

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def song(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_song(tmp_path_factory.mktemp("songs") / "Artist - Song.mp3", 3)


def _upload(
    client: Client, path: Path, name: str | None = None, *, json: bool = False
) -> _MonkeyPatchedWSGIResponse:
    data = SimpleUploadedFile(name or path.name, path.read_bytes())
    headers = {"accept": "application/json"} if json else {}
    return client.post("/", {"file": data}, headers=headers)


def test_an_upload_on_vocals_remover_makes_an_instrumental_job(vr: Client, song: Path) -> None:
    response = _upload(vr, song)
    job = Job.objects.get()
    assert response.status_code == 303
    assert response["Location"] == f"/jobs/{job.pk}/"
    assert (job.brand, job.stem, job.format) == ("vocals-remover", "accompaniment", "mp3")
    assert job.original_name == "Artist - Song.mp3"
    source = AudioSource.objects.get()
    assert source.duration == pytest.approx(3.0, abs=0.2)
    assert source.file.name in stored_files()


def test_an_upload_on_acapella_extractor_makes_a_vocals_job(ae: Client, song: Path) -> None:
    response = _upload(ae, song, json=True)
    job = Job.objects.get()
    assert response.status_code == 201
    assert jsonlib.loads(response.content) == {"redirect": f"/jobs/{job.pk}/"}
    assert (job.brand, job.stem) == ("acapella-extractor", "vocals")


def test_the_same_song_on_both_sites_is_separated_once(vr: Client, ae: Client, song: Path) -> None:
    _upload(vr, song)
    _upload(ae, song, "renamed.mp3")
    assert Job.objects.count() == 2
    assert Separation.objects.count() == 1


@pytest.fixture
def nothing_left_behind() -> Iterator[None]:
    before = stored_files()
    yield
    assert Job.objects.count() == 0
    assert AudioSource.objects.count() == 0
    assert Separation.objects.count() == 0
    assert stored_files() == before


def _refused(response: _MonkeyPatchedWSGIResponse, status: int, text: str) -> None:
    assert response.status_code == status, response.content[:2000]
    page = response.content.decode()
    assert text in page
    assert 'role="alert"' in page


@pytest.mark.usefixtures("nothing_left_behind")
def test_a_text_file_renamed_mp3_is_refused_as_not_audio(vr: Client, tmp_path: Path) -> None:
    fake = tmp_path / "song.mp3"
    fake.write_text("This is not a song at all, just words.\n" * 50)
    _refused(_upload(vr, fake), 415, "Upload an MP3, WAV, FLAC")


@pytest.mark.usefixtures("nothing_left_behind")
def test_random_bytes_renamed_mp3_are_refused_as_not_audio(vr: Client, tmp_path: Path) -> None:
    fake = tmp_path / "song.mp3"
    fake.write_bytes(bytes(range(256)) * 64)
    _refused(_upload(vr, fake), 415, "Upload an MP3, WAV, FLAC")


@pytest.mark.usefixtures("nothing_left_behind")
def test_an_empty_file_is_refused(vr: Client, tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp3"
    empty.write_bytes(b"")
    response = _upload(vr, empty)
    assert 400 <= response.status_code < 500
    assert "empty" in response.content.decode()


@pytest.mark.usefixtures("nothing_left_behind")
def test_a_post_without_a_file_asks_for_one(vr: Client) -> None:
    _refused(vr.post("/", {}), 400, "Choose an audio or video file")


@pytest.mark.usefixtures("nothing_left_behind")
def test_a_file_over_the_size_limit_is_refused(vr: Client, song: Path, settings: Settings) -> None:
    settings.ANON_MAX_UPLOAD_BYTES = song.stat().st_size - 1
    _refused(_upload(vr, song), 413, "the limit is")


@pytest.mark.usefixtures("nothing_left_behind")
def test_a_body_far_over_the_size_limit_is_refused_unread(
    vr: Client, tmp_path: Path, settings: Settings
) -> None:
    settings.ANON_MAX_UPLOAD_BYTES = 1000
    big = make_song(tmp_path / "big.wav", 5)  # ~880 kB: far over the limit and its margin
    response = _upload(vr, big, json=True)
    assert response.status_code == 413
    assert "over the limit of" in jsonlib.loads(response.content)["error"]


@pytest.mark.usefixtures("nothing_left_behind")
def test_a_song_over_the_length_limit_is_refused(
    vr: Client, song: Path, settings: Settings
) -> None:
    # Longer than every plan (a song a higher plan takes gets a preview: test_preview.py).
    settings.ANON_MAX_DURATION = settings.PAID_MAX_DURATION = 2.0
    _refused(_upload(vr, song), 422, "the limit is 0:02")


@pytest.mark.usefixtures("nothing_left_behind")
def test_a_forged_post_without_csrf_token_is_refused(song: Path) -> None:
    forger = Client(enforce_csrf_checks=True, HTTP_HOST=VR_HOST)
    response = _upload(forger, song)
    assert response.status_code == 403
    assert "Reload the page" in response.content.decode()


def test_the_home_page_works_without_javascript(vr: Client) -> None:
    page = vr.get("/").content.decode()
    assert 'enctype="multipart/form-data"' in page
    assert 'type="file" name="file" id="id_file"' in page
    assert '<label for="id_file"' in page
    assert 'name="csrfmiddlewaretoken"' in page
    assert 'type="submit"' in page
    assert "Up to 100 MB and 5:00 long" in page
