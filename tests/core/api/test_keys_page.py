"""API keys on the account page: created and shown once, stored hashed, revoked; the secret."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.test import Client

from core.api.callbacks import secret_for
from core.api.models import APIKey
from tests.core.api.conftest import HOST, client_for, make_user

pytestmark = pytest.mark.django_db


class _Inline(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if (tag == "script" and not values.get("src")) or tag == "style" or "style" in values:
            self.found.append(tag)


def _no_inline_code(html: str) -> None:
    parser = _Inline()
    parser.feed(html)
    assert parser.found == []


def test_create_show_once_use_and_revoke() -> None:
    user = make_user()
    browser = Client(HTTP_HOST=HOST)
    browser.force_login(user)
    page = browser.get("/account/").content.decode()
    assert "API keys" in page and "No API keys yet" in page
    _no_inline_code(page)

    created = browser.post("/account/api-keys/new", {"name": "my script"})
    assert created.status_code == 200
    assert "no-store" in created["Cache-Control"]
    html = created.content.decode()
    _no_inline_code(html)
    match = re.search(r'<code class="api-key-value">([^<]+)</code>', html)
    assert match
    key = match.group(1)
    stored = APIKey.objects.get(user=user)
    assert stored.name == "my script"
    assert key not in stored.hashed_key

    page = browser.get("/account/").content.decode()
    assert key not in page  # shown once only
    assert f"{stored.prefix}…" in page
    assert client_for(key).get("/api/v1/account").status_code == 200

    assert browser.post(f"/account/api-keys/{stored.pk}/revoke").status_code == 302
    assert APIKey.objects.get(pk=stored.pk).revoked
    assert client_for(key).get("/api/v1/account").status_code == 401
    assert "Revoked" in browser.get("/account/").content.decode()


def test_a_user_cannot_revoke_anothers_key() -> None:
    owner, intruder = make_user(), make_user()
    from core.api import services

    api_key, key = services.create_key(owner, "k")
    browser = Client(HTTP_HOST=HOST)
    browser.force_login(intruder)
    browser.post(f"/account/api-keys/{api_key.pk}/revoke")
    assert not APIKey.objects.get(pk=api_key.pk).revoked
    assert client_for(key).get("/api/v1/account").status_code == 200


def test_key_forms_need_a_login_and_a_post() -> None:
    anonymous = Client(HTTP_HOST=HOST)
    assert anonymous.post("/account/api-keys/new", {"name": "x"}).status_code == 302
    assert not APIKey.objects.exists()
    browser = Client(HTTP_HOST=HOST)
    browser.force_login(make_user())
    assert browser.get("/account/api-keys/new").status_code == 405


def test_the_webhook_secret_is_shown_and_renewed() -> None:
    user = make_user()
    browser = Client(HTTP_HOST=HOST)
    browser.force_login(user)
    secret = secret_for(user.pk)
    assert secret.startswith("whsec_") and secret in browser.get("/account/").content.decode()
    browser.post("/account/api-keys/webhook-secret")
    assert secret_for(user.pk) != secret


def test_a_free_account_is_told_which_plan_has_the_api() -> None:
    browser = Client(HTTP_HOST=HOST)
    browser.force_login(make_user(credits=30, paid=False))
    page = browser.get("/account/").content.decode()
    assert "does not include the API; the Pro plan does" in page


def test_the_admin_lists_keys_and_api_jobs() -> None:
    from django.contrib.auth.models import User

    from core.api import services

    services.create_key(make_user(), "listed key")
    admin = User.objects.create_superuser("root", "root@example.com", "x-secret-1")
    browser = Client(HTTP_HOST=HOST)
    browser.force_login(admin)
    keys = browser.get("/admin/api/apikey/")
    assert keys.status_code == 200 and "listed key" in keys.content.decode()
    assert browser.get("/admin/api/apijob/").status_code == 200


def test_the_admin_revokes_keys_through_the_service_and_edits_only_their_name() -> None:
    from django.contrib.auth.models import User

    from core.api import services

    owner, other = make_user(), make_user()
    key, _secret = services.create_key(owner, "old name")
    admin = User.objects.create_superuser("root", "root@example.com", "x-secret-1")
    browser = Client(HTTP_HOST=HOST)
    browser.force_login(admin)
    url = f"/admin/api/apikey/{key.pk}/change/"
    page = browser.get(url).content.decode()
    assert 'name="name"' in page
    assert 'name="revoked"' not in page and 'name="user"' not in page
    forged = {"name": "new name", "revoked": "on", "user": str(other.pk)}
    assert browser.post(url, forged).status_code == 302
    key.refresh_from_db()
    assert (key.name, key.revoked, key.user_id) == ("new name", False, owner.pk)

    revoke = {"action": "revoke", "_selected_action": [key.pk]}
    first = browser.post("/admin/api/apikey/", revoke, follow=True).content.decode()
    assert "1 key revoked." in first
    key.refresh_from_db()
    assert key.revoked
    again = browser.post("/admin/api/apikey/", revoke, follow=True).content.decode()
    assert "0 keys revoked; 1 skipped (revoked already)." in again
