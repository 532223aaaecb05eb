"""/healthz reports the database, Redis and storage, for any host."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_healthy_on_any_host(redis_server: str, client: Client) -> None:
    # A load balancer probes by address: neither ALLOWED_HOSTS nor a brand knows it.
    response = client.get("/healthz", headers={"host": "10.1.2.3:8000"})
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert {name for name, c in body["checks"].items() if c["ok"]} == {
        "web",
        "database",
        "redis",
        "storage",
    }
    assert response["Cache-Control"] == "no-store"


def test_redis_down_is_a_503_naming_it(client: Client, settings: Any) -> None:
    settings.REDIS_URL = f"redis://127.0.0.1:{_free_port()}/0"
    response = client.get("/healthz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert not checks["redis"]["ok"] and "Connection" in checks["redis"]["detail"]
    assert checks["database"]["ok"] and checks["storage"]["ok"]


def test_storage_that_cannot_be_written_is_a_503(
    redis_server: str, client: Client, settings: Any, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the media folder should be")
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(blocker)},
        },
    }
    response = client.get("/healthz")
    assert response.status_code == 503
    assert not response.json()["checks"]["storage"]["ok"]


def test_only_get_and_head(client: Client) -> None:
    assert client.post("/healthz").status_code == 405


def test_a_stranger_sees_which_check_fails_but_not_why(client: Client, settings: Any) -> None:
    settings.METRICS_TOKEN = "s3cret-token"
    settings.REDIS_URL = f"redis://127.0.0.1:{_free_port()}/0"
    response = client.get("/healthz", REMOTE_ADDR="203.0.113.9", headers={"host": "10.0.0.5"})
    assert response.status_code == 503
    body = response.json()
    assert body == {
        "status": "failing",
        "checks": {
            "web": {"ok": True},
            "database": {"ok": True},
            "redis": {"ok": False},
            "storage": {"ok": True},
        },
    }
    assert "127.0.0.1" not in response.content.decode()


def test_the_metrics_token_or_an_allowed_network_shows_the_details(
    client: Client, settings: Any
) -> None:
    settings.METRICS_TOKEN = "s3cret-token"
    settings.METRICS_ALLOWED_NETWORKS = ["198.51.100.0/24"]
    settings.REDIS_URL = f"redis://127.0.0.1:{_free_port()}/0"
    with_token = client.get(
        "/healthz", REMOTE_ADDR="203.0.113.9", headers={"authorization": "Bearer s3cret-token"}
    )
    from_network = client.get("/healthz", REMOTE_ADDR="198.51.100.7")
    wrong_token = client.get(
        "/healthz", REMOTE_ADDR="203.0.113.9", headers={"authorization": "Bearer nope"}
    )
    for response in (with_token, from_network):
        assert response.status_code == 503
        redis_check = response.json()["checks"]["redis"]
        assert not redis_check["ok"] and "Connection" in redis_check["detail"]
        assert "ms" in redis_check
    assert wrong_token.status_code == 503
    assert wrong_token.json()["checks"]["redis"] == {"ok": False}
