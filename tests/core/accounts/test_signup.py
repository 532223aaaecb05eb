"""Sign-up by e-mail on either site: a branded confirmation mail, then the sign-up credits,
once per mailbox; log in, log out and password reset; the account page."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.test import Client
from pytest_django.fixtures import Settings

from core.billing import selectors
from core.billing.models import CreditEntry
from tests.core.billing.helpers import submit

pytestmark = pytest.mark.django_db

VR_HOST = "vocals-remover.localhost:8000"
AE_HOST = "acapella-extractor.localhost:8000"
PASSWORD = "a-long-Secret-42"


@pytest.fixture(autouse=True)
def _locmem_mail(settings: Settings) -> None:
    """Capture mail in django.core.mail.outbox (the console backend is the local default)."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def _link(message: mail.EmailMessage, host: str) -> str:
    found = re.search(rf"http://{re.escape(host)}(/account/\S+/)", str(message.body))
    assert found, message.body
    return found.group(1)


def sign_up(client: Client, email: str) -> mail.EmailMessage:
    """Sign up and return the confirmation mail."""
    before = len(mail.outbox)
    response = client.post(
        "/account/signup/", {"email": email, "password1": PASSWORD, "password2": PASSWORD}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert response["Location"] == "/account/confirm-email/"
    assert len(mail.outbox) == before + 1
    message = mail.outbox[-1]
    assert message.to == [email.lower()]
    return message


def confirm(client: Client, message: mail.EmailMessage, host: str = VR_HOST) -> User:
    """Open the mail's link and press Confirm; return the user."""
    link = _link(message, host)
    assert client.get(link).status_code == 200
    response = client.post(link)
    assert response.status_code == 302
    return User.objects.get(email__iexact=message.to[0])


def test_sign_up_confirm_and_get_the_grant_once(settings: Settings) -> None:
    settings.SIGNUP_GRANT_CREDITS = 30
    client = Client(HTTP_HOST=VR_HOST)
    message = sign_up(client, "alice@example.com")
    assert message.subject.startswith("[Vocals Remover] ")
    assert "Vocals Remover" in str(message.body)
    user = User.objects.get(email="alice@example.com")
    assert selectors.balance(user) == 0  # nothing before the address is confirmed
    confirm(client, message)
    assert selectors.balance(user) == 30
    grant = CreditEntry.objects.get(account__user=user)
    assert (grant.kind, grant.amount) == ("grant", 30)
    # The link again, or the signal again, gives nothing more.
    client.post(_link(message, VR_HOST))
    assert CreditEntry.objects.filter(account__user=user).count() == 1
    # Confirming logged the visitor in: the account page shows the balance and the grant.
    page = client.get("/account/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "30 credits" in text and "Free" in text and "Grant" in text


def test_logging_in_needs_a_confirmed_address() -> None:
    client = Client(HTTP_HOST=VR_HOST)
    message = sign_up(client, "bob@example.com")
    client.logout()
    login = {"login": "bob@example.com", "password": PASSWORD}
    response = client.post("/account/login/", login)
    assert response.status_code == 302
    assert response["Location"] == "/account/confirm-email/"
    assert client.get("/account/").status_code == 302
    confirm(client, message)
    client.logout()
    response = client.post("/account/login/", login)
    assert response["Location"] == "/account/"
    assert client.get("/account/").status_code == 200
    response = client.post("/account/logout/")
    assert response.status_code == 302
    assert client.get("/account/")["Location"].startswith("/account/login/")


def test_one_account_works_on_both_sites() -> None:
    vr = Client(HTTP_HOST=VR_HOST)
    confirm(vr, sign_up(vr, "carol@example.com"))
    ae = Client(HTTP_HOST=AE_HOST)
    response = ae.post("/account/login/", {"login": "carol@example.com", "password": PASSWORD})
    assert response["Location"] == "/account/"
    page = ae.get("/account/").content.decode()
    assert "Acapella Extractor" in page and "30 credits" in page


def test_a_disposable_address_gets_no_grant() -> None:
    client = Client(HTTP_HOST=VR_HOST)
    user = confirm(client, sign_up(client, "dave@mailinator.com"))
    assert selectors.balance(user) == 0
    assert not CreditEntry.objects.exists()
    assert "not to disposable addresses" in client.get("/account/").content.decode()


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("erin@example.com", "erin+free@example.com"),
        ("frank.smith@gmail.com", "franksmith@googlemail.com"),
        ("grace@gmail.com", "G.race+2@gmail.com"),
    ],
)
def test_another_spelling_of_a_mailbox_gets_no_second_grant(first: str, second: str) -> None:
    one = Client(HTTP_HOST=VR_HOST)
    confirm(one, sign_up(one, first))
    two = Client(HTTP_HOST=AE_HOST)
    user = confirm(two, sign_up(two, second), AE_HOST)
    assert selectors.balance(user) == 0
    assert CreditEntry.objects.filter(kind="grant").count() == 1


def test_password_reset_by_mail_on_the_visitors_site() -> None:
    client = Client(HTTP_HOST=AE_HOST)
    confirm(client, sign_up(client, "heidi@example.com"), AE_HOST)
    client.logout()
    response = client.post("/account/password/reset/", {"email": "heidi@example.com"})
    assert response.status_code == 302
    message = mail.outbox[-1]
    assert message.subject.startswith("[Acapella Extractor] ")
    link = _link(message, AE_HOST)
    form_url = client.get(link)["Location"]  # the key moves into the session
    new = "another-Secret-77"
    response = client.post(form_url, {"password1": new, "password2": new})
    assert response.status_code == 302
    response = client.post("/account/login/", {"login": "heidi@example.com", "password": new})
    assert response["Location"] == "/account/"


def test_pages_carry_the_brand_of_their_host() -> None:
    for host, name in ((VR_HOST, "Vocals Remover"), (AE_HOST, "Acapella Extractor")):
        for path in ("/account/login/", "/account/signup/", "/account/password/reset/"):
            response = Client(HTTP_HOST=host).get(path)
            assert response.status_code == 200
            page = response.content.decode()
            assert f"· {name}</title>" in page, path
            assert "web/site.css" in page


def test_the_account_page_lists_jobs_of_both_sites_with_their_brand() -> None:
    client = Client(HTTP_HOST=VR_HOST)
    user = confirm(client, sign_up(client, "ivan@example.com"))
    submit(user, b"one", original_name="First.mp3")
    submit(user, b"two", original_name="Second.mp3", brand="acapella-extractor", stem="vocals")
    page = client.get("/account/").content.decode()
    assert "First.mp3" in page and "Second.mp3" in page
    assert 'data-brand="vocals-remover">Vocals Remover<' in page
    assert 'data-brand="acapella-extractor">Acapella Extractor<' in page
    # Each job links to its own site, where it can be opened.
    assert "http://acapella-extractor.localhost:8000/jobs/" in page
    assert "26 credits" in page  # 30 - 2 - 2 held
    assert "Held for songs in progress" in page
