"""A local server speaking Sentry's envelope protocol: it records what an SDK sends."""

from __future__ import annotations

import gzip
import json
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class SentryServer:
    """Receive POST /api/<project>/envelope/ and keep each event's JSON."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.raw: list[bytes] = []
        self.arrived = threading.Condition()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                encoding = self.headers.get("Content-Encoding", "")
                if encoding == "gzip":
                    body = gzip.decompress(body)
                elif encoding == "deflate":
                    body = zlib.decompress(body)
                elif encoding == "br":
                    import brotli

                    body = brotli.decompress(body)
                ok = self.path.startswith("/api/") and self.path.endswith("/envelope/")
                self.send_response(200 if ok else 404)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")
                if ok:
                    server._received(body)

            def log_message(self, *_: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def dsn(self) -> str:
        """Return a DSN that points an SDK at this server (project 42)."""
        return f"http://publickey@127.0.0.1:{self.port}/42"

    def _received(self, body: bytes) -> None:
        # An envelope: a header line, then (item header line, payload line) pairs.
        lines = body.split(b"\n")
        events = []
        for header, payload in zip(lines[1::2], lines[2::2], strict=False):
            if json.loads(header).get("type") == "event":
                events.append(json.loads(payload))
        with self.arrived:
            self.raw.append(body)
            self.events.extend(events)
            self.arrived.notify_all()

    def wait_for(self, predicate: Any, timeout: float) -> dict[str, Any]:
        """Return the first event for which predicate(event) holds, waiting for it to arrive."""
        with self.arrived:
            found: list[dict[str, Any]] = []

            def match() -> bool:
                found[:] = [e for e in self.events if predicate(e)]
                return bool(found)

            assert self.arrived.wait_for(match, timeout), f"no such event; got {self.events}"
            return found[0]

    def __enter__(self) -> SentryServer:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
