"""Song pages, included by each brand's site: /t/<slug>/."""

from __future__ import annotations

from django.urls import path

from youtube_bot import views

app_name = "youtube_bot"

urlpatterns = [
    path("t/<slug:slug>/", views.song_page, name="song"),
    path("t/<slug:slug>/preview.mp3", views.song_preview, name="preview"),
]
