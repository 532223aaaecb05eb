"""Pasting a link: checked at once, fetched with the real yt-dlp from a local site, then a job.

The local site listens on the port tests/settings.py reserved and let through the address
guard (LINK_ALLOWED_PRIVATE, in the environment so the worker processes see it too). Most tests
run the link task in this process; the last one goes through a real worker and the model.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from pytest_django.fixtures import Settings

from core.jobs.models import AudioSource, Job, LinkImport, RemoteMedia, Separation
from shared_separation.tasks import import_link_task
from tests.audio import make_song
from tests.conftest import WorkerProcess, wait_for
from tests.core.web.conftest import AE_HOST, VR_HOST
from tests.factories import stored_files
from tests.httpsite import Site

LINK_PORT = int(os.environ["STEMSPLIT_TEST_LINK_PORT"])


@pytest.fixture(scope="module")
def song(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return make_song(tmp_path_factory.mktemp("song") / "song.mp3", 8).read_bytes()


@pytest.fixture
def target() -> Iterator[Site]:
    """A local service that a link must never reach (like Redis or a metadata endpoint)."""
    site = Site({"/": (200, {"Content-Type": "text/plain"}, b"secret")})
    yield site
    site.close()


@pytest.fixture
def site(song: bytes, target: Site) -> Iterator[Site]:
    """The test's song site on the port the link import lets through."""
    html = {"Content-Type": "text/html; charset=utf-8"}
    s = Site(
        {
            "/song.mp3": (200, {"Content-Type": "audio/mpeg"}, song),
            "/page.html": (200, html, b"<html><head><title>Hi</title></head><body>No media."),
            "/to-target": (302, {"Location": f"{target.base}/"}, b""),
        },
        port=LINK_PORT,
    )
    two = f'<video src="{s.base}/song.mp3"></video><video src="{s.base}/song.mp3?b"></video>'
    s.routes["/playlist.html"] = (200, html, f"<html><body>{two}</body></html>".encode())
    yield s
    s.close()


def _paste(client: Client, url: str, **extra: str) -> object:
    return client.post("/links/", {"url": url}, **extra)  # type: ignore[arg-type]


def _submit(vr: Client, url: str) -> LinkImport:
    response = _paste(vr, url)
    assert response.status_code == 303, response.content.decode()  # type: ignore[attr-defined]
    link = LinkImport.objects.get()
    assert response["Location"] == f"/links/{link.pk}/"  # type: ignore[index]
    return link


def _nothing_stored(before: set[str]) -> None:
    assert Job.objects.count() == 0
    assert AudioSource.objects.count() == 0
    assert Separation.objects.count() == 0
    assert stored_files() == before


@pytest.mark.django_db
def test_the_home_page_has_a_labelled_link_field_that_works_without_javascript(
    vr: Client,
) -> None:
    page = vr.get("/").content.decode()
    form = re.search(r'<form id="link-form".*?</form>', page, re.S)
    assert form is not None
    assert 'method="post" action="/links/"' in form.group(0)
    assert 'name="csrfmiddlewaretoken"' in form.group(0)
    assert '<label for="id_url"' in form.group(0)
    assert re.search(r'<input type="url" name="url" id="id_url"[^>]*required', form.group(0))


@pytest.mark.django_db
def test_a_link_is_fetched_and_becomes_a_job(vr: Client, site: Site) -> None:
    link = _submit(vr, f"{site.base}/song.mp3")
    page = vr.get(f"/links/{link.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Fetching the song from the link" in html
    assert '<meta http-equiv="refresh"' in html  # without JavaScript it reloads itself
    assert vr.get(f"/links/{link.pk}/status.json").json()["state"] == "fetching"

    assert import_link_task(str(link.pk)) == "succeeded"
    link.refresh_from_db()
    assert link.status == LinkImport.Status.SUCCEEDED
    job = Job.objects.get()
    assert link.job == job
    assert (job.brand, job.stem, job.original_name) == (
        "vocals-remover",
        "accompaniment",
        "song.mp3",
    )
    assert job.separation.source.duration == pytest.approx(8, abs=0.2)
    status = vr.get(f"/links/{link.pk}/status.json").json()
    assert status == {
        "state": "done",
        "finished": True,
        "redirect": f"/jobs/{job.pk}/",
        "error": None,
        "code": None,
    }
    followed = vr.get(f"/links/{link.pk}/")
    assert followed.status_code == 302
    assert followed["Location"] == f"/jobs/{job.pk}/"
    # A second run of the same message (redelivered) changes nothing.
    assert import_link_task(str(link.pk)) == "gone"
    assert Job.objects.count() == 1


@pytest.mark.django_db
def test_a_link_to_audio_already_uploaded_reuses_its_separation(
    vr: Client, site: Site, song: bytes
) -> None:
    uploaded = vr.post("/", {"file": SimpleUploadedFile("mine.mp3", song)})
    assert uploaded.status_code == 303
    first = Job.objects.get()
    link = _submit(vr, f"{site.base}/song.mp3")
    import_link_task(str(link.pk))
    link.refresh_from_db()
    assert link.job is not None and link.job != first
    assert link.job.separation_id == first.separation_id
    assert Separation.objects.count() == 1
    assert AudioSource.objects.count() == 1


@pytest.mark.parametrize(
    ("path", "code", "message"),
    [
        ("/page.html", "no_media", "No audio or video was found at that link."),
        ("/playlist.html", "playlist", "That link is a playlist; paste the link of a single song."),
        ("/missing.mp3", "not_found", "Nothing was found at that link"),
    ],
)
@pytest.mark.django_db
def test_a_link_that_cannot_be_fetched_fails_with_its_reason_and_leaves_nothing(
    vr: Client, site: Site, path: str, code: str, message: str
) -> None:
    before = stored_files()
    link = _submit(vr, site.base + path)
    assert import_link_task(str(link.pk)) == code
    link.refresh_from_db()
    assert (link.status, link.error_code) == (LinkImport.Status.FAILED, code)
    page = vr.get(f"/links/{link.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "We could not fetch this link" in html
    assert message in html
    assert "http-equiv" not in html  # finished: no more reloading
    status = vr.get(f"/links/{link.pk}/status.json").json()
    assert status["state"] == "failed"
    assert message in status["error"]
    _nothing_stored(before)


@pytest.mark.django_db
def test_a_redirect_into_a_local_address_is_refused_before_reaching_it(
    vr: Client, site: Site, target: Site
) -> None:
    before = stored_files()
    link = _submit(vr, f"{site.base}/to-target")
    assert import_link_task(str(link.pk)) == "private_address"
    assert "/to-target" in site.hits
    assert target.hits == []  # the guard refused the connection itself
    assert "private or local address" in vr.get(f"/links/{link.pk}/").content.decode()
    _nothing_stored(before)


@pytest.mark.parametrize(
    ("url", "status", "message"),
    [
        ("http://127.0.0.1:6379/", 422, "private or local address"),
        ("http://169.254.169.254/latest/meta-data/", 422, "private or local address"),
        ("http://[::1]:8000/", 422, "private or local address"),
        ("http://localhost/song.mp3", 422, "private or local address"),
        ("http://10.0.0.1/song.mp3", 422, "private or local address"),
        ("file:///etc/passwd", 400, "Only http:// and https:// links are accepted."),
        ("ftp://example.com/song.mp3", 400, "Only http:// and https:// links are accepted."),
        ("not a link", 400, "Only http:// and https:// links are accepted."),
        ("", 400, "Paste a link to a song."),
    ],
)
@pytest.mark.django_db
def test_private_addresses_and_other_schemes_are_refused_at_once(
    vr: Client, url: str, status: int, message: str
) -> None:
    before = stored_files()
    response = _paste(vr, url)
    assert response.status_code == status  # type: ignore[attr-defined]
    html = response.content.decode()  # type: ignore[attr-defined]
    assert message in html
    assert 'aria-invalid="true"' in html
    # The same refusal for the page's script.
    as_json = _paste(vr, url, HTTP_ACCEPT="application/json")
    assert as_json.status_code == status  # type: ignore[attr-defined]
    assert message in as_json.json()["error"]  # type: ignore[attr-defined]
    assert LinkImport.objects.count() == 0
    _nothing_stored(before)


@pytest.mark.django_db
def test_without_the_exception_the_local_site_is_refused_too(
    vr: Client, site: Site, settings: Settings
) -> None:
    settings.LINK_ALLOWED_PRIVATE = []
    response = _paste(vr, f"{site.base}/song.mp3")
    assert response.status_code == 422  # type: ignore[attr-defined]
    assert LinkImport.objects.count() == 0
    assert site.hits == []


@pytest.mark.django_db
def test_a_forged_post_without_the_csrf_token_is_refused(site: Site) -> None:
    forger = Client(HTTP_HOST=VR_HOST, enforce_csrf_checks=True)
    response = forger.post("/links/", {"url": f"{site.base}/song.mp3"})
    assert response.status_code == 403
    assert "Please reload the page" in response.content.decode()
    assert LinkImport.objects.count() == 0
    assert site.hits == []


@pytest.mark.django_db
def test_a_link_page_belongs_to_its_brand(vr: Client, ae: Client, site: Site) -> None:
    link = _submit(vr, f"{site.base}/song.mp3")
    assert ae.get(f"/links/{link.pk}/").status_code == 404
    assert ae.get(f"/links/{link.pk}/status.json").status_code == 404


@pytest.mark.django_db
def test_links_count_against_the_hourly_limit(
    site: Site, settings: Settings, redis_server: str
) -> None:
    redis.Redis.from_url(django_settings.REDIS_URL).flushdb()
    settings.ANON_SUBMISSIONS_PER_HOUR = 1
    vr = Client(HTTP_HOST=VR_HOST, REMOTE_ADDR="203.0.113.20")
    assert _paste(vr, f"{site.base}/song.mp3").status_code == 303  # type: ignore[attr-defined]
    refused = _paste(vr, f"{site.base}/song.mp3")
    assert refused.status_code == 429  # type: ignore[attr-defined]
    assert "Please try again in 60 minutes" in refused.content.decode()  # type: ignore[attr-defined]
    assert LinkImport.objects.count() == 1


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_link_through_the_real_worker_ends_in_a_downloadable_result(
    celery_worker: WorkerProcess, site: Site
) -> None:
    ae = Client(HTTP_HOST=AE_HOST)
    response = _paste(ae, f"{site.base}/song.mp3")
    assert response.status_code == 303  # type: ignore[attr-defined]
    link_url = response["Location"]  # type: ignore[index]
    deadline = time.monotonic() + 240
    while not (status := ae.get(f"{link_url}status.json").json())["finished"]:
        assert time.monotonic() < deadline, celery_worker.log()[-3000:]
        time.sleep(0.3)
    assert status["state"] == "done", status
    job_url = status["redirect"]
    while not (job_status := ae.get(f"{job_url}status.json").json())["finished"]:
        assert time.monotonic() < deadline, celery_worker.log()[-3000:]
        time.sleep(0.3)
    assert job_status["state"] == "done", Job.objects.get().error_message
    download = ae.get(f"{job_url}download/")
    assert download.status_code == 200
    assert download["Content-Disposition"] == 'attachment; filename="song (Acapella).mp3"'
    assert site.hits.count("/song.mp3") >= 1


VIDEO = "lOcAlTuBe01"


def _video_forms(base: str) -> list[str]:
    """Fifty ways to paste one video of the local video site (its links are YouTube-shaped)."""
    forms = [
        f"{base}/watch?v={VIDEO}",
        f"{base}/watch/?v={VIDEO}",
        f"{base}/shorts/{VIDEO}",
        f"{base}/embed/{VIDEO}",
        f"{base}/v/{VIDEO}",
        f"{base}/live/{VIDEO}",
        f"{base}/watch?feature=share&v={VIDEO}",
        f"{base}/watch?v={VIDEO}&list=RD{VIDEO}&start_radio=1",
        f"{base}/shorts/{VIDEO}?feature=share",
        f"{base}/embed/{VIDEO}?autoplay=1",
    ]
    forms += [f"{base}/watch?v={VIDEO}&t={t}" for t in range(1, 21)]
    forms += [f"{base}/shorts/{VIDEO}?si=share{n}" for n in range(10)]
    forms += [f"{base}/embed/{VIDEO}?start={t}" for t in range(10)]
    assert len(set(forms)) == 50
    return forms


@pytest.fixture
def tube(song: bytes) -> Iterator[Site]:
    """The local video site, with its one video's metadata and audio."""
    meta = b'{"title": "Local Song", "artist": "The Testers", "duration": 8}'
    s = Site(
        {
            f"/api/{VIDEO}.json": (200, {"Content-Type": "application/json"}, meta),
            f"/media/{VIDEO}.mp3": (200, {"Content-Type": "audio/mpeg"}, song),
        },
        port=LINK_PORT,
    )
    yield s
    s.close()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_fifty_pastes_of_one_video_in_its_url_forms_fetch_it_once(
    celery_worker: WorkerProcess, tube: Site
) -> None:
    media_path = f"/media/{VIDEO}.mp3"
    forms = _video_forms(tube.base)
    vr, ae = Client(HTTP_HOST=VR_HOST), Client(HTTP_HOST=AE_HOST)
    # The first paste's download is held open, so that the next pastes come while it runs.
    gate = threading.Event()
    tube.gates[media_path] = gate
    first = _paste(vr, forms[0])
    assert first.status_code == 303  # type: ignore[attr-defined]
    wait_for(lambda: media_path in tube.hits, timeout=120)
    during = [_paste(ae if n % 2 else vr, url) for n, url in enumerate(forms[1:25], 1)]
    assert all(r.status_code == 303 for r in during)  # type: ignore[attr-defined]
    assert all(r["Location"].startswith("/links/") for r in during)  # type: ignore[index]
    # Every one of them was taken by the worker and left waiting for the first fetch.
    wait_for(
        lambda: (
            LinkImport.objects.filter(status=LinkImport.Status.QUEUED).count() == 24
            and not LinkImport.objects.filter(status=LinkImport.Status.FETCHING)
            .exclude(url=forms[0])
            .exists()
        ),
        timeout=120,
    )
    gate.set()
    wait_for(
        lambda: LinkImport.objects.filter(status=LinkImport.Status.SUCCEEDED).count() == 25,
        timeout=180,
    )
    # Pasted after the fetch: a job at once, no download, straight to the job's page.
    for n, url in enumerate(forms[25:]):
        started = time.monotonic()
        response = _paste(ae if n % 2 else vr, url)
        elapsed = time.monotonic() - started
        assert response.status_code == 303  # type: ignore[attr-defined]
        assert response["Location"].startswith("/jobs/")  # type: ignore[index]
        assert elapsed < 1.0, f"{url} took {elapsed:.2f} s"
    assert tube.hits.count(media_path) == 1
    links = LinkImport.objects.all()
    assert links.count() == 50
    assert {link.status for link in links} == {LinkImport.Status.SUCCEEDED}
    assert len({link.media_id for link in links}) == 1
    media = RemoteMedia.objects.get()
    assert (media.extractor, media.media_id, media.fetches) == ("LocalTube", VIDEO, 1)
    jobs = Job.objects.all()
    assert jobs.count() == 50
    assert len({job.separation_id for job in jobs}) == 1  # one separation for both sites
    assert {job.brand for job in jobs} == {"vocals-remover", "acapella-extractor"}
    assert {job.original_name for job in jobs} == {"Local Song.mp3"}
    assert AudioSource.objects.count() == 1


@pytest.mark.django_db
def test_a_known_video_attaches_at_once_and_counts_as_a_use(
    vr: Client, tube: Site, settings: Settings
) -> None:
    """A later paste keeps the stored files for its own retention time, like a new upload."""
    first = _submit(vr, _video_forms(tube.base)[0])
    assert import_link_task(str(first.pk)) == "succeeded"
    first_job = Job.objects.get()
    again = _paste(vr, _video_forms(tube.base)[7])
    assert again.status_code == 303  # type: ignore[attr-defined]
    job = Job.objects.exclude(pk=first_job.pk).get()
    assert again["Location"] == f"/jobs/{job.pk}/"  # type: ignore[index]
    assert job.separation_id == first_job.separation_id
    assert job.created_at > first_job.created_at
    assert tube.hits.count(f"/media/{VIDEO}.mp3") == 1
    # Once the stored audio is gone (retention), the next paste fetches it again.
    source = AudioSource.objects.get()
    source.file.delete(save=True)
    refetch = _paste(vr, _video_forms(tube.base)[3])
    assert refetch["Location"].startswith("/links/")  # type: ignore[index]
    link = LinkImport.objects.order_by("-created_at").first()
    assert link is not None
    assert import_link_task(str(link.pk)) == "succeeded"
    assert tube.hits.count(f"/media/{VIDEO}.mp3") == 2


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com:99999/song.mp3",
        "http://example.com:http/song.mp3",
        "http://[::1/song.mp3",
        "http://example.com:\uff18\uff10/song.mp3",
        "http://example.com\uff1a80/song.mp3",
    ],
)
@pytest.mark.django_db
def test_malformed_links_are_a_400_never_a_500(vr: Client, url: str) -> None:
    before = stored_files()
    response = _paste(vr, url)
    assert response.status_code == 400  # type: ignore[attr-defined]
    as_json = _paste(vr, url, HTTP_ACCEPT="application/json")
    assert as_json.status_code == 400  # type: ignore[attr-defined]
    assert as_json.json()["error"].endswith(".")  # type: ignore[attr-defined]
    assert LinkImport.objects.count() == 0
    _nothing_stored(before)


@pytest.mark.django_db
def test_youtubes_bot_check_reaches_the_visitor_in_plain_words(vr: Client) -> None:
    from shared_separation.links.fetch import BOT_CHECK_MESSAGE

    link = LinkImport.objects.create(
        url="https://www.youtube.com/watch?v=dQw4w9WgXcQ", stem="accompaniment",
        brand="vocals-remover", status=LinkImport.Status.FAILED, error_code="bot_check",
        error_message=BOT_CHECK_MESSAGE,
    )  # fmt: skip
    html = vr.get(f"/links/{link.pk}/").content.decode()
    assert "sign in to prove it is not a bot" in html
    assert "upload the file here" in html
    status = vr.get(f"/links/{link.pk}/status.json").json()
    assert status["state"] == "failed" and status["code"] == "bot_check"


@pytest.mark.django_db
def test_a_link_waits_for_a_live_fetch_and_takes_over_a_dead_one(
    vr: Client, tube: Site, django_capture_on_commit_callbacks: Any
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    link = _submit(vr, _video_forms(tube.base)[4])
    media = RemoteMedia.objects.get()
    # Another worker is fetching the video: this link waits, back in the queue, and asks to
    # be looked at again once that fetch's lease would have run out.
    RemoteMedia.objects.filter(pk=media.pk).update(
        lease_until=timezone.now() + timedelta(minutes=5)
    )
    with django_capture_on_commit_callbacks() as callbacks:
        assert import_link_task(str(link.pk)) == "waiting"
    link.refresh_from_db()
    assert link.status == LinkImport.Status.QUEUED
    assert tube.hits == [] and len(callbacks) == 1
    # That worker died: its lease ran out, and the waiting link fetches the video itself.
    RemoteMedia.objects.filter(pk=media.pk).update(
        lease_until=timezone.now() - timedelta(seconds=1)
    )
    assert import_link_task(str(link.pk)) == "succeeded"
    media.refresh_from_db()
    assert (media.fetches, media.lease_until) == (1, None)
    assert tube.hits.count(f"/media/{VIDEO}.mp3") == 1
