"""Root URL configuration."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from core.brands.views import palette_css
from core.health.views import operations

urlpatterns = [
    # Before admin.site.urls, whose catch-all would answer 404 for it.
    path("admin/operations/", admin.site.admin_view(operations), name="operations"),
    path("admin/", admin.site.urls),
    # The public API, the same on both hosts (docs/api.md).
    path("api/v1/", include("core.api.urls")),
    path("account/api-keys/", include("core.api.account_urls")),
    path("brand.css", palette_css, name="brand_palette"),
    # The account page and allauth's pages share one prefix: /account/, /account/login/, ...
    path("account/", include("core.accounts.urls")),
    path("account/", include("allauth.urls")),
    path("", include("core.billing.urls")),
    path("", include("core.web.urls")),
    path("", include("core.legal.urls")),
    path("", include("youtube_bot.urls")),
]

# allauth answers throttled logins, sign-ups and resets through this (see core.accounts).
handler429 = "core.accounts.throttling.too_many_requests"
