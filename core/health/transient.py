"""Tell an outage of a shared service (database, Redis, storage) from a real failure of a job."""

from __future__ import annotations

import redis
from botocore.exceptions import BotoCoreError, ClientError
from django.db import InterfaceError, OperationalError

# S3 answers these when it is overloaded or failing: worth trying again later.
_RETRYABLE_S3_CODES = {
    "InternalError",
    "ServiceUnavailable",
    "SlowDown",
    "RequestTimeout",
    "RequestTimeTooSkewed",
}


def _one(exc: BaseException) -> bool:
    if isinstance(exc, OperationalError | InterfaceError):
        return True  # the database went away, not a bad row: those are IntegrityError etc.
    if isinstance(exc, redis.ConnectionError | redis.TimeoutError):
        return True
    if isinstance(exc, ConnectionError | TimeoutError):
        return True
    if isinstance(exc, BotoCoreError):
        return True  # endpoint unreachable, connection closed, read timeout
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        return status >= 500 or error.get("Code", "") in _RETRYABLE_S3_CODES
    return False


def is_transient(exc: BaseException) -> bool:
    """Return whether an error (or one it was raised from) means a service was unreachable."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if _one(current):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False
