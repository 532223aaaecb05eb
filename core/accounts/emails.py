"""What an e-mail address really is: its canonical form, and whether it is disposable."""

from __future__ import annotations

from django.conf import settings

# Providers of throw-away inboxes; DISPOSABLE_EMAIL_DOMAINS adds more. Subdomains count too.
BUILTIN_DISPOSABLE_DOMAINS = frozenset(
    {
        "10minutemail.com",
        "discard.email",
        "dispostable.com",
        "emailondeck.com",
        "fakeinbox.com",
        "getairmail.com",
        "getnada.com",
        "guerrillamail.com",
        "guerrillamail.net",
        "maildrop.cc",
        "mailinator.com",
        "mailnesia.com",
        "mintemail.com",
        "mohmal.com",
        "sharklasers.com",
        "temp-mail.org",
        "tempmail.com",
        "tempmail.dev",
        "throwawaymail.com",
        "trashmail.com",
        "yopmail.com",
    }
)
# Providers that ignore dots in the local part (and the domains that are aliases of them).
DOTLESS_DOMAINS = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}


def split(address: str) -> tuple[str, str]:
    """Return (local part, domain), the domain lower-cased without a trailing dot."""
    local, _, domain = address.strip().rpartition("@")
    return local, domain.lower().rstrip(".")


def canonical_email(address: str) -> str:
    """Return the one form of every spelling of a mailbox: no +tag, no Gmail dots, lower case.

    alice+promo@x.com and A.lice@googlemail.com reach the same inboxes as alice@x.com and
    alice@gmail.com, so they must not earn a second sign-up grant.
    """
    local, domain = split(address)
    local = local.split("+", 1)[0].casefold()
    if domain in DOTLESS_DOMAINS:
        domain = DOTLESS_DOMAINS[domain]
        local = local.replace(".", "")
    return f"{local}@{domain}"


def is_disposable(address: str) -> bool:
    """Return whether the address is at a throw-away inbox provider (or a subdomain of one)."""
    _local, domain = split(address)
    extra = {d.lower().strip(".") for d in settings.DISPOSABLE_EMAIL_DOMAINS}
    blocked = BUILTIN_DISPOSABLE_DOMAINS | extra
    labels = domain.split(".")
    return any(".".join(labels[i:]) in blocked for i in range(len(labels) - 1))
