"""Plans on the sites: what a paying account may submit, and the clear refusal of a free one."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from core.billing import selectors as billing_selectors
from core.billing import services as billing
from core.jobs import selectors, services
from core.jobs.models import AudioSource, Job, LinkImport, Separation
from shared_separation.tasks import import_link_task
from tests.audio import make_song
from tests.core.billing.helpers import submit, user_with
from tests.core.web.conftest import VR_HOST
from tests.httpsite import Site

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def song(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_song(tmp_path_factory.mktemp("songs") / "Short.mp3", 3)


@pytest.fixture(scope="module")
def long_song(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real 20-minute MP3 (a second short, as the encoder pads; low bit rate, small)."""
    path = tmp_path_factory.mktemp("songs") / "Twenty Minutes.mp3"
    subprocess.run(
        [
            "ffmpeg", "-v", "error", "-y", "-f", "lavfi",
            "-i", "sine=frequency=220:sample_rate=8000:duration=1199",
            "-ac", "1", "-c:a", "libmp3lame", "-b:a", "8k", str(path),
        ],
        check=True,
    )  # fmt: skip
    return path


def paid_user(credits: int = 100) -> User:
    """Return an account that bought a pack: the Pro plan."""
    user = user_with(0)
    billing.purchase(user, credits, key=f"test-purchase:{user.pk}", note="test pack")
    return user


def _client(user: User | None) -> Client:
    client = Client(HTTP_HOST=VR_HOST)
    if user is not None:
        client.force_login(user)
    return client


def _upload(client: Client, *paths: Path, json_: bool = False, **data: Any) -> Any:
    files = [SimpleUploadedFile(p.name, p.read_bytes()) for p in paths]
    headers = {"accept": "application/json"} if json_ else {}
    return client.post("/", {"file": files, **data}, headers=headers)


def test_a_paying_account_gets_flac_the_priority_queue_and_seven_days(song: Path) -> None:
    user = paid_user()
    response = _upload(_client(user), song, format="flac")
    assert response.status_code == 303
    job = Job.objects.get()
    assert response["Location"] == f"/jobs/{job.pk}/"
    assert job.owner == user and job.format == "flac"
    assert job.separation.priority is True  # sent to separation_priority
    assert job.retention == timedelta(days=7)
    assert billing_selectors.reserved(user) == 1


def test_a_paying_account_may_separate_a_twenty_minute_song(long_song: Path) -> None:
    user = paid_user()
    response = _upload(_client(user), long_song, format="wav")
    assert response.status_code == 303
    job = Job.objects.get()
    assert job.format == "wav"
    assert job.separation.source.duration == pytest.approx(1199, abs=1)
    assert billing_selectors.reserved(user) == 20  # one credit per started minute


def test_a_free_account_asking_for_flac_is_refused_naming_pro(song: Path) -> None:
    user = user_with(30)
    response = _upload(_client(user), song, format="flac")
    assert response.status_code == 403
    assert "FLAC needs the Pro plan" in response.content.decode()
    assert not Job.objects.exists() and not AudioSource.objects.exists()
    assert billing_selectors.balance(user) == 30


def test_a_free_account_with_a_twenty_minute_song_gets_a_free_preview(long_song: Path) -> None:
    # Pro takes the song: instead of a refusal, its first seconds (tests/core/web/test_preview).
    user = user_with(30)
    response = _upload(_client(user), long_song, json_=True)
    assert response.status_code == 201
    job = Job.objects.get()
    assert job.preview and json.loads(response.content)["redirect"] == f"/jobs/{job.pk}/"
    assert billing_selectors.balance(user) == 30


def test_an_anonymous_visitor_keeps_the_refusal_of_a_song_no_plan_takes(
    long_song: Path, settings: Any
) -> None:
    settings.PAID_MAX_DURATION = 10 * 60.0
    response = _upload(_client(None), long_song)
    assert response.status_code == 422
    assert "the limit is 5:00" in response.content.decode()
    assert not Job.objects.exists()


def test_an_anonymous_visitor_cannot_ask_for_wav(song: Path) -> None:
    response = _upload(_client(None), song, format="wav")
    assert response.status_code == 403
    assert "Pro" in response.content.decode()
    assert not Job.objects.exists()


def test_a_paying_account_uploads_several_songs_at_once(tmp_path: Path) -> None:
    user = paid_user()
    songs = [make_song(tmp_path / f"song {i}.mp3", 2, seed=i) for i in range(3)]
    response = _upload(_client(user), *songs, json_=True)
    assert response.status_code == 201
    body = json.loads(response.content)
    assert body["redirect"] == "/account/"
    jobs = Job.objects.filter(owner=user)
    assert sorted(j.original_name for j in jobs) == ["song 0.mp3", "song 1.mp3", "song 2.mp3"]
    assert sorted(body["jobs"]) == sorted(f"/jobs/{j.pk}/" for j in jobs)
    assert billing_selectors.reserved(user) == 3


def test_several_songs_need_pro_and_enough_credits_for_all(tmp_path: Path) -> None:
    songs = [make_song(tmp_path / f"song {i}.mp3", 2, seed=i) for i in range(2)]
    free = _upload(_client(user_with(30)), *songs)
    assert free.status_code == 403
    assert "several songs at once needs the Pro plan" in free.content.decode()
    poor = paid_user(credits=1)
    response = _upload(_client(poor), *songs)
    assert response.status_code == 402
    assert not Job.objects.exists()  # all or none
    assert billing_selectors.balance(poor) == 1


def test_the_home_page_offers_what_the_plan_allows(song: Path) -> None:
    free = _client(user_with(30)).get("/").content.decode()
    assert 'name="format"' not in free and " multiple" not in free
    assert 'href="/pricing/">Pro</a>' in free
    pro = _client(paid_user()).get("/").content.decode()
    assert '<option value="flac"' in pro and '<option value="wav"' in pro
    assert " multiple" in pro and "up to 60:00 long" in pro


def test_a_link_from_a_signed_in_visitor_belongs_to_them() -> None:
    user = user_with(30)
    url = f"http://127.0.0.1:{os.environ['STEMSPLIT_TEST_LINK_PORT']}/song.mp3"
    response = _client(user).post("/links/", {"url": url})
    assert response.status_code == 303
    assert LinkImport.objects.get().owner == user


def _finished(owner: User | None, data: bytes) -> Separation:
    job = submit(owner, data, duration=30.0)
    _, separation = services.claim_separation(job.separation_id, "test-worker")
    assert separation is not None
    assert services.complete_separation(
        separation.pk, attempt=separation.attempts, vocals="v.flac", accompaniment="a.flac"
    )
    return Separation.objects.get(pk=separation.pk)


def test_a_paying_owners_files_stay_seven_days_and_a_free_tiers_a_day() -> None:
    free = _finished(None, b"free song")
    pro = _finished(paid_user(), b"pro song")
    assert pro.finished_at is not None
    assert selectors.files_expire_at(pro) == pro.finished_at + timedelta(days=7)
    assert selectors.files_expire_at(free) == free.finished_at + timedelta(hours=24)  # type: ignore[operator]
    later = timezone.now() + timedelta(days=2)
    assert selectors.due_for_expiry(later) == [free.pk]
    assert services.expire_separation(pro.pk, now=later) is False
    assert services.expire_separation(free.pk, now=later) is True
    week = timezone.now() + timedelta(days=7, hours=1)
    assert selectors.due_for_expiry(week) == [pro.pk]
    assert services.expire_separation(pro.pk, now=week) is True


def test_a_free_request_for_a_paying_owners_song_keeps_the_seven_days() -> None:
    pro = _finished(paid_user(), b"shared song")
    submit(None, b"shared song", duration=30.0)  # the same audio, anonymously, later
    later = timezone.now() + timedelta(days=2)
    assert selectors.due_for_expiry(later) == []
    assert services.expire_separation(pro.pk, now=later) is False


@pytest.fixture
def song_site(song: Path) -> Iterator[Site]:
    """The tests' song site, on the one local port the link import lets through."""
    mp3 = {"Content-Type": "audio/mpeg"}
    site = Site(
        {"/song.mp3": (200, mp3, song.read_bytes())},
        port=int(os.environ["STEMSPLIT_TEST_LINK_PORT"]),
    )
    yield site
    site.close()


def _paste(user: User, site: Site) -> LinkImport:
    assert _client(user).post("/links/", {"url": f"{site.base}/song.mp3"}).status_code == 303
    return LinkImport.objects.get(owner=user)


def test_a_paying_owners_link_is_fetched_within_pro_onto_the_priority_queue(
    song_site: Site, settings: Any
) -> None:
    settings.ANON_MAX_DURATION = 2.0  # the 3 s song is longer than the free limit
    user = paid_user()
    link = _paste(user, song_site)
    assert import_link_task(str(link.pk)) == "succeeded"
    job = Job.objects.get(owner=user)
    assert job.separation.priority is True
    assert job.retention == timedelta(days=7)
    assert billing_selectors.reserved(user) == 1


def test_a_free_owners_too_long_link_is_only_previewed(song_site: Site, settings: Any) -> None:
    settings.ANON_MAX_DURATION = 2.0
    settings.PREVIEW_SECONDS = 1.0
    user = user_with(30)
    link = _paste(user, song_site)
    assert import_link_task(str(link.pk)) == "succeeded"
    job = Job.objects.select_related("separation__source").get()
    assert job.preview and (job.separation.source.duration or 0) <= 1.0
    assert billing_selectors.balance(user) == 30


def test_a_link_longer_than_every_plan_is_refused(song_site: Site, settings: Any) -> None:
    settings.ANON_MAX_DURATION = settings.PAID_MAX_DURATION = 2.0
    user = user_with(30)
    link = _paste(user, song_site)
    assert import_link_task(str(link.pk)) == "too_long"
    assert not Job.objects.exists()
    assert billing_selectors.balance(user) == 30


def test_a_link_from_an_account_without_credits_fails_clearly(song_site: Site) -> None:
    user = user_with(0)
    link = _paste(user, song_site)
    assert import_link_task(str(link.pk)) == "no_credits"
    link.refresh_from_db()
    assert link.status == LinkImport.Status.FAILED
    assert link.error_message == (
        "This song needs 1 credit (one per started minute) and your balance is 0. "
        "Nothing was charged."
    )
    assert not Job.objects.exists()


def test_a_payer_asking_for_a_song_waiting_in_the_normal_queue_moves_it_up(
    django_capture_on_commit_callbacks: Any,
) -> None:
    first = submit(None, b"a popular song", duration=30.0)
    assert first.separation.priority is False
    with django_capture_on_commit_callbacks() as callbacks:
        second = submit(paid_user(), b"a popular song", duration=30.0)
    assert second.separation_id == first.separation_id  # still separated once
    assert Separation.objects.get(pk=first.separation_id).priority is True
    assert len(callbacks) == 1  # sent again, to the priority queue
    with django_capture_on_commit_callbacks() as callbacks:
        submit(paid_user(), b"a popular song", duration=30.0)
    assert callbacks == []  # already there: nothing more to send
