"""Changes to accounts beyond what allauth does: the sign-up grant."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Q

from core.accounts.emails import canonical_email, is_disposable
from core.accounts.models import SignupGrant
from core.billing import services as billing
from core.billing.models import CreditEntry

logger = logging.getLogger(__name__)


def grant_signup_credits(user: User, address: str) -> CreditEntry | None:
    """Give the sign-up credits for a confirmed address, once per mailbox and once per user.

    Never for a disposable address, nor for another spelling (+tag, Gmail dots, case) of a
    mailbox that already earned them. Return the grant, or None when none was given.
    """
    credits = settings.SIGNUP_GRANT_CREDITS
    if credits <= 0:
        return None
    if is_disposable(address):
        logger.info("no sign-up grant for user %s: disposable address", user.pk)
        return None
    canonical = canonical_email(address)
    with transaction.atomic():
        if SignupGrant.objects.filter(Q(canonical_email=canonical) | Q(user=user)).exists():
            logger.info("no sign-up grant for user %s: mailbox or user already had one", user.pk)
            return None
        try:
            with transaction.atomic():
                SignupGrant.objects.create(canonical_email=canonical, user=user)
        except IntegrityError:
            return None  # the same mailbox confirmed twice at the same moment: one grant
        entry, _created = billing.grant(
            user, credits, key=f"signup:{user.pk}", note="Sign-up credits"
        )
    return entry


def signup_grant_refused(user: User) -> bool:
    """Return whether the user has confirmed an address and still got no sign-up grant."""
    from allauth.account.models import EmailAddress

    verified = EmailAddress.objects.filter(user=user, verified=True).exists()
    return verified and not SignupGrant.objects.filter(user=user).exists()
