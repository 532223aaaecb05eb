"""A song longer than the visitor's plan: its first 30 seconds free, the whole song priced."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from pytest_django.fixtures import Settings

from core.billing import selectors as billing_selectors
from core.billing.models import CreditEntry
from core.jobs import services
from core.jobs.models import AudioSource, Job, LinkImport, Separation
from shared_separation.tasks import import_link_task
from tests.audio import make_song
from tests.conftest import WorkerProcess
from tests.core.api.helpers import finish
from tests.core.billing.helpers import user_with
from tests.core.web.conftest import VR_HOST
from tests.core.web.test_plans import paid_user
from tests.httpsite import Site

SONG_SECONDS = 70.0  # two credits for the whole song
LIMIT = 20.0  # the free plans' length limit in these tests


@pytest.fixture(scope="module")
def long_song(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_song(tmp_path_factory.mktemp("preview") / "Long Night.mp3", SONG_SECONDS, seed=7)


@pytest.fixture(autouse=True)
def _short_free_limit(settings: Settings) -> None:
    settings.ANON_MAX_DURATION = LIMIT


def _duration(path: Path) -> float:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", path],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.strip())


def _stored_duration(name: str, tmp_path: Path) -> float:
    path = tmp_path / Path(name).name
    with default_storage.open(name, "rb") as fh:
        path.write_bytes(fh.read())
    return _duration(path)


def _client(user: Any = None) -> Client:
    client = Client(HTTP_HOST=VR_HOST)
    if user is not None:
        client.force_login(user)
    return client


def _upload(client: Client, path: Path) -> Any:
    return client.post("/", {"file": SimpleUploadedFile(path.name, path.read_bytes())})


class _Page(HTMLParser):
    """The preview block of a job page: its heading, its texts, its links and forms."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.texts: list[str] = []
        self.links: list[str] = []
        self.forms: list[str] = []
        self.labelled_by = ""
        self.audio: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "aside" and values.get("id") == "preview":
            self.depth = 1
            self.labelled_by = values.get("aria-labelledby") or ""
        elif self.depth:
            self.depth += tag not in ("input", "br")
            if tag == "a":
                self.links.append(values.get("href") or "")
            if tag == "form":
                self.forms.append(values.get("action") or "")
        if tag == "audio":
            self.audio.append(values.get("src") or "")

    def handle_endtag(self, tag: str) -> None:
        if self.depth:
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if self.depth and data.strip():
            self.texts.append(" ".join(data.split()))


def _page(client: Client, job: Job) -> _Page:
    response = client.get(f"/jobs/{job.pk}/")
    assert response.status_code == 200
    parser = _Page()
    parser.feed(response.content.decode())
    return parser


@pytest.mark.django_db
def test_a_too_long_upload_makes_a_free_preview_and_keeps_the_whole_song(
    long_song: Path,
) -> None:
    user = user_with(30)  # the free plan: its limit is the anonymous one
    client = _client(user)
    response = _upload(client, long_song)
    assert response.status_code == 303
    job = Job.objects.select_related("separation__source", "full_source").get()
    assert response["Location"] == f"/jobs/{job.pk}/"
    assert job.preview and job.owner == user and job.original_name == "Long Night.mp3"
    preview, full = job.separation.source, job.full_source
    assert full is not None and abs((full.duration or 0) - SONG_SECONDS) < 0.2
    assert preview.duration is not None and 29.9 < preview.duration <= 30.0
    # The preview is its own audio, stored once, and the whole song is never separated.
    assert preview.sha256 != full.sha256
    assert _duration(Path(preview.file.path)) <= 30.0
    assert not Separation.objects.filter(source=full).exists()
    assert not CreditEntry.objects.exclude(kind="grant").exists()  # nothing reserved
    assert billing_selectors.balance(user) == 30

    page = _page(client, job)
    assert page.labelled_by and "Preview: first 30 seconds" in page.texts
    text = " ".join(page.texts)
    assert "This song is 1:10 long" in text
    assert "The whole song: 2 credits with the Pro plan" in text
    assert page.links == ["/pricing/"] and page.forms == []  # the free plan cannot take it
    assert "Separate the whole song with Pro" in page.texts

    # The same song again previews from the same separation: the cut is the same bytes.
    _upload(_client(), long_song)
    assert Job.objects.count() == 2 and Separation.objects.count() == 1
    assert AudioSource.objects.count() == 2


@pytest.mark.django_db
def test_a_song_within_the_plan_is_unaffected(tmp_path: Path) -> None:
    song = make_song(tmp_path / "Short.mp3", 5)
    response = _upload(_client(), song)
    assert response.status_code == 303
    job = Job.objects.get()
    assert not job.preview and job.full_source is None
    assert abs((job.separation.source.duration or 0) - 5) < 0.2
    page = _page(_client(), job)
    assert page.texts == [] and page.labelled_by == ""


@pytest.mark.django_db
def test_a_song_longer_than_every_plan_is_still_refused(
    long_song: Path, settings: Settings
) -> None:
    settings.SEPARATION_MAX_DURATION = 60.0
    response = _upload(_client(), long_song)
    assert response.status_code == 422
    assert "the limit is 0:20" in response.content.decode()
    assert not Job.objects.exists() and not AudioSource.objects.exists()


@pytest.mark.django_db
def test_a_payer_separates_the_whole_song_of_a_preview(long_song: Path, tmp_path: Path) -> None:
    _upload(_client(), long_song)
    preview = Job.objects.get()
    finish(preview, tmp_path)
    user = paid_user(credits=10)  # bought credits since: Pro takes the whole song
    client = _client(user)
    page = _page(client, preview)
    assert page.forms == [f"/jobs/{preview.pk}/whole/"] and page.links == []
    assert "Separate the whole song" in page.texts

    response = client.post(f"/jobs/{preview.pk}/whole/")
    assert response.status_code == 302
    whole = Job.objects.exclude(pk=preview.pk).get()
    assert response["Location"] == f"/jobs/{whole.pk}/"
    assert not whole.preview and whole.owner == user
    assert whole.separation.source == preview.full_source
    assert whole.separation.quality == preview.separation.quality
    assert billing_selectors.reserved(user) == 2  # the whole song's price

    # A second click finds the job already made: nothing more is queued or reserved.
    again = client.post(f"/jobs/{preview.pk}/whole/")
    assert again.status_code == 302 and again["Location"] == f"/jobs/{whole.pk}/"
    assert billing_selectors.reserved(user) == 2

    # Without a plan that takes it, the button leads to the pricing page and nothing is made.
    anonymous = _client().post(f"/jobs/{preview.pk}/whole/")
    assert anonymous.status_code == 303 and anonymous["Location"] == "/pricing/"
    assert Job.objects.count() == 2


@pytest.mark.django_db
def test_expiring_a_preview_deletes_the_whole_song_too(
    long_song: Path, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    _upload(_client(), long_song)
    job = Job.objects.select_related("full_source").get()
    finish(job, tmp_path)
    full = job.full_source
    assert full is not None
    name = full.file.name
    assert default_storage.exists(name)
    later = timezone.now() + timedelta(days=30)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.expire_separation(job.separation_id, now=later)
    full.refresh_from_db()
    assert not full.file and not default_storage.exists(name)
    page = _page(_client(), Job.objects.get())
    assert page.forms == [] and page.links == []  # nothing left to separate


@pytest.mark.django_db
def test_deleting_a_preview_deletes_the_whole_song(
    long_song: Path, django_capture_on_commit_callbacks: Any
) -> None:
    _upload(_client(), long_song)
    job = Job.objects.select_related("full_source").get()
    assert job.full_source is not None
    names = [job.full_source.file.name, job.separation.source.file.name]
    assert all(default_storage.exists(name) for name in names)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.delete_job(job.pk)
    assert not AudioSource.objects.exists() and not Separation.objects.exists()
    assert not any(default_storage.exists(name) for name in names)


@pytest.mark.django_db
def test_the_home_page_says_longer_songs_are_previewed() -> None:
    page = _client().get("/").content.decode()
    assert "Longer songs: the first 30 seconds free, with the price of the whole song." in page
    assert "(longer: the first 30 seconds free)" in page
    # Pro takes the longest songs there are: nothing longer to preview.
    assert "Longer songs" not in _client(paid_user()).get("/").content.decode()


@pytest.fixture
def long_site(long_song: Path) -> Iterator[Site]:
    site = Site(
        {"/long.mp3": (200, {"Content-Type": "audio/mpeg"}, long_song.read_bytes())},
        port=int(os.environ["STEMSPLIT_TEST_LINK_PORT"]),
    )
    yield site
    site.close()


@pytest.mark.django_db
def test_a_too_long_link_becomes_a_free_preview(long_site: Site) -> None:
    user = user_with(30)
    assert _client(user).post("/links/", {"url": f"{long_site.base}/long.mp3"}).status_code == 303
    link = LinkImport.objects.get()
    assert import_link_task(str(link.pk)) == "succeeded"
    job = Job.objects.select_related("separation__source", "full_source").get()
    assert job.preview and job.owner == user
    assert (job.separation.source.duration or 0) <= 30.0
    assert job.full_source is not None and (job.full_source.duration or 0) > 60
    assert billing_selectors.balance(user) == 30
    assert not CreditEntry.objects.exclude(kind="grant").exists()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_preview_through_the_worker_holds_30_seconds_and_says_so(
    celery_worker: WorkerProcess, long_song: Path, tmp_path: Path
) -> None:
    client = _client()
    job_url = _upload(client, long_song)["Location"]
    deadline = time.monotonic() + 300
    while not (status := client.get(f"{job_url}status.json").json())["finished"]:
        assert time.monotonic() < deadline, celery_worker.log()[-3000:]
        time.sleep(0.5)
    job = Job.objects.select_related("separation", "full_source").get()
    assert status["state"] == "done", job.error_message
    separation = job.separation
    stems = [separation.vocals.name, separation.accompaniment.name]
    durations = [_stored_duration(name, tmp_path) for name in stems]
    assert all(29.9 < d <= 30.0 for d in durations), durations
    assert Separation.objects.count() == 1  # the whole song is not separated
    assert not CreditEntry.objects.exists()

    page = _page(client, job)
    assert "Preview: first 30 seconds" in page.texts
    assert f"/jobs/{job.pk}/audio/result.mp3" in page.audio

    download = client.get(f"{job_url}download/")
    assert download.status_code == 200
    name = "Long Night (Instrumental, preview of the first 30 seconds).mp3"
    assert download["Content-Disposition"] == f'attachment; filename="{name}"'
    path = tmp_path / "download.mp3"
    path.write_bytes(b"".join(download.streaming_content))  # type: ignore[attr-defined]
    # MP3 frames pad the end by a few milliseconds at most.
    assert _duration(path) <= 30.06
    original = client.get(f"{job_url}audio/original.mp3")
    original_path = tmp_path / "original.mp3"
    original_path.write_bytes(b"".join(original.streaming_content))  # type: ignore[attr-defined]
    assert _duration(original_path) <= 30.06  # the player's original is the preview's too
