"""Answer /healthz and /metrics for any host, before host and brand checks refuse a probe.

Load balancers and Prometheus reach a process by its address, which neither ALLOWED_HOSTS
nor a brand knows; /metrics guards itself (a bearer token or allowed networks), and /healthz
shows what failed (exception text, host names) only to the same callers.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from django.core.signals import request_finished
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, JsonResponse

from core import observability
from core.health import metrics, recorder
from core.health.checks import run_checks

PATH = "/healthz"
# Anything else a client sends as a method is one label value, so it cannot grow the series.
_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
# A proxy's request id is kept when it looks like one; otherwise (or absent) a new one.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{8,64}")


def route(request: HttpRequest) -> str:
    """Return the request's URL name (never its path, whose ids would be unbounded labels)."""
    match = getattr(request, "resolver_match", None)
    if match is not None:
        return str(match.view_name)
    path = request.path_info.rstrip("/")
    if path in (PATH, metrics.PATH):
        return path.lstrip("/")  # answered by HealthCheckMiddleware, before any URL resolves
    return "unmatched"  # a 404, or a host no brand serves


@receiver(request_finished)
def _forget_request_id(**_: Any) -> None:
    """Leave no request's id on what this thread logs between requests."""
    observability.request_id.set("")


class RequestMetricsMiddleware:
    """Time every request into /metrics and give it an id, for logs and the X-Request-ID header."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        given = request.headers.get("X-Request-ID", "")
        request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        # Kept until request_finished: Django logs a 4xx/5xx ("Not Found: ...") after the
        # middleware returns, and that line should carry the id too.
        observability.request_id.set(request_id)
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed = time.perf_counter() - started
        method = request.method if request.method in _METHODS else "other"
        name, code = route(request), str(response.status_code)
        recorder.record(
            [
                (recorder.HTTP_DURATION, (method, name, f"{code[0]}xx"), elapsed),
                (recorder.HTTP_REQUESTS, (method, name, code), 1),
            ]
        )
        response["X-Request-ID"] = request_id
        return response


class HealthCheckMiddleware:
    """Serve the health report (200 when every dependency answers, 503 otherwise) and metrics."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info.rstrip("/")
        if path not in (PATH, metrics.PATH):
            return self.get_response(request)
        if request.method not in ("GET", "HEAD"):
            return HttpResponse(status=405, headers={"Allow": "GET, HEAD"})
        if path == metrics.PATH:
            return metrics.metrics_view(request)
        results = run_checks()
        healthy = all(r.ok for r in results)
        # An exception's text names hosts, ports and paths: for the operator, not the world.
        trusted = metrics.allowed(request)
        body = {
            "status": "ok" if healthy else "failing",
            "checks": {
                r.name: (
                    {"ok": r.ok, "detail": r.detail, "ms": round(r.millis, 1)}
                    if trusted
                    else {"ok": r.ok}
                )
                for r in results
            },
        }
        response = JsonResponse(body, status=200 if healthy else 503)
        response["Cache-Control"] = "no-store"
        return response
