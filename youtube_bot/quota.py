"""Per-channel daily budget of YouTube Data API units, spent with conditional updates."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from youtube_bot.models import Channel

# YouTube resets quotas at midnight Pacific time.
PACIFIC = ZoneInfo("America/Los_Angeles")


def cost(call: str) -> int:
    """Return the units an API call costs, from settings."""
    return int(settings.YOUTUBE_QUOTA_COSTS[call])


def quota_day(now: datetime | None = None) -> date:
    """Return YouTube's quota day (a Pacific date) at this instant."""
    return (now or timezone.now()).astimezone(PACIFIC).date()


def day_start(now: datetime | None = None) -> datetime:
    """Return the instant the current quota day started."""
    return datetime.combine(quota_day(now), time.min, tzinfo=PACIFIC)


def next_reset(now: datetime | None = None) -> datetime:
    """Return the instant the next quota day starts."""
    day = quota_day(now) + timedelta(days=1)
    return datetime.combine(day, time.min, tzinfo=PACIFIC)


def budget(channel: Channel) -> int:
    """Return the channel's daily budget."""
    if channel.quota_budget is not None:
        return channel.quota_budget
    return int(settings.YOUTUBE_DAILY_QUOTA)


def remaining(channel: Channel, now: datetime | None = None) -> int:
    """Return the units left today."""
    used = channel.quota_used if channel.quota_day == quota_day(now) else 0
    return max(0, budget(channel) - used)


def reserve(
    channel: Channel, units: int, *, require: int | None = None, now: datetime | None = None
) -> bool:
    """Spend units of today's budget if `require` units (default: units) are still left."""
    day = quota_day(now)
    limit = budget(channel) - (units if require is None else require)
    if limit < 0:
        return False
    with transaction.atomic():
        # The first spending of a new day starts it from zero.
        Channel.objects.filter(pk=channel.pk).exclude(quota_day=day).update(
            quota_day=day, quota_used=0
        )
        spent = (
            Channel.objects.filter(pk=channel.pk, quota_day=day, quota_used__lte=limit).update(
                quota_used=F("quota_used") + units
            )
            == 1
        )
    channel.refresh_from_db(fields=["quota_day", "quota_used"])
    return spent


def exhaust(channel: Channel, now: datetime | None = None) -> None:
    """Mark today's budget spent, after YouTube itself said the quota is exceeded."""
    Channel.objects.filter(pk=channel.pk).update(
        quota_day=quota_day(now), quota_used=budget(channel)
    )
    channel.refresh_from_db(fields=["quota_day", "quota_used"])
