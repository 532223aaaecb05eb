"""The API's live stream: its address while queued or running, the bytes, clear refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from django.conf import settings

from core.jobs import live_streams, services
from core.jobs.models import Job, Separation
from tests.core.api.conftest import BASE, Account, assert_error, assert_matches, client_for
from tests.core.api.helpers import finish, song, upload

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clean_redis(redis_server: str) -> None:
    redis.Redis.from_url(settings.REDIS_URL).flushdb()


def test_a_running_separation_streams_each_delivered_stem(account: Account, tmp_path: Path) -> None:
    body = upload(account.client, song(tmp_path), stem="both").json()
    base = f"{BASE}/api/v1/separations/{body['id']}"
    assert body["streams"] == {
        "vocals": f"{base}/vocals/stream",
        "accompaniment": f"{base}/accompaniment/stream",
    }
    _claim, separation = services.claim_separation(Job.objects.get().separation_id, "w")
    assert separation is not None
    live_streams.announce(separation.pk, separation.attempts, ["vocals", "accompaniment"])
    writer = live_streams.Writer(separation.pk, separation.attempts, "vocals")
    writer(b"mp3 frames")
    writer.end()
    response = account.client.get(f"/api/v1/separations/{body['id']}/vocals/stream")
    assert response.status_code == 200
    assert response["Content-Type"] == "audio/mpeg"
    assert b"".join(response.streaming_content) == b"mp3 frames"
    detail = account.client.get(f"/api/v1/separations/{body['id']}").json()
    assert_matches("Separation", detail)
    assert detail["status"] == "running" and detail["streams"]
    # The key is needed, and only its own account's separations stream.
    anonymous = client_for(None).get(f"/api/v1/separations/{body['id']}/vocals/stream")
    assert_error(anonymous, 401, "not_authenticated")


def test_a_finished_separation_streams_its_mp3_file(account: Account, tmp_path: Path) -> None:
    body = upload(account.client, song(tmp_path), stem="vocals").json()
    finish(Job.objects.get(), tmp_path)
    detail = account.client.get(f"/api/v1/separations/{body['id']}").json()
    assert detail["streams"] == {} and detail["downloads"]
    response = account.client.get(f"/api/v1/separations/{body['id']}/vocals/stream")
    assert response.status_code == 200
    assert response["Content-Type"] == "audio/mpeg"
    assert len(b"".join(response.streaming_content)) > 10_000
    # A stem this separation does not deliver.
    missing = account.client.get(f"/api/v1/separations/{body['id']}/accompaniment/stream")
    assert_error(missing, 404, "not_found")


def test_failed_and_expired_separations_answer_clear_errors(
    account: Account, other: Account, tmp_path: Path
) -> None:
    body = upload(account.client, song(tmp_path, seed=2), stem="vocals").json()
    url = f"/api/v1/separations/{body['id']}/vocals/stream"
    assert_error(other.client.get(url), 404, "not_found")
    job = Job.objects.get()
    services.fail_separation(
        job.separation_id, code="decode_failed", message="The audio could not be decoded."
    )
    error = assert_error(account.client.get(url), 409, "failed")
    assert "could not be decoded" in error["error"]["message"]
    assert account.client.get(f"/api/v1/separations/{body['id']}").json()["streams"] == {}

    second = upload(account.client, song(tmp_path, seed=3), stem="vocals").json()
    done = Job.objects.exclude(pk=job.pk).get()
    finish(done, tmp_path)
    Separation.objects.filter(pk=done.separation_id).update(status=Separation.Status.EXPIRED)
    Job.objects.filter(pk=done.pk).update(status=Job.Status.EXPIRED)
    gone = account.client.get(f"/api/v1/separations/{second['id']}/vocals/stream")
    assert_error(gone, 410, "gone")
