"""How many songs an anonymous client may submit per hour, counted in Redis.

A sliding window: each accepted submission is a member of a sorted set per client, scored by
its time; entries older than the window are dropped before counting. The check happens before
the upload is read; only accepted submissions count, so a refused file costs no quota.
"""

from __future__ import annotations

import ipaddress
import logging
import time
import uuid
from functools import cache
from typing import cast

import redis
from django.conf import settings
from django.http import HttpRequest

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 3600
_PREFIX = "ratelimit:submit:"

# Seconds until a slot frees, or 0 when one is free; atomic so a burst cannot slip past.
_PEEK = """
local key, now, window, limit = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
if redis.call('ZCARD', key) < limit then return 0 end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
return math.max(1, math.ceil(tonumber(oldest[2]) + window - now))
"""


# Count one request if the window has room (0), else the seconds until it has: check and count
# in one step, for limits that count every request (the API's, per key).
_TAKE = """
local key, now, window, limit = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
if redis.call('ZCARD', key) < limit then
  redis.call('ZADD', key, now, ARGV[4])
  redis.call('EXPIRE', key, math.ceil(window))
  return 0
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
return math.max(1, math.ceil(tonumber(oldest[2]) + window - now))
"""


@cache
def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)


def client_id(request: HttpRequest) -> str:
    """Return who the client is: its address (an IPv6 client by its /64 network).

    Behind RATE_LIMIT_PROXY_COUNT reverse proxies, the address is the one the outermost proxy
    saw, read from the right of X-Forwarded-For (the left part is the client's to forge).
    """
    address = request.META.get("REMOTE_ADDR", "")
    proxies = settings.RATE_LIMIT_PROXY_COUNT
    if proxies:
        hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        hops = [h for h in hops if h]
        if len(hops) >= proxies:
            address = hops[-proxies]
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address or "unknown"
    if ip.version == 6:
        # One household or phone gets a whole /64: counting addresses would not limit it.
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _limit() -> int:
    return int(settings.ANON_SUBMISSIONS_PER_HOUR)


def retry_after(client: str) -> int:
    """Return the seconds until this client may submit again, or 0 if it may now."""
    if _limit() <= 0:
        return 0
    try:
        wait = _redis().eval(
            _PEEK, 1, _PREFIX + client, str(time.time()), str(WINDOW_SECONDS), str(_limit())
        )
    except redis.RedisError:
        # Better to serve without a limit for a moment than to refuse everyone.
        logger.warning("rate limit unavailable: Redis did not answer", exc_info=True)
        return 0
    return int(cast(int, wait))


def record(client: str) -> None:
    """Count one accepted submission of this client."""
    if _limit() <= 0:
        return
    key = _PREFIX + client
    now = time.time()
    try:
        pipe = _redis().pipeline()
        pipe.zadd(key, {uuid.uuid4().hex: now})
        pipe.expire(key, WINDOW_SECONDS)
        pipe.execute()
    except redis.RedisError:
        logger.warning("rate limit unavailable: submission not counted", exc_info=True)


def take(bucket: str, *, limit: int, window: int) -> int:
    """Count one request in `bucket` if fewer than `limit` were made in `window` seconds.

    Return 0 when counted, else the seconds until the oldest counted request leaves the window.
    """
    if limit <= 0:
        return 0
    try:
        wait = _redis().eval(
            _TAKE,
            1,
            f"ratelimit:{bucket}",
            str(time.time()),
            str(window),
            str(limit),
            uuid.uuid4().hex,
        )
    except redis.RedisError:
        logger.warning("rate limit unavailable: Redis did not answer", exc_info=True)
        return 0
    return int(cast(int, wait))
