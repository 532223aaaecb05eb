"""The project's URLs and one view that fails the way a lost upload would."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import path

from core.urls import urlpatterns as project_urls
from tests.core.health.worker_tasks import SECRET_EMAIL, SECRET_NAME


def broken(request: HttpRequest) -> HttpResponse:
    """Open an upload that is not there, for a visitor whose address is in the query."""
    wanted = settings.MEDIA_ROOT / "sources" / SECRET_NAME
    with wanted.open("rb"):  # raises FileNotFoundError naming the path
        pass
    return HttpResponse(SECRET_EMAIL)


urlpatterns = [path("broken/", broken, name="broken"), *project_urls]
