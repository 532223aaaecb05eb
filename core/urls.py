"""Root URL configuration."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    # The account page and allauth's pages share one prefix: /account/, /account/login/, ...
    path("account/", include("core.accounts.urls")),
    path("account/", include("allauth.urls")),
    path("", include("core.web.urls")),
    path("", include("youtube_bot.urls")),
]
