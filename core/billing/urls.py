"""Pricing, Checkout and the Stripe webhook, the same on both brands."""

from __future__ import annotations

from django.urls import path

from core.billing import views

app_name = "billing"

urlpatterns = [
    path("pricing/", views.pricing, name="pricing"),
    path("pricing/packs/<str:code>/", views.buy_pack, name="buy_pack"),
    path("pricing/subscribe/", views.subscribe, name="subscribe"),
    path("pricing/manage/", views.manage, name="manage"),
    path("pricing/thanks/", views.thanks, name="thanks"),
    path("stripe/webhook/", views.webhook, name="webhook"),
]
