"""A local HTTP site with canned routes, for the link import's tests."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Site:
    """A local HTTP server with canned routes and a count of the requests it served."""

    def __init__(
        self, routes: dict[str, tuple[int, dict[str, str], bytes]], *, port: int = 0
    ) -> None:
        self.routes = routes
        self.hits: list[str] = []
        self.headers: list[dict[str, str]] = []
        # A path whose answer waits until its event is set (a download still under way).
        self.gates: dict[str, threading.Event] = {}
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_HEAD(self) -> None:
                self.do_GET(body=False)

            def do_GET(self, body: bool = True) -> None:
                site.hits.append(self.path)
                site.headers.append(dict(self.headers.items()))
                gate = site.gates.get(self.path.split("?")[0])
                if gate is not None:
                    gate.wait(timeout=60)
                status, headers, data = site.routes.get(
                    self.path.split("?")[0], (404, {"Content-Type": "text/plain"}, b"not found")
                )
                self.send_response(status)
                chunked = headers.get("Transfer-Encoding") == "chunked"
                for key, value in headers.items():
                    self.send_header(key, value)
                if not chunked:
                    self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if not body:
                    return
                if chunked:
                    for i in range(0, len(data), 65536):
                        part = data[i : i + 65536]
                        self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
                    self.wfile.write(b"0\r\n\r\n")
                else:
                    self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
