"""The project's URLs plus the song pages, until the brands' urlconfs include them."""

from __future__ import annotations

from django.urls import include, path

from core.urls import urlpatterns as core_patterns

urlpatterns = [path("", include("youtube_bot.urls")), *core_patterns]
