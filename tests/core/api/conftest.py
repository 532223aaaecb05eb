"""API clients, paying accounts with keys, a local callback receiver, and schema checks.

The callback receiver listens on a port chosen here, at import, and let through the callback
address guard (API_CALLBACK_ALLOWED_PRIVATE) in the environment, so that the Celery worker
processes the tests start (which inherit it) accept it too; every other private address stays
refused.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import yaml
from django.contrib.auth.models import User
from django.core.management import call_command
from jsonschema import Draft202012Validator
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from core.api import services as api_services
from core.billing import services as billing

if "STEMSPLIT_TEST_CALLBACK_PORT" not in os.environ:
    with socket.socket() as _sock:
        _sock.bind(("127.0.0.1", 0))
        os.environ["STEMSPLIT_TEST_CALLBACK_PORT"] = str(_sock.getsockname()[1])
CALLBACK_PORT = int(os.environ["STEMSPLIT_TEST_CALLBACK_PORT"])
CALLBACK_ALLOW = f"127.0.0.1:{CALLBACK_PORT}"
os.environ["API_CALLBACK_ALLOWED_PRIVATE"] = CALLBACK_ALLOW

HOST = "vocals-remover.localhost:8000"
BASE = f"http://{HOST}"


@pytest.fixture(autouse=True)
def _api_settings(settings: Settings) -> None:
    """No rate limit (its own tests set one, with a Redis) and the test receiver allowed."""
    settings.API_REQUESTS_PER_MINUTE = 0
    settings.API_CALLBACK_ALLOWED_PRIVATE = [CALLBACK_ALLOW]
    settings.API_CALLBACK_RETRY_DELAY = 0.0


def make_user(*, credits: int = 100, paid: bool = True, email: str | None = None) -> User:
    """Return a user with `credits`: bought (the paid plan, with API access) or granted."""
    email = email or f"{uuid.uuid4().hex[:10]}@example.com"
    user = User.objects.create_user(username=email, email=email, password="x-secret-1")
    if paid:
        billing.purchase(user, credits, key=f"test-purchase:{user.pk}")
    elif credits:
        billing.grant(user, credits, key=f"test-grant:{user.pk}")
    return user


def client_for(key: str | None, host: str = HOST) -> APIClient:
    """Return an API client that sends `key` (none when None)."""
    client = APIClient(HTTP_HOST=host)
    if key is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


@dataclass
class Account:
    """A paying user, one of their keys and a client sending it."""

    user: User
    key: str
    client: APIClient


@pytest.fixture
def account(db: None) -> Account:
    """A paying account with 100 credits and an API key."""
    user = make_user()
    _, key = api_services.create_key(user, "tests")
    return Account(user, key, client_for(key))


@pytest.fixture
def other(db: None) -> Account:
    """Another paying account."""
    user = make_user()
    _, key = api_services.create_key(user, "other")
    return Account(user, key, client_for(key))


@cache
def openapi() -> dict[str, Any]:
    """Return the generated OpenAPI document (validated, failing on any warning)."""
    path = os.path.join(os.environ["STEMSPLIT_TEST_DATA_DIR"], "openapi.yaml")
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", path)
    with open(path) as fh:
        document: dict[str, Any] = yaml.safe_load(fh)
    return document


def _json_schema(node: Any) -> Any:
    """Turn OpenAPI 3.0 schema objects into JSON Schema: `nullable: true` becomes a null type."""
    if isinstance(node, list):
        return [_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    converted = {k: _json_schema(v) for k, v in node.items() if k != "nullable"}
    if node.get("nullable"):
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


def assert_matches(component: str, data: Any) -> None:
    """Check JSON data against a component schema of the generated OpenAPI document."""
    components = _json_schema(openapi()["components"])
    schema = {"$ref": f"#/components/schemas/{component}", "components": components}
    errors = sorted(Draft202012Validator(schema).iter_errors(data), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    """Check an error response: its status, the one error shape and its stable code."""
    assert response.status_code == status, response.content[:500]
    body: dict[str, Any] = json.loads(response.content)
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]
    assert_matches("Error", body)
    return body


@dataclass
class Receiver:
    """A local HTTP server that records the callbacks posted to it."""

    server: ThreadingHTTPServer
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # answers to give, then 200
    event: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/stemsplit?x=1"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """Listen for callbacks on the one private address the guard lets through here."""
    holder: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            rec = holder["r"]
            data = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            rec.received.append(({k: v for k, v in self.headers.items()}, data))
            status = rec.statuses.pop(0) if rec.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()
            if status == 200:
                rec.event.set()

        def log_message(self, *args: object) -> None:
            pass

    ThreadingHTTPServer.allow_reuse_address = True
    server = ThreadingHTTPServer(("127.0.0.1", CALLBACK_PORT), Handler)
    holder["r"] = Receiver(server)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield holder["r"]
    server.shutdown()
    server.server_close()
