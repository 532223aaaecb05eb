"""What the API changes: keys, and API jobs made through core.jobs.services (never directly).

An `Idempotency-Key` makes a retried submission return the first one's job: the key is stored
with a hash of what was asked, under a unique constraint, in the same transaction as the job.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.core.files import File
from django.db import IntegrityError, transaction

from core.api.models import ApiJob, APIKey, WebhookSecret, new_webhook_secret
from core.billing import selectors as billing
from core.billing.services import InsufficientCredits
from core.jobs import services as jobs
from core.jobs.models import Job

logger = logging.getLogger(__name__)


class IdempotencyMismatch(Exception):
    """An Idempotency-Key was reused with a different request."""


@dataclass(frozen=True)
class Ask:
    """One submission: what to separate (a file's hash or a link), how, and where to call back."""

    stem: str
    format: str
    brand: str
    # The job's own stem: "both" is the API's; the job keeps one stem that the sites can show
    # (the brand's), the API delivers both from the same separation.
    job_stem: str
    base_url: str
    callback_url: str = ""
    file_sha256: str = ""
    url: str = ""
    idempotency_key: str = ""
    # As the request named it ("" when it named none: SEPARATION_DEFAULT_QUALITY applies).
    quality: str = ""

    def fingerprint(self) -> str:
        """Return the hash a reused Idempotency-Key must match (the host does not count)."""
        fields = {
            "stem": self.stem,
            "format": self.format,
            "callback_url": self.callback_url,
            "file": self.file_sha256,
            "url": self.url,
        }
        if self.quality:
            # Only when named, so keys stored before the field existed still match.
            fields["quality"] = self.quality
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


def create_key(user: User, name: str) -> tuple[APIKey, str]:
    """Create a key for the account; return it and the key itself (shown once, kept hashed)."""
    api_key, key = APIKey.objects.create_key(user=user, name=name.strip()[:50] or "API key")
    assert isinstance(api_key, APIKey)
    logger.info("API key %s created for user %s", api_key.prefix, user.pk)
    return api_key, key


def revoke_key(user: User, key_id: str) -> bool:
    """Revoke one of the account's keys for good; False if it is not theirs or already revoked."""
    revoked = APIKey.objects.filter(user=user, pk=key_id, revoked=False).update(revoked=True)
    if revoked:
        logger.info("API key %s revoked by user %s", key_id.split(".")[0], user.pk)
    return revoked == 1


def rotate_webhook_secret(user: User) -> str:
    """Give the account a new webhook secret; callbacks are signed with it from now on."""
    secret = new_webhook_secret()
    WebhookSecret.objects.update_or_create(user=user, defaults={"secret": secret})
    return secret


def _replay(user: User, ask: Ask) -> ApiJob | None:
    """Return the API job an earlier request with this key made, if it asked the same."""
    if not ask.idempotency_key:
        return None
    earlier = ApiJob.objects.filter(user=user, idempotency_key=ask.idempotency_key).first()
    if earlier is None:
        return None
    if earlier.request_hash != ask.fingerprint():
        raise IdempotencyMismatch(ask.idempotency_key)
    return earlier


def _new_api_job(user: User, ask: Ask) -> ApiJob:
    return ApiJob(
        user=user,
        stem=ask.stem,
        format=ask.format,
        base_url=ask.base_url[:255],
        callback_url=ask.callback_url,
        idempotency_key=ask.idempotency_key,
        request_hash=ask.fingerprint(),
    )


def _save_or_replay(user: User, api_job: ApiJob, ask: Ask) -> ApiJob | None:
    """Insert the row; None when it went in, else the row a concurrent twin inserted first."""
    try:
        with transaction.atomic():
            api_job.save(force_insert=True)
    except IntegrityError:
        return _replay(user, ask)
    return None


def submit_upload(
    user: User, content: File, ask: Ask, examined: jobs.Examined, order: jobs.Order
) -> tuple[ApiJob, bool]:
    """Submit an examined upload for the account; return its API job and whether it is new.

    Raises jobs.Refusal (the balance: nothing is reserved or stored) and IdempotencyMismatch.
    """
    earlier = _replay(user, ask)
    if earlier is not None:
        return earlier, False
    with transaction.atomic():
        api_job = _new_api_job(user, ask)
        twin = _save_or_replay(user, api_job, ask)
        if twin is not None:
            return twin, False
        job = jobs.admit(content, content.name or "song", examined, order)
        ApiJob.objects.filter(pk=api_job.pk).update(job=job)
        api_job.job = job
    return api_job, True


def submit_link(user: User, ask: Ask, *, client: str) -> tuple[ApiJob, bool]:
    """Queue a link's import for the account; return its API job and whether it is new.

    Raises LinkError (before anything is created), jobs.Refusal and IdempotencyMismatch.
    """
    earlier = _replay(user, ask)
    if earlier is not None:
        return earlier, False
    balance = billing.balance(user)
    if balance < 1:
        # The length is known only once fetched; a link needs at least one credit to start.
        raise jobs.no_credits(InsufficientCredits(balance=balance, needed=1))
    with transaction.atomic():
        api_job = _new_api_job(user, ask)
        twin = _save_or_replay(user, api_job, ask)
        if twin is not None:
            return twin, False
        link = jobs.submit_link(
            ask.url,
            stem=ask.job_stem,
            brand=ask.brand,
            format=ask.format,
            client=client,
            owner=user,
            quality=ask.quality,
        )
        ApiJob.objects.filter(pk=api_job.pk).update(link=link)
        api_job.link = link
    return api_job, True


def cancel(job: Job) -> bool:
    """Cancel an API job's active job; its credits come back (core.jobs.services)."""
    return jobs.cancel_job(job.pk)


def delete(api_job: ApiJob, job: Job | None) -> None:
    """Delete an API job, its job and, with the last job of a separation, the files."""
    with transaction.atomic():
        if job is not None:
            jobs.delete_job(job.pk)
        ApiJob.objects.filter(pk=api_job.pk).delete()
    logger.info("API job %s deleted", api_job.pk)
