"""Local stand-ins for Stripe's API: localstripe, and a Checkout Session server in front of it.

The project's Stripe client talks to one API address (STRIPE_API_BASE). That address is a small
HTTP server started here: it answers POST /v1/checkout/sessions and
/v1/billing_portal/sessions itself with Stripe's documented JSON (localstripe has neither),
recording and checking every parameter the project sends, and passes every other request
(customers, subscriptions...) on to a real localstripe process. GET /pay/<session id> stands
for Stripe's hosted page: it redirects to the session's success_url, as Stripe does once the
payer has paid.
"""

from __future__ import annotations

import json
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import stripe

SECRET_KEY = "sk_test_local_0123456789"
WEBHOOK_SECRET = "whsec_test_local_0123456789"
PRICE_ID = "price_monthly_test"


def free_port() -> int:
    """Return a TCP port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def unflatten(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Turn Stripe's form encoding (a[b][0][c]=v) back into nested dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = key.replace("]", "").split("[")
        node: Any = root
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            nxt: Any = value if last else ({} if not parts[i + 1].isdigit() else [])
            if isinstance(node, list):
                index = int(part)
                while len(node) <= index:
                    node.append(None)
                if node[index] is None:
                    node[index] = nxt
                node = node[index]
            else:
                node = node.setdefault(part, nxt)
    return root


def _error(message: str, param: str = "") -> tuple[int, dict[str, Any]]:
    return 400, {"error": {"type": "invalid_request_error", "message": message, "param": param}}


@dataclass
class CheckoutServer:
    """The API address the project talks to: Checkout here, the rest to localstripe."""

    localstripe: str
    port: int = field(default_factory=free_port)
    sessions: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # method, path, auth
    paid: list[str] = field(default_factory=list)
    portal_sessions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def check(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
        """Refuse what Stripe would refuse, as Stripe documents it."""
        mode = params.get("mode")
        if mode not in ("payment", "subscription", "setup"):
            return _error("Invalid mode", "mode")
        for url in ("success_url", "cancel_url"):
            if not str(params.get(url, "")).startswith(("http://", "https://")):
                return _error(f"Not a valid URL: {url}", url)
        items = params.get("line_items") or []
        if not items:
            return _error("line_items is required", "line_items")
        for item in items:
            if int(item.get("quantity", 0)) < 1:
                return _error("quantity must be at least 1", "line_items[0][quantity]")
            data = item.get("price_data")
            if data is None and not item.get("price"):
                return _error("price or price_data is required", "line_items[0]")
            if data is not None and (
                not data.get("currency")
                or int(data.get("unit_amount", 0)) < 1
                or not (data.get("product_data") or {}).get("name")
            ):
                return _error("incomplete price_data", "line_items[0][price_data]")
        if mode == "subscription":
            if any(item.get("price_data") for item in items):
                return _error("use a recurring price for subscriptions", "line_items")
            customer = params.get("customer")
            if not customer or self._localstripe("GET", f"/v1/customers/{customer}")[0] != 200:
                return _error(f"No such customer: '{customer}'", "customer")
        if params.get("customer") and params.get("customer_email"):
            return _error("customer and customer_email are exclusive", "customer_email")
        return None

    def create_session(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        refused = self.check(params)
        if refused is not None:
            return refused
        session_id = f"cs_test_{secrets.token_hex(12)}"
        items = params["line_items"]
        amount = sum(
            int((item.get("price_data") or {}).get("unit_amount", 0)) * int(item["quantity"])
            for item in items
        )
        session = {
            "id": session_id,
            "object": "checkout.session",
            "mode": params["mode"],
            "status": "open",
            "payment_status": "unpaid",
            "client_reference_id": params.get("client_reference_id"),
            "customer": params.get("customer"),
            "customer_email": params.get("customer_email"),
            "metadata": params.get("metadata") or {},
            "amount_total": amount,
            "currency": (items[0].get("price_data") or {}).get("currency", "eur"),
            "payment_intent": None,
            "subscription": None,
            "success_url": params["success_url"],
            "cancel_url": params["cancel_url"],
            "url": f"{self.base}/pay/{session_id}",
            "livemode": False,
        }
        self.sessions.append({"params": params, "session": session})
        return 200, session

    def create_portal_session(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Answer a billing portal session, as Stripe documents it, for a real customer."""
        customer = params.get("customer")
        if not customer or self._localstripe("GET", f"/v1/customers/{customer}")[0] != 200:
            return _error(f"No such customer: '{customer}'", "customer")
        if not str(params.get("return_url", "")).startswith(("http://", "https://")):
            return _error("Not a valid URL: return_url", "return_url")
        session_id = f"bps_{secrets.token_hex(12)}"
        session = {
            "id": session_id,
            "object": "billing_portal.session",
            "customer": customer,
            "return_url": params["return_url"],
            "url": f"{self.base}/portal/{session_id}",
            "livemode": False,
        }
        self.portal_sessions.append({"params": params, "session": session})
        return 200, session

    def _localstripe(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        request = urllib.request.Request(
            self.localstripe + path,
            data=body,
            method=method,
            headers=headers or {"Authorization": f"Bearer {SECRET_KEY}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Request-Id", f"req_{secrets.token_hex(6)}")
                self.end_headers()
                self.wfile.write(body)

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path = urlsplit(self.path).path
                auth = self.headers.get("Authorization", "")
                server.requests.append((self.command, path, auth))
                if self.command == "GET" and path.startswith("/pay/"):
                    return self._pay(path.removeprefix("/pay/"))
                if auth != f"Bearer {SECRET_KEY}":
                    status, data = (
                        401,
                        {"error": {"type": "invalid_request_error", "message": "Invalid API Key"}},
                    )
                    return self._send(status, json.dumps(data).encode(), "application/json")
                if self.command == "POST" and path == "/v1/billing_portal/sessions":
                    params = unflatten(parse_qsl(body.decode(), keep_blank_values=True))
                    status, data = server.create_portal_session(params)
                    return self._send(status, json.dumps(data).encode(), "application/json")
                if self.command == "POST" and path == "/v1/checkout/sessions":
                    params = unflatten(parse_qsl(body.decode(), keep_blank_values=True))
                    status, data = server.create_session(params)
                    return self._send(status, json.dumps(data).encode(), "application/json")
                headers = {
                    key: value
                    for key, value in self.headers.items()
                    if key.lower() in ("authorization", "content-type", "stripe-version")
                }
                status, raw = server._localstripe(self.command, self.path, body or None, headers)
                self._send(status, raw, "application/json")

            def _pay(self, session_id: str) -> None:
                found = [s for s in server.sessions if s["session"]["id"] == session_id]
                if not found:
                    return self._send(404, b"no such session", "text/plain")
                server.paid.append(session_id)
                self.send_response(303)
                self.send_header("Location", found[0]["session"]["success_url"])
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = do_DELETE = _handle

        return Handler


@dataclass
class StripeStandIn:
    """Both servers, running."""

    checkout: CheckoutServer
    localstripe_port: int

    @property
    def base(self) -> str:
        return self.checkout.base

    def client(self) -> stripe.StripeClient:
        """Return an SDK client that talks to localstripe straight, as the test's own tool."""
        return stripe.StripeClient(
            SECRET_KEY, base_addresses={"api": f"http://127.0.0.1:{self.localstripe_port}"}
        )


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("localstripe did not start")
        time.sleep(0.1)


def start(tmp: Path) -> Iterator[StripeStandIn]:
    """Start localstripe and the Checkout server; stop both afterwards."""
    exe = shutil.which("localstripe") or str(Path(sys.executable).parent / "localstripe")
    port = free_port()
    log = (tmp / "localstripe.log").open("wb")
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--from-scratch"], stdout=log, stderr=subprocess.STDOUT, cwd=tmp
    )
    try:
        _wait_for_port(port, proc)
        checkout = CheckoutServer(localstripe=f"http://127.0.0.1:{port}")
        httpd = ThreadingHTTPServer(("127.0.0.1", checkout.port), checkout.handler())
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield StripeStandIn(checkout=checkout, localstripe_port=port)
        finally:
            httpd.shutdown()
            httpd.server_close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()
