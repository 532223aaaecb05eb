"""Routes of /api/v1/, the same on both hosts."""

from __future__ import annotations

from django.urls import path, re_path, register_converter
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from core.api import views


class _Choice:
    regex = ""

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


class StemConverter(_Choice):
    """vocals or accompaniment."""

    regex = "vocals|accompaniment"


class FormatConverter(_Choice):
    """mp3, wav or flac."""

    regex = "mp3|wav|flac"


register_converter(StemConverter, "stem")
register_converter(FormatConverter, "fmt")

app_name = "api"

urlpatterns = [
    path("separations", views.SeparationList.as_view(), name="separations"),
    path("separations/<uuid:pk>", views.SeparationDetail.as_view(), name="separation"),
    path("separations/<uuid:pk>/cancel", views.SeparationCancel.as_view(), name="cancel"),
    path(
        "separations/<uuid:pk>/<stem:stem>.<fmt:fmt>",
        views.SeparationDownload.as_view(),
        name="download",
    ),
    path(
        "separations/<uuid:pk>/<stem:stem>/stream",
        views.SeparationStream.as_view(),
        name="stream",
    ),
    path("account", views.AccountView.as_view(), name="account"),
    path("account/ledger", views.LedgerView.as_view(), name="ledger"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script from a URL: no inline script for the CSP.
    path(
        "docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="api:schema", template_name="api/swagger_ui.html"
        ),
        name="docs",
    ),
    # Last: any other address under /api/v1/ answers in the API's error shape, not HTML.
    re_path(r"^.*$", views.unknown_endpoint),
]
