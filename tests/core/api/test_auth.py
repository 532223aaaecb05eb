"""Keys: the only way in. Missing, malformed and revoked keys are 401; a cookie never counts."""

from __future__ import annotations

import pytest
from django.test import Client

from core.api import services
from core.api.models import APIKey
from tests.core.api.conftest import HOST, Account, assert_error, client_for, make_user

pytestmark = pytest.mark.django_db


def test_no_key_is_401_naming_the_scheme() -> None:
    response = client_for(None).get("/api/v1/account")
    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Api-Key"


@pytest.mark.parametrize(
    "header",
    ["Api-Key", "Bearer abc.def", "Api-Key not-a-key", "Api-Key a.b c", "Token x", "Api-Key "],
)
def test_a_malformed_key_is_401(account: Account, header: str) -> None:
    client = client_for(None)
    client.credentials(HTTP_AUTHORIZATION=header)
    assert_error(client.get("/api/v1/account"), 401, "invalid_key")


def test_a_wrong_secret_with_a_real_prefix_is_401(account: Account) -> None:
    prefix = account.key.split(".")[0]
    assert_error(client_for(f"{prefix}.wrongsecret").get("/api/v1/account"), 401, "invalid_key")


def test_a_revoked_key_is_401(account: Account) -> None:
    assert account.client.get("/api/v1/account").status_code == 200
    key_id = APIKey.objects.get(user=account.user).pk
    assert services.revoke_key(account.user, key_id)
    assert_error(account.client.get("/api/v1/account"), 401, "invalid_key")
    # Revoking is for good, and only the owner's keys can be revoked.
    assert not services.revoke_key(account.user, key_id)


def test_another_user_cannot_revoke_a_key(account: Account, other: Account) -> None:
    key_id = APIKey.objects.get(user=account.user).pk
    assert not services.revoke_key(other.user, key_id)
    assert account.client.get("/api/v1/account").status_code == 200


def test_a_session_cookie_without_a_key_is_refused(account: Account) -> None:
    browser = Client(HTTP_HOST=HOST)
    browser.force_login(account.user)
    assert browser.get("/account/").status_code == 200  # the cookie works on the site
    response = browser.get("/api/v1/account")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert account.user.email not in response.content.decode()
    # Unsafe methods too: no CSRF-protected session path exists on the API.
    assert browser.post("/api/v1/separations", {}).status_code == 401


def test_with_a_cookie_and_a_key_the_key_decides(account: Account, other: Account) -> None:
    client = client_for(other.key)
    client.force_login(account.user)
    assert client.get("/api/v1/account").json()["email"] == other.user.email


def test_the_key_is_stored_hashed() -> None:
    user = make_user()
    api_key, key = services.create_key(user, "laptop")
    stored = APIKey.objects.get(pk=api_key.pk)
    assert key not in stored.hashed_key and key.split(".")[1] not in stored.pk
    assert stored.hashed_key.startswith("sha512$$")
    assert client_for(key).get("/api/v1/account").status_code == 200


def test_a_key_of_a_deactivated_user_is_401(account: Account) -> None:
    account.user.is_active = False
    account.user.save()
    assert_error(account.client.get("/api/v1/account"), 401, "invalid_key")


def test_a_free_account_gets_403_naming_the_plan_with_api_access() -> None:
    user = make_user(credits=30, paid=False)
    _, key = services.create_key(user, "free")
    body = assert_error(client_for(key).get("/api/v1/account"), 403, "plan_required")
    assert "Pro plan" in body["error"]["message"]
    assert body["error"]["required_plan"] == "paid"
    assert body["error"]["plan"] == "free"
