"""Answer /healthz and /metrics for any host, before host and brand checks refuse a probe.

Load balancers and Prometheus reach a process by its address, which neither ALLOWED_HOSTS
nor a brand knows; /metrics guards itself (a bearer token or allowed networks), and /healthz
shows what failed (exception text, host names) only to the same callers.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

from core.health import metrics
from core.health.checks import run_checks

PATH = "/healthz"


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
