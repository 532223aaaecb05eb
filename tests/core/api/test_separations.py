"""Submitting, reading, cancelling and deleting separations (DRF test client, no worker)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import default_storage
from pytest_django.fixtures import Settings

from core.billing import selectors as billing
from core.billing.models import CreditEntry
from core.jobs.models import Job
from core.jobs.services import blocks
from tests.core.api.conftest import BASE, Account, assert_error, assert_matches
from tests.core.api.helpers import finish, song, upload
from tests.factories import stored_files

pytestmark = pytest.mark.django_db


def test_an_upload_is_accepted_with_its_status_url(account: Account, tmp_path: Path) -> None:
    response = upload(account.client, song(tmp_path, 3), stem="vocals", format="wav")
    assert response.status_code == 202, response.content
    body = response.json()
    assert_matches("Separation", body)
    assert response["Location"] == body["url"] == f"{BASE}/api/v1/separations/{body['id']}"
    assert body["status"] == "queued"
    assert body["queue_position"] == 1
    assert body["stem"] == "vocals" and body["format"] == "wav"
    assert body["source"] == "upload" and body["name"] == "Song.mp3"
    assert body["credits_held"] == 1 and body["credits_charged"] == 0
    assert body["downloads"] == {}
    job = Job.objects.get()
    assert (job.origin, job.owner, job.stem, job.format) == ("api", account.user, "vocals", "wav")
    assert billing.balance(account.user) == 99


def test_the_stem_defaults_to_the_brand_of_the_host(account: Account, tmp_path: Path) -> None:
    body = upload(account.client, song(tmp_path)).json()
    assert body["stem"] == "accompaniment" and body["format"] == "mp3"


def test_status_progress_and_downloads_once_done(account: Account, tmp_path: Path) -> None:
    body = upload(account.client, song(tmp_path), stem="both").json()
    # The job keeps the site's stem, for its page there; the API delivers both.
    assert Job.objects.get().stem == "accompaniment"
    finish(Job.objects.get(), tmp_path)
    done = account.client.get(f"/api/v1/separations/{body['id']}").json()
    assert_matches("Separation", done)
    assert done["status"] == "succeeded" and done["progress"] == 1.0
    assert done["credits_charged"] == 1 and done["credits_held"] == 0
    assert done["expires_at"] and done["finished_at"]
    base = f"{BASE}/api/v1/separations/{body['id']}"
    assert done["downloads"] == {
        "vocals": f"{base}/vocals.mp3",
        "accompaniment": f"{base}/accompaniment.mp3",
    }

    download = account.client.get(f"/api/v1/separations/{body['id']}/vocals.flac")
    assert download.status_code == 200
    assert download["Content-Type"] == "audio/flac"
    assert download["Content-Disposition"] == 'attachment; filename="Song (Acapella).flac"'
    data = b"".join(download.streaming_content)
    assert data[:4] == b"fLaC"
    ranged = account.client.get(download.wsgi_request.path, HTTP_RANGE="bytes=0-3")
    assert ranged.status_code == 206 and b"".join(ranged.streaming_content) == b"fLaC"


def test_a_download_before_the_end_is_409_and_an_undelivered_stem_404(
    account: Account, tmp_path: Path
) -> None:
    body = upload(account.client, song(tmp_path), stem="vocals").json()
    url = f"/api/v1/separations/{body['id']}"
    assert_error(account.client.get(f"{url}/vocals.mp3"), 409, "not_ready")
    finish(Job.objects.get(), tmp_path)
    assert_error(account.client.get(f"{url}/accompaniment.mp3"), 404, "not_found")
    assert account.client.get(f"{url}/vocals.ogg").status_code == 404


def test_another_accounts_job_is_404_and_never_its_data(
    account: Account, other: Account, tmp_path: Path
) -> None:
    body = upload(account.client, song(tmp_path, name="Secret Title.mp3")).json()
    url = f"/api/v1/separations/{body['id']}"
    for response in (
        other.client.get(url),
        other.client.get(f"{url}/accompaniment.mp3"),
        other.client.post(f"{url}/cancel"),
        other.client.delete(url),
    ):
        assert_error(response, 404, "not_found")
        assert "Secret Title" not in response.content.decode()
    listed = other.client.get("/api/v1/separations").json()
    assert listed["count"] == 0 and listed["results"] == []
    assert Job.objects.get().status == "queued"  # nothing the other account did touched it


def test_the_list_is_paginated_and_the_accounts_own(
    account: Account, other: Account, tmp_path: Path, settings: Settings
) -> None:
    settings.API_PAGE_SIZE = 2
    ids = [upload(account.client, song(tmp_path, seed=i)).json()["id"] for i in range(3)]
    upload(other.client, song(tmp_path, seed=9))
    first = account.client.get("/api/v1/separations").json()
    assert first["count"] == 3 and len(first["results"]) == 2 and first["next"]
    second = account.client.get(first["next"]).json()
    assert [r["id"] for r in first["results"] + second["results"]] == ids[::-1]
    assert_matches("SeparationPage", first)
    assert_matches("SeparationPage", second)


def test_too_few_credits_is_402_with_the_balance_and_nothing_reserved(tmp_path: Path) -> None:
    from core.api import services
    from tests.core.api.conftest import client_for, make_user

    user = make_user(credits=1)
    _, key = services.create_key(user, "k")
    body = assert_error(upload(client_for(key), song(tmp_path, 70)), 402, "insufficient_credits")
    assert body["error"]["balance"] == 1 and body["error"]["needed"] == 2
    assert not Job.objects.exists()
    assert not CreditEntry.objects.filter(kind="reserve").exists()
    assert billing.balance(user) == 1


def test_a_file_over_the_plan_limit_is_413(
    account: Account, tmp_path: Path, settings: Settings
) -> None:
    settings.PAID_MAX_UPLOAD_BYTES = 1000
    assert_error(upload(account.client, song(tmp_path)), 413, "too_large")
    assert not Job.objects.exists()


def test_a_file_that_is_not_audio_is_415(account: Account, tmp_path: Path) -> None:
    junk = tmp_path / "notes.mp3"
    junk.write_text("these are not the droids " * 100)
    assert_error(upload(account.client, junk), 415, "not_audio")
    empty = tmp_path / "empty.mp3"
    empty.write_bytes(b"")
    assert upload(account.client, empty).status_code == 400
    assert not Job.objects.exists()


def test_a_song_blocked_after_a_copyright_notice_is_451_and_nothing_is_reserved(
    account: Account, tmp_path: Path
) -> None:
    path = song(tmp_path, 3, seed=9)
    assert upload(account.client, path).status_code == 202
    job = Job.objects.get()
    blocks.block_source(job.separation.source_id, reason="notice")
    balance = billing.balance(account.user)
    answer = upload(account.client, path)
    assert_error(answer, 451, "blocked")
    assert "removed after a copyright notice" in answer.json()["error"]["message"]
    assert billing.balance(account.user) == balance and Job.objects.count() == 1


def test_a_song_longer_than_every_plan_is_refused(
    account: Account, tmp_path: Path, settings: Settings
) -> None:
    settings.PAID_MAX_DURATION = 2.0
    body = assert_error(upload(account.client, song(tmp_path, 3)), 422, "not_allowed")
    assert "0:03" in body["error"]["message"]


def test_bad_fields_are_400_naming_the_field(account: Account, tmp_path: Path) -> None:
    body = assert_error(
        upload(account.client, song(tmp_path), stem="drums"), 400, "invalid_request"
    )
    assert "stem" in body["error"]["fields"]
    assert_error(
        account.client.post("/api/v1/separations", {}, format="json"), 400, "invalid_request"
    )
    bad_json = account.client.post("/api/v1/separations", b"{nope", content_type="application/json")
    assert_error(bad_json, 400, "malformed_request")


def test_cancel_releases_the_credits(account: Account, tmp_path: Path) -> None:
    body = upload(account.client, song(tmp_path, 70)).json()
    assert billing.balance(account.user) == 98
    response = account.client.post(f"/api/v1/separations/{body['id']}/cancel")
    assert response.status_code == 200
    assert_matches("Separation", response.json())
    assert response.json()["status"] == "cancelled"
    assert response.json()["credits_held"] == 0
    assert billing.balance(account.user) == 100
    again = account.client.post(f"/api/v1/separations/{body['id']}/cancel")
    assert_error(again, 409, "not_cancellable")


def test_delete_removes_the_job_and_its_files(
    account: Account, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    body = upload(account.client, song(tmp_path)).json()
    job = Job.objects.get()
    finish(job, tmp_path)
    job.refresh_from_db()
    url = f"/api/v1/separations/{body['id']}"
    assert account.client.get(f"{url}/accompaniment.mp3").status_code == 200
    stems = [job.separation.vocals.name, job.separation.accompaniment.name]
    assert all(default_storage.exists(n) for n in stems)
    with django_capture_on_commit_callbacks(execute=True):
        response = account.client.delete(url)
    assert response.status_code == 204
    assert not Job.objects.exists()
    assert not any(default_storage.exists(n) for n in stems)
    assert not stored_files(f"deliveries/{job.separation_id}")
    assert_error(account.client.get(url), 404, "not_found")


def test_unknown_ids_are_404_in_the_error_shape(account: Account) -> None:
    assert_error(
        account.client.get("/api/v1/separations/5b7c1c52-4d7e-4f37-9f53-4b2a1b2c3d4e"),
        404,
        "not_found",
    )


def test_unknown_endpoints_answer_in_the_error_shape(account: Account) -> None:
    assert_error(account.client.get("/api/v1/nothing-here"), 404, "not_found")
    assert_error(account.client.put("/api/v1/account"), 405, "method_not_allowed")


def test_after_retention_the_files_are_gone_410(
    account: Account, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from core.jobs import services

    body = upload(account.client, song(tmp_path)).json()
    job = Job.objects.get()
    finish(job, tmp_path)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.expire_separation(
            job.separation_id, now=timezone.now() + timedelta(days=30)
        )
    url = f"/api/v1/separations/{body['id']}"
    status = account.client.get(url).json()
    assert_matches("Separation", status)
    assert status["status"] == "expired" and status["downloads"] == {}
    assert_error(account.client.get(f"{url}/accompaniment.mp3"), 410, "gone")
