"""Pricing, Checkout and Stripe's webhook. Thin: credits move only in core.billing services."""

from __future__ import annotations

import logging
from datetime import timedelta
from urllib.parse import urlencode

from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST, require_safe

from core.billing import catalog, checkout, plans, webhooks
from core.billing.models import StripeCustomer, Subscription

logger = logging.getLogger(__name__)


def _absolute(request: HttpRequest, name: str) -> str:
    # Back to the host the visitor paid from, so they land on the same brand.
    return request.build_absolute_uri(reverse(name))


@require_safe
def pricing(request: HttpRequest) -> HttpResponse:
    """List the credit packs and the monthly plan, and what paying unlocks."""
    monthly = catalog.monthly_plan()
    user = request.user
    brand_name = getattr(getattr(request, "brand", None), "name", "")
    context = {
        "page_title": f"Pricing · {brand_name}",
        "page_description": (
            f"{brand_name} pricing: free songs up to {_length(plans.free_plan().max_duration)}, "
            "credit packs and a monthly plan for longer songs, WAV and FLAC and priority."
        ),
        "enabled": catalog.payments_enabled(),
        "packs": [
            {"pack": p, "price": catalog.money(p.price, p.currency)} for p in catalog.packs()
        ],
        "monthly": monthly,
        "monthly_price": catalog.money(monthly.price, monthly.currency) if monthly else "",
        "free": plans.free_plan(),
        "pro": plans.paid_plan(),
        "current": plans.plan_for(user),
        "subscribed": isinstance(user, User)
        and Subscription.objects.filter(
            user=user, status__in=Subscription.ACTIVE_STATUSES
        ).exists(),
        "cancelled": request.GET.get("cancelled") == "1",
        "free_length": _length(plans.free_plan().max_duration),
        "pro_length": _length(plans.paid_plan().max_duration),
        "free_retention": _days_or_hours(plans.free_plan().retention),
        "pro_retention": _days_or_hours(plans.paid_plan().retention),
    }
    return render(request, "billing/pricing.html", context)


def _length(seconds: float) -> str:
    """Return a song length limit as people read it: 5 minutes, 90 seconds."""
    if seconds >= 60 and seconds % 60 == 0:
        minutes = int(seconds // 60)
        return f"{minutes} minute{pluralize(minutes)}"
    return f"{round(seconds)} seconds"


def _days_or_hours(delta: timedelta) -> str:
    """Return a retention as people read it: 7 days, 24 hours."""
    hours = round(delta.total_seconds() / 3600)
    if hours >= 48 and hours % 24 == 0:
        return f"{hours // 24} days"
    return f"{hours} hour{pluralize(hours)}"


def _refuse(request: HttpRequest, title: str, message: str, status: int) -> HttpResponse:
    context = {"title": title, "message": message, "home_link": True}
    return render(request, "web/message.html", context, status=status)


def _buyer(request: HttpRequest) -> User | HttpResponse:
    """Return the signed-in user, or the answer for a visitor who cannot buy now."""
    if not catalog.payments_enabled():
        return _refuse(request, "Payments are off", "Payments are off on this site for now.", 503)
    if not isinstance(request.user, User) or not request.user.is_authenticated:
        login = reverse("account_login") + "?" + urlencode({"next": reverse("billing:pricing")})
        return HttpResponseRedirect(login, status=303)
    return request.user


def _go_to_checkout(request: HttpRequest, opener: object) -> HttpResponse:
    assert callable(opener)
    try:
        url: str = opener(
            success_url=_absolute(request, "billing:thanks"),
            cancel_url=_absolute(request, "billing:pricing") + "?cancelled=1",
        )
    except checkout.PaymentsUnavailable:
        return _refuse(
            request,
            "Payments are unavailable",
            "We could not reach our payment provider. Nothing was charged; please try again.",
            503,
        )
    return HttpResponseRedirect(url, status=303)


@require_POST
def buy_pack(request: HttpRequest, code: str) -> HttpResponse:
    """Send the visitor to Stripe Checkout to pay for one credit pack."""
    buyer = _buyer(request)
    if isinstance(buyer, HttpResponse):
        return buyer
    pack = catalog.pack(code)
    if pack is None:
        return _refuse(request, "No such pack", "Choose one of the packs on the pricing page.", 404)
    return _go_to_checkout(request, lambda **urls: checkout.pack_checkout(buyer, pack, **urls))


@require_POST
def subscribe(request: HttpRequest) -> HttpResponse:
    """Send the visitor to Stripe Checkout to start the monthly plan."""
    buyer = _buyer(request)
    if isinstance(buyer, HttpResponse):
        return buyer
    monthly = catalog.monthly_plan()
    if monthly is None:
        return _refuse(request, "No monthly plan", "The monthly plan is not offered.", 404)
    return _go_to_checkout(
        request, lambda **urls: checkout.subscription_checkout(buyer, monthly, **urls)
    )


@require_POST
def manage(request: HttpRequest) -> HttpResponse:
    """Open Stripe's billing portal, where the monthly plan is changed or cancelled."""
    buyer = _buyer(request)
    if isinstance(buyer, HttpResponse):
        return buyer
    if not StripeCustomer.objects.filter(user=buyer).exists():
        return _refuse(request, "No plan to manage", "This account has no monthly plan.", 404)
    try:
        url = checkout.portal_url(buyer, return_url=_absolute(request, "accounts:overview"))
    except checkout.PaymentsUnavailable:
        return _refuse(
            request,
            "Payments are unavailable",
            "We could not reach our payment provider; please try again.",
            503,
        )
    return HttpResponseRedirect(url, status=303)


@never_cache
@require_safe
def thanks(request: HttpRequest) -> HttpResponse:
    """Say the payment went through; the credits follow with Stripe's webhook."""
    return render(request, "billing/thanks.html")


@csrf_exempt
@require_POST
def webhook(request: HttpRequest) -> HttpResponse:
    """Apply a Stripe event signed with our webhook secret; 400 for anything else."""
    try:
        event = webhooks.verify(request.body, request.headers.get("Stripe-Signature"))
    except webhooks.InvalidEvent as exc:
        logger.warning("stripe webhook refused: %s", exc)
        return JsonResponse({"error": "invalid signature or payload"}, status=400)
    try:
        row = webhooks.handle(event)
    except LookupError as exc:
        # Not applied and not recorded: the 500 makes Stripe deliver it again later.
        logger.error("stripe event %s (%s) not applied: %s", event["id"], event["type"], exc)
        return JsonResponse({"error": "unknown account"}, status=500)
    return JsonResponse({"received": True, "applied": row is not None})
