"""What each kind of visitor may do: the free tiers and the paid plan, as data."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User

from core.billing.models import CreditAccount, CreditEntry, Subscription


@dataclass(frozen=True)
class Plan:
    """The limits one plan gives; pages, forms, submission and the API all read these."""

    code: str
    name: str
    max_duration: float
    max_upload_bytes: int
    formats: frozenset[str]
    priority: bool
    retention: timedelta
    max_files: int
    api_access: bool

    @property
    def paid(self) -> bool:
        """Say whether this is a paying plan."""
        return self.code == PAID


ANONYMOUS = "anonymous"
FREE = "free"
PAID = "paid"
HOUSE = "house"


def anonymous_plan() -> Plan:
    """Return the free tier of the sites for visitors without an account."""
    return Plan(
        code=ANONYMOUS,
        name="Free (no account)",
        max_duration=settings.ANON_MAX_DURATION,
        max_upload_bytes=settings.ANON_MAX_UPLOAD_BYTES,
        formats=frozenset({"mp3"}),
        priority=False,
        retention=timedelta(hours=settings.RETENTION_HOURS),
        max_files=1,
        api_access=False,
    )


def free_plan() -> Plan:
    """Return the plan of an account that has never paid: the free tier, paid in credits."""
    return replace(anonymous_plan(), code=FREE, name="Free")


def paid_plan() -> Plan:
    """Return the plan that buying credits or subscribing unlocks."""
    return Plan(
        code=PAID,
        name="Pro",
        max_duration=settings.PAID_MAX_DURATION,
        max_upload_bytes=settings.PAID_MAX_UPLOAD_BYTES,
        formats=frozenset({"mp3", "wav", "flac"}),
        priority=True,
        retention=timedelta(days=settings.PAID_RETENTION_DAYS),
        max_files=settings.PAID_MAX_FILES,
        api_access=True,
    )


def house_plan() -> Plan:
    """Return the limits of the house's own songs (the promo bot's): whole songs, no credits."""
    return Plan(
        code=HOUSE,
        name="House",
        max_duration=settings.YOUTUBE_MAX_DURATION,
        max_upload_bytes=settings.YOUTUBE_MAX_DOWNLOAD_BYTES,
        formats=frozenset({"mp3", "wav", "flac"}),
        priority=False,
        retention=timedelta(hours=settings.RETENTION_HOURS),
        max_files=1,
        api_access=False,
    )


def has_paid(user: User) -> bool:
    """Say whether the account has bought credits (a pack or a plan period) and owes nothing."""
    if CreditAccount.objects.filter(user=user, owed__gt=0).exists():
        # A refund or dispute took back credits already spent: no paid plan until settled.
        return False
    if Subscription.objects.filter(user=user, status__in=Subscription.ACTIVE_STATUSES).exists():
        return True
    return CreditEntry.objects.filter(account__user=user, kind=CreditEntry.Kind.PURCHASE).exists()


def plan_for(user: User | AnonymousUser | None) -> Plan:
    """Return the plan that applies to a visitor, signed in or not."""
    if user is None or not user.is_authenticated:
        return anonymous_plan()
    assert isinstance(user, User)
    return paid_plan() if has_paid(user) else free_plan()


def cheapest_plan_allowing(
    *,
    duration: float | None = None,
    fmt: str | None = None,
    size: int | None = None,
    files: int | None = None,
) -> Plan | None:
    """Return the first plan, cheapest first, that allows a song's length, format, size, count."""
    for plan in (free_plan(), paid_plan()):
        if duration is not None and duration > plan.max_duration:
            continue
        if fmt is not None and fmt not in plan.formats:
            continue
        if size is not None and size > plan.max_upload_bytes:
            continue
        if files is not None and files > plan.max_files:
            continue
        return plan
    return None


def plan_refusal(current: Plan, needed: Plan | None, what: str) -> str:
    """Return the message for a limit that a higher plan lifts, naming it ("" if none does)."""
    if needed is None or needed.code == current.code:
        return ""
    if current.code == ANONYMOUS and needed.code == FREE:
        return f"{what} needs a free account. Sign up to use it."
    return f"{what} needs the {needed.name} plan. Buy any credit pack on the pricing page."


def plan_for_preview(current: Plan, duration: float) -> Plan | None:
    """Return the plan a song too long for `current` needs, when a free preview is offered.

    None when the song fits `current` (no preview needed) or no plan takes it (refused).
    """
    if duration <= current.max_duration or duration > settings.SEPARATION_MAX_DURATION:
        return None
    needed = cheapest_plan_allowing(duration=duration)
    return needed if needed is not None and needed.code != current.code else None


def longest_previewable(current: Plan) -> float:
    """Return the longest song a visitor on `current` may bring: a higher plan's, as a preview."""
    longest = max(free_plan().max_duration, paid_plan().max_duration)
    return max(current.max_duration, min(longest, settings.SEPARATION_MAX_DURATION))
