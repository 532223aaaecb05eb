"""Callbacks: a signed POST to the client's address when an API job finishes.

Signed as Stripe signs its webhooks: `Signature: t=<unix time>,v1=<hex HMAC-SHA256 of
"<t>.<body>">` under the account's webhook secret. The address must be public (the same guard
as links); the connection goes to the very address that was checked, so a DNS answer that
changes between the check and the connection cannot reach a private host.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import socket
import ssl
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.api import selectors
from core.api.models import ApiJob, WebhookSecret
from core.celery import celery_app
from core.jobs.services import LIGHT_QUEUE
from shared_separation.links.guard import is_public, parse_allow

logger = logging.getLogger(__name__)

CALLBACK_TASK = "api.send_callback"
SIGNATURE_HEADER = "Signature"
USER_AGENT = "StemSplit-Callback/1"


class CallbackRefused(Exception):
    """The callback address is not a public http(s) address."""


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """Return the Signature header's value for a body sent at `timestamp`."""
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, header: str, body: bytes, *, tolerance: int = 300) -> bool:
    """Check a Signature header as a receiver should: the HMAC, and a recent timestamp."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


def secret_for(user_id: int) -> str:
    """Return the account's webhook secret, created on first use."""
    row, _ = WebhookSecret.objects.get_or_create(user_id=user_id)
    return row.secret


def payload(api_job: ApiJob) -> bytes:
    """Return the JSON body of an API job's callback: the event and the job as GET shows it."""
    data = selectors.describe(api_job, api_job.base_url)
    event = {
        "id": f"evt_{uuid.uuid4().hex}",
        "type": f"separation.{data['status']}",
        "created": int(time.time()),
        "data": data,
    }
    return json.dumps(event, default=str, separators=(",", ":")).encode()


def _public_addresses(host: str, port: int) -> list[str]:
    allowed = parse_allow(settings.API_CALLBACK_ALLOWED_PRIVATE)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise CallbackRefused(f"the host {host} could not be found") from exc
    addresses = []
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not is_public(ip) and (str(ip), port) not in allowed:
            raise CallbackRefused(f"{host} resolves to a private or reserved address")
        addresses.append(str(ip))
    if not addresses:
        raise CallbackRefused(f"the host {host} has no address")
    return addresses


class _PinnedHTTP(http.client.HTTPConnection):
    """An HTTP connection to a checked address, whatever the host name resolves to now."""

    def __init__(self, host: str, port: int, ip: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._ip = ip

    def connect(self) -> None:
        """Connect to the checked address."""
        self.sock = socket.create_connection((self._ip, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """An HTTPS connection to a checked address, the certificate checked for the host name."""

    def __init__(self, host: str, port: int, ip: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._ip = ip

    def connect(self) -> None:
        """Connect to the checked address and speak TLS for the host name."""
        sock = socket.create_connection((self._ip, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def check_address(url: str) -> tuple[str, str, int, list[str]]:
    """Return (scheme, host, port, addresses) of a callback URL; CallbackRefused if not public."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise CallbackRefused("only http:// and https:// addresses are accepted")
    if parts.username or parts.password:
        raise CallbackRefused("addresses with a user name or password are not accepted")
    port = parts.port or (443 if scheme == "https" else 80)
    return scheme, parts.hostname, port, _public_addresses(parts.hostname, port)


def deliver(url: str, body: bytes, secret: str) -> int:
    """POST a signed body to a public address (no redirects followed); return the status."""
    scheme, host, port, addresses = check_address(url)
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        SIGNATURE_HEADER: sign(secret, timestamp, body),
    }
    timeout = float(settings.API_CALLBACK_TIMEOUT)
    connection_class = _PinnedHTTPS if scheme == "https" else _PinnedHTTP
    conn = connection_class(host, port, addresses[0], timeout)
    try:
        conn.request("POST", target, body=body, headers=headers)
        response = conn.getresponse()
        response.read(64 * 1024)
        return response.status
    finally:
        conn.close()


def queue(api_job_ids: list[Any]) -> int:
    """Queue the callback of each finished API job that has one, once; return how many."""
    queued = 0
    for api_job_id in api_job_ids:
        # Conditional: a job announced twice (its link and its job finishing) calls back once.
        with transaction.atomic():
            claimed = (
                ApiJob.objects.filter(pk=api_job_id, callback_status=ApiJob.Callback.NONE)
                .exclude(callback_url="")
                .update(callback_status=ApiJob.Callback.QUEUED)
            )
            if claimed:
                pk = str(api_job_id)
                transaction.on_commit(lambda pk=pk: _send(pk))  # type: ignore[misc]
                queued += 1
    return queued


def _send(api_job_id: str) -> None:
    try:
        celery_app.send_task(CALLBACK_TASK, args=[api_job_id], queue=LIGHT_QUEUE)
    except Exception:
        logger.warning("could not queue the callback of %s", api_job_id, exc_info=True)


def record(api_job_id: str, *, delivered: bool, attempts: int) -> None:
    """Record how a callback ended."""
    ApiJob.objects.filter(pk=api_job_id).update(
        callback_status=ApiJob.Callback.DELIVERED if delivered else ApiJob.Callback.FAILED,
        callback_attempts=attempts,
    )
    logger.info(
        "callback of %s %s after %d attempts at %s",
        api_job_id,
        "delivered" if delivered else "given up",
        attempts,
        timezone.now().isoformat(),
    )
