"""The API over real HTTP: a running server, a real Celery worker on a real redis-server doing
the separation with the model, a real HTTP client, every JSON answer checked against the
generated OpenAPI schema, and the signed callback received by a local server."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import time
from pathlib import Path

import pytest
import requests
from pytest_django.live_server_helper import LiveServer

from core.api import services
from core.api.callbacks import secret_for
from tests.audio import make_song
from tests.conftest import WorkerProcess
from tests.core.api.conftest import Receiver, assert_matches, make_user

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _duration(path: Path) -> float:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.strip())


def test_submit_poll_download_and_the_signed_callback(
    live_server: LiveServer,
    celery_worker: WorkerProcess,
    receiver: Receiver,
    tmp_path: Path,
) -> None:
    user = make_user(credits=20)
    _, key = services.create_key(user, "live")
    api = f"{live_server.url}/api/v1"
    http = requests.Session()
    http.headers["Authorization"] = f"Api-Key {key}"
    song = make_song(tmp_path / "Night Drive.mp3", 8)

    def submit() -> requests.Response:
        with song.open("rb") as fh:
            return http.post(
                f"{api}/separations",
                files={"file": (song.name, fh, "audio/mpeg")},
                data={"stem": "both", "format": "mp3", "callback_url": receiver.url},
                headers={"Idempotency-Key": "live-1"},
                timeout=60,
            )

    response = submit()
    assert response.status_code == 202, response.text
    created = response.json()
    assert_matches("Separation", created)
    assert response.headers["Location"] == created["url"]
    assert created["credits_held"] == 1

    # A retry of the same request (a lost answer, say) is the same separation.
    retry = submit()
    assert retry.status_code == 202 and retry.json()["id"] == created["id"]

    seen = set()
    deadline = time.monotonic() + 300
    while True:
        polled = http.get(created["url"], timeout=30)
        assert polled.status_code == 200
        status = polled.json()
        assert_matches("Separation", status)
        seen.add(status["status"])
        if status["status"] in ("succeeded", "failed"):
            break
        assert time.monotonic() < deadline, celery_worker.log()[-3000:]
        time.sleep(0.5)
    assert status["status"] == "succeeded", status["error"]
    assert seen <= {"queued", "running", "succeeded"}
    assert status["credits_charged"] == 1 and status["credits_held"] == 0
    assert status["expires_at"]
    assert set(status["downloads"]) == {"vocals", "accompaniment"}

    for stem, url in status["downloads"].items():
        download = http.get(url, timeout=120)
        assert download.status_code == 200
        assert download.headers["Content-Type"] == "audio/mpeg"
        label = "Acapella" if stem == "vocals" else "Instrumental"
        assert f"Night Drive ({label}).mp3" in download.headers["Content-Disposition"]
        path = tmp_path / f"{stem}.mp3"
        path.write_bytes(download.content)
        assert abs(_duration(path) - 8) < 0.3

    listed = http.get(f"{api}/separations", timeout=30).json()
    assert_matches("SeparationPage", listed)
    assert [s["id"] for s in listed["results"]] == [created["id"]]
    account = http.get(f"{api}/account", timeout=30).json()
    assert_matches("Account", account)
    assert account["balance"] == 19
    ledger = http.get(f"{api}/account/ledger", timeout=30).json()
    assert_matches("LedgerPage", ledger)
    assert [e["kind"] for e in ledger["results"]][:2] == ["charge", "reserve"]
    assert ledger["results"][0]["separation"] == created["id"]

    # Without the key, nothing: not even with the browser's session.
    refused = requests.get(created["url"], timeout=30)
    assert refused.status_code == 401
    assert_matches("Error", refused.json())

    assert receiver.event.wait(60), celery_worker.log()[-3000:]
    headers, body = receiver.received[-1]
    parts = dict(p.split("=", 1) for p in headers["Signature"].split(","))
    expected = hmac.new(
        secret_for(user.pk).encode(), f"{parts['t']}.".encode() + body, hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(parts["v1"], expected)
    assert abs(time.time() - int(parts["t"])) < 300
    event = json.loads(body)
    assert event["type"] == "separation.succeeded"
    assert_matches("Separation", event["data"])
    assert event["data"]["id"] == created["id"]
    assert event["data"]["downloads"] == status["downloads"]
