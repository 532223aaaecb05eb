"""The legal pages, the same on every brand's site."""

from __future__ import annotations

from django.urls import path

from core.legal import views

app_name = "legal"

urlpatterns = [
    path("terms/", views.terms, name="terms"),
    path("privacy/", views.privacy, name="privacy"),
    path("contact/", views.contact, name="contact"),
    path("copyright/", views.copyright_policy, name="copyright"),
]
