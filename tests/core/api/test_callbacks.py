"""Callbacks: queued on commit when an API job finishes, signed, delivered to a local receiver
behind the address guard, retried with backoff."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any, cast

import pytest
import redis
from django.conf import settings as django_settings
from pytest_django.fixtures import Settings

from core.api import callbacks
from core.api.models import ApiJob
from core.api.tasks import send_callback
from core.jobs import services
from core.jobs.models import Job, LinkImport
from tests.core.api.conftest import Account, Receiver, assert_matches
from tests.core.api.helpers import finish, song, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def broker(redis_server: str) -> redis.Redis:
    """The real Redis the callback task is queued on, emptied first."""
    client = redis.Redis.from_url(django_settings.REDIS_URL)
    client.flushdb()
    return client


def _queued_callbacks(broker: redis.Redis) -> list[list[str]]:
    """Return the args of every callback task waiting on the light `default` queue."""
    found = []
    for raw in cast(list[bytes], broker.lrange("default", 0, -1)):
        message = json.loads(raw)
        if message["headers"]["task"] == callbacks.CALLBACK_TASK:
            found.append(message["headers"]["argsrepr"])
    return found


def _check_signature(secret: str, headers: dict[str, str], body: bytes) -> None:
    """Verify the Signature header as a client would, independently of core.api.callbacks."""
    parts = dict(p.split("=", 1) for p in headers["Signature"].split(","))
    assert abs(time.time() - int(parts["t"])) < 60
    expected = hmac.new(
        secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(parts["v1"], expected)


def test_sign_and_verify_follow_stripes_scheme() -> None:
    body = b'{"a":1}'
    header = callbacks.sign("whsec_test", 1700000000, body)
    expected = hmac.new(b"whsec_test", b'1700000000.{"a":1}', hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"
    now = int(time.time())
    assert callbacks.verify("whsec_test", callbacks.sign("whsec_test", now, body), body)
    assert not callbacks.verify("whsec_other", callbacks.sign("whsec_test", now, body), body)
    assert not callbacks.verify("whsec_test", callbacks.sign("whsec_test", now, body), b"{}")
    assert not callbacks.verify("whsec_test", header, body)  # too old: a replay


def test_a_finished_job_queues_its_signed_callback_once(
    account: Account,
    receiver: Receiver,
    broker: redis.Redis,
    tmp_path: Path,
    django_capture_on_commit_callbacks: Any,
) -> None:
    body = upload(account.client, song(tmp_path), callback_url=receiver.url).json()
    assert body["callback_url"] == receiver.url
    with django_capture_on_commit_callbacks(execute=True):
        finish(Job.objects.get(), tmp_path)
    assert _queued_callbacks(broker) == [f"['{body['id']}']"]
    # A second announcement of the same job (its link and its job, say) queues nothing more.
    assert callbacks.queue([body["id"]]) == 0

    receiver.statuses = [500, 503]  # two failures, then the receiver answers 200
    send_callback.apply(args=(body["id"],))
    api_job = ApiJob.objects.get()
    assert api_job.callback_status == "delivered"
    assert api_job.callback_attempts == 3
    assert len(receiver.received) == 3
    headers, data = receiver.received[-1]
    assert headers["Content-Type"] == "application/json"
    _check_signature(callbacks.secret_for(account.user.pk), headers, data)
    event = json.loads(data)
    assert event["type"] == "separation.succeeded"
    assert_matches("Separation", event["data"])
    assert event["data"]["id"] == body["id"]
    assert set(event["data"]["downloads"]) == {"accompaniment"}


def test_a_failed_job_calls_back_with_its_error(
    account: Account,
    receiver: Receiver,
    broker: redis.Redis,
    tmp_path: Path,
    django_capture_on_commit_callbacks: Any,
) -> None:
    body = upload(account.client, song(tmp_path), callback_url=receiver.url).json()
    job = Job.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        services.fail_separation(job.separation_id, code="decode_failed", message="Damaged.")
    assert _queued_callbacks(broker) == [f"['{body['id']}']"]
    send_callback.apply(args=(body["id"],))
    event = json.loads(receiver.received[-1][1])
    assert event["type"] == "separation.failed"
    assert event["data"]["error"] == {"code": "decode_failed", "message": "Damaged."}
    assert event["data"]["credits_charged"] == 0


def test_a_cached_result_calls_back_at_once(
    account: Account,
    receiver: Receiver,
    broker: redis.Redis,
    tmp_path: Path,
    django_capture_on_commit_callbacks: Any,
) -> None:
    path = song(tmp_path)
    upload(account.client, path)
    finish(Job.objects.get(), tmp_path)
    with django_capture_on_commit_callbacks(execute=True):
        again = upload(account.client, path, callback_url=receiver.url).json()
    assert again["status"] == "succeeded"
    assert _queued_callbacks(broker) == [f"['{again['id']}']"]


def test_a_failed_link_calls_back(
    account: Account,
    receiver: Receiver,
    broker: redis.Redis,
    django_capture_on_commit_callbacks: Any,
    settings: Settings,
) -> None:
    settings.LINK_ALLOWED_PRIVATE = [f"127.0.0.1:{receiver.server.server_address[1]}"]
    body = account.client.post(
        "/api/v1/separations",
        {"url": receiver.url, "callback_url": receiver.url},
        format="json",
    ).json()
    link = LinkImport.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        services.claim_link(link.pk)
        services.fail_link(link.pk, code="playlist", message="A playlist.")
    assert _queued_callbacks(broker) == [f"['{body['id']}']"]
    send_callback.apply(args=(body["id"],))
    event = json.loads(receiver.received[-1][1])
    assert event["type"] == "separation.failed"
    assert event["data"]["error"]["code"] == "playlist"


def test_the_guard_refuses_loopback_at_delivery_too(
    account: Account, receiver: Receiver, tmp_path: Path, settings: Settings
) -> None:
    body = upload(account.client, song(tmp_path), callback_url=receiver.url).json()
    finish(Job.objects.get(), tmp_path)
    settings.API_CALLBACK_ALLOWED_PRIVATE = []  # as in production: no exception
    ApiJob.objects.update(callback_status="queued")
    assert send_callback.apply(args=(body["id"],)).get() == "refused"
    assert receiver.received == []
    assert ApiJob.objects.get().callback_status == "failed"


def test_retries_stop_after_the_limit(
    account: Account, receiver: Receiver, tmp_path: Path, settings: Settings
) -> None:
    settings.API_CALLBACK_MAX_RETRIES = 2
    body = upload(account.client, song(tmp_path), callback_url=receiver.url).json()
    finish(Job.objects.get(), tmp_path)
    receiver.statuses = [500] * 10
    send_callback.apply(args=(body["id"],))
    assert len(receiver.received) == 3
    api_job = ApiJob.objects.get()
    assert (api_job.callback_status, api_job.callback_attempts) == ("failed", 3)
