"""The account page; allauth's pages (log in, sign up, ...) sit beside it under /account/."""

from __future__ import annotations

from django.urls import path

from core.accounts import views

app_name = "accounts"

urlpatterns = [
    path("", views.overview, name="overview"),
]
