"""The restore drill of docs/deploy.md: a dump of a live stack restored into a new PostgreSQL.

A stack (gunicorn and a separation worker through deploy/bin/stemsplit, a real PostgreSQL,
redis-server and moto's S3 server) separates songs for a paying account and a visitor; the
account buys its credits through Stripe's signed webhook. `stemsplit backup` dumps the database
while the site runs. Then the database is lost: a new PostgreSQL cluster, a new empty database
owned by the application's role, `stemsplit restore`, a web role pointed at it with an empty
Redis and the same bucket. The same job pages, balance, ledger and downloads must answer.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
import redis
import requests

from tests.audio import make_song
from tests.core.billing import events
from tests.core.billing.stripe_servers import WEBHOOK_SECRET
from tests.integration.production import collected_static
from tests.integration.s3 import S3Server, free_port, s3_env
from tests.integration.stack import (
    ROOT,
    Role,
    role_env,
    run_role,
    run_script,
    serving,
    until,
)
from tests.postgres import USER, PostgresServer

pytestmark = pytest.mark.slow

VR_HOST = "vocals-remover.localhost"
AE_HOST = "acapella-extractor.localhost"
EMAIL, PASSWORD = "paid@example.com", "a-long-Secret-73"
SONG_SECONDS = 8.0
APP_ROLE = "stemsplit"  # the application's own role on the new server, as in production


@pytest.fixture
def drill_env(
    postgres_server: PostgresServer, redis_server: str, s3_server: S3Server, tmp_path: Path
) -> Iterator[dict[str, str]]:
    """Return the live stack's environment: a fresh database, Redis number and bucket."""
    database = f"drill_{uuid.uuid4().hex[:8]}"
    admin = f"host=127.0.0.1 port={postgres_server.port} user={USER} dbname=postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    broker = redis_server.rsplit("/", 1)[0] + "/9"
    redis.Redis.from_url(broker).flushdb()
    env = role_env(
        DATABASE_URL=f"postgres://{USER}@127.0.0.1:{postgres_server.port}/{database}",
        REDIS_URL=broker,
        STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
        STEMSPLIT_WAIT_SERVICES="30",
        **s3_env(s3_server.endpoint, s3_server.new_bucket()),
    )
    # As install.sh does on a web host (cached between runs): pages name the manifest's files.
    env["STATIC_ROOT"] = str(collected_static(env, tmp_path / "collectstatic"))
    yield env
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@pytest.fixture
def new_server() -> Iterator[PostgresServer]:
    """Start a second, empty PostgreSQL cluster: the server a restore goes to."""
    server = PostgresServer(free_port())
    server.start()
    yield server
    server.stop()


def _create_account(env: dict[str, str], workdir: Path) -> int:
    """Make a signed-up account with a confirmed address in the stack's database."""
    code = (
        "from allauth.account.models import EmailAddress\n"
        "from django.contrib.auth.models import User\n"
        f"u = User.objects.create_user({EMAIL!r}, {EMAIL!r}, {PASSWORD!r})\n"
        f"EmailAddress.objects.create(user=u, email={EMAIL!r}, verified=True, primary=True)\n"
        "print('USER=%d' % u.pk)\n"
    )
    workdir.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "shell", "-c", code],
        cwd=workdir,
        env={**env, "DATA_DIR": str(workdir / "data")},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return int(re.findall(r"USER=(\d+)", done.stdout)[-1])


def _pack_paid(user_id: int) -> dict[str, Any]:
    """Return checkout.session.completed for a 100-credit pack, as Stripe sends it."""
    session = {
        "id": f"cs_test_{secrets.token_hex(12)}",
        "object": "checkout.session",
        "mode": "payment",
        "status": "complete",
        "payment_status": "paid",
        "client_reference_id": str(user_id),
        "customer": None,
        "metadata": {"user_id": str(user_id), "credits": "100"},
        "amount_total": 500,
        "currency": "eur",
        "payment_intent": f"pi_{secrets.token_hex(12)}",
    }
    return events.event("checkout.session.completed", session)


def _deliver(base: str, event: dict[str, Any]) -> dict[str, Any]:
    """POST a Stripe event, freshly signed, to the site's webhook; return its answer."""
    payload = json.dumps(event)
    answer = requests.post(
        f"{base}/stripe/webhook/",
        data=payload,
        headers={
            "Host": VR_HOST,
            "Content-Type": "application/json",
            "Stripe-Signature": events.signed(payload, secret=WEBHOOK_SECRET),
        },
        timeout=60,
    )
    assert answer.status_code == 200, answer.text[:500]
    result: dict[str, Any] = answer.json()
    return result


def _csrf(page: requests.Response) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert match, page.text[:500]
    return match.group(1)


def _log_in(base: str) -> requests.Session:
    """Log the account in through allauth's form, as a browser does."""
    browser = requests.Session()
    form = browser.get(f"{base}/account/login/", headers={"Host": VR_HOST}, timeout=30)
    assert form.status_code == 200, form.text[:500]
    sent = browser.post(
        f"{base}/account/login/",
        data={"csrfmiddlewaretoken": _csrf(form), "login": EMAIL, "password": PASSWORD},
        headers={"Host": VR_HOST, "Referer": f"http://{VR_HOST}/account/login/"},
        allow_redirects=False,
        timeout=30,
    )
    assert sent.status_code == 302, sent.text[:500]
    return browser


def _upload(browser: requests.Session, base: str, host: str, song: Path) -> str:
    """Post the upload form with its CSRF token; return the job id."""
    home = browser.get(f"{base}/", headers={"Host": host}, timeout=30)
    assert home.status_code == 200, home.text[:500]
    with song.open("rb") as fh:
        sent = browser.post(
            f"{base}/",
            data={"csrfmiddlewaretoken": _csrf(home), "format": "mp3"},
            files={"file": (song.name, fh, "audio/flac")},
            headers={"Host": host, "Referer": f"http://{host}/"},
            allow_redirects=False,
            timeout=60,
        )
    assert sent.status_code == 303, sent.text[:500]
    found = re.fullmatch(r"/jobs/([0-9a-f-]{36})/", sent.headers["Location"])
    assert found, sent.headers["Location"]
    return found.group(1)


def _status(base: str, host: str, job_id: str) -> dict[str, Any]:
    answer = requests.get(f"{base}/jobs/{job_id}/status.json", headers={"Host": host}, timeout=30)
    assert answer.status_code == 200, answer.text[:300]
    result: dict[str, Any] = answer.json()
    return result


def _section(html: str, start: str) -> str:
    """Return the page's section that starts with `start`, without per-request tokens."""
    begin = html.index(start)
    text = html[begin : html.index("</section>", begin)]
    text = re.sub(r'(name="csrfmiddlewaretoken" value=")[^"]+', r"\1…", text)
    # "(in 23 hours, 59 minutes)": the same date, read a moment later.
    return re.sub(r"\(in [^)]*\)", "(in …)", text)


def _download(base: str, host: str, job_id: str, fmt: str) -> tuple[str, str]:
    """Download a job's stem through the site; return the bucket key and the bytes' SHA-256."""
    answer = requests.get(
        f"{base}/jobs/{job_id}/download/?format={fmt}",
        headers={"Host": host},
        allow_redirects=False,
        timeout=300,
    )
    assert answer.status_code == 302, answer.text[:300]
    location = answer.headers["Location"]
    data = requests.get(location, timeout=60)
    assert data.status_code == 200 and len(data.content) > 10_000, location
    return urlsplit(location).path, hashlib.sha256(data.content).hexdigest()


def _snapshot(
    base: str, browser: requests.Session, jobs: dict[str, str], downloads: list[tuple[str, str]]
) -> dict[str, Any]:
    """Return what visitors and the account see: job pages, statuses, account page, files."""
    pages = {}
    for job_id, host in jobs.items():
        page = requests.get(f"{base}/jobs/{job_id}/", headers={"Host": host}, timeout=30)
        assert page.status_code == 200, page.text[:300]
        pages[job_id] = (_section(page.text, '<section id="job"'), _status(base, host, job_id))
    account = browser.get(f"{base}/account/", headers={"Host": VR_HOST}, timeout=30)
    assert account.status_code == 200 and EMAIL in account.text, account.text[:300]
    files = {(job_id, fmt): _download(base, jobs[job_id], job_id, fmt) for job_id, fmt in downloads}
    return {
        "pages": pages,
        "account": _section(account.text, '<section class="account"'),
        "files": files,
    }


def _balance(account_html: str) -> str:
    match = re.search(r'<dd class="account-balance">([^<]+)</dd>', account_html)
    assert match, account_html[:500]
    return match.group(1)


def _ledger(account_html: str) -> list[tuple[str, ...]]:
    """Return the credit history's rows: kind, what, song, credits, balance."""
    rows = re.findall(
        r'<tr class="entry-(\w+)">.*?<td>([^<]*)</td>\s*<td>([^<]*)</td>\s*'
        r'<td class="num">([^<]*)</td>\s*<td class="num">([^<]*)</td>',
        account_html,
        flags=re.DOTALL,
    )
    return [tuple(cell.strip() for cell in row) for row in rows]


def test_a_dump_of_a_live_stack_restores_into_a_new_server_with_the_same_pages_and_files(
    drill_env: dict[str, str], new_server: PostgresServer, s3_server: S3Server, tmp_path: Path
) -> None:
    env = drill_env
    bucket = env["AWS_STORAGE_BUCKET_NAME"]
    run_role("migrate", tmp_path / "migrate", env)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    roles: list[Role] = []
    try:
        web = Role("web", "web", tmp_path, {**env, "WEB_BIND": f"127.0.0.1:{port}"})
        roles.append(web)
        roles.append(Role("sep", "separation-worker", tmp_path, {**env, "WORKER_NAME": "sep"}))
        until(lambda: serving(base), 120, "web healthy", roles)

        # A paying account: credits bought through Stripe's webhook, spent on a song.
        user_id = _create_account(env, tmp_path / "shell")
        paid = _pack_paid(user_id)
        assert _deliver(base, paid) == {"received": True, "applied": True}
        browser = _log_in(base)
        songs = [
            make_song(tmp_path / f"drill-{i}.flac", SONG_SECONDS, seed=300 + i) for i in (1, 2)
        ]
        paid_job = _upload(browser, base, VR_HOST, songs[0])
        # The other stem of the song on the other site: no second separation, no second charge.
        other = browser.get(
            f"{base}/jobs/{paid_job}/other-stem/", headers={"Host": AE_HOST}, allow_redirects=False
        )
        assert other.status_code == 302, other.text[:300]
        derived_job = re.fullmatch(r"/jobs/([0-9a-f-]{36})/", other.headers["Location"])
        assert derived_job
        # And a visitor without an account, on the other site.
        visitor_job = _upload(requests.Session(), base, AE_HOST, songs[1])
        jobs = {paid_job: VR_HOST, derived_job.group(1): AE_HOST, visitor_job: AE_HOST}

        def finished() -> bool:
            states = {job_id: _status(base, host, job_id) for job_id, host in jobs.items()}
            assert all(s["status"] in ("queued", "running", "succeeded") for s in states.values())
            return all(s["status"] == "succeeded" for s in states.values())

        until(finished, 600, "every job succeeded", roles, step=1.0)
        downloads = [(paid_job, "mp3"), (paid_job, "flac"), (derived_job.group(1), "mp3")]
        downloads.append((visitor_job, "mp3"))
        before = _snapshot(base, browser, jobs, downloads)
        assert _balance(before["account"]) == "99 credits"
        kinds = [row[0] for row in _ledger(before["account"])]
        assert sorted(kinds) == sorted(["purchase", "reserve", "charge"])
        stored = s3_server.keys(bucket, "separations/") | s3_server.keys(bucket, "sources/")

        # The nightly backup, taken while the site runs.
        backup = tmp_path / "backups" / "stemsplit.dump"
        backup.parent.mkdir()
        done = run_script("backup", tmp_path / "backup-host", env, str(backup))
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"backup {backup}: " in done.stdout
        assert backup.is_file() and not backup.with_name("stemsplit.dump.partial").exists()
    finally:
        for role in reversed(roles):
            role.stop()

    # The database server is lost, and Redis with it.
    admin = f"host=127.0.0.1 port={urlsplit(env['DATABASE_URL']).port} user={USER} dbname=postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{urlsplit(env["DATABASE_URL"]).path[1:]}" WITH (FORCE)')
    broker = env["REDIS_URL"].rsplit("/", 1)[0] + "/10"
    redis.Redis.from_url(broker).flushdb()

    # A new server: the application's role, an empty database it owns, the restore.
    new_admin = ["--host", "127.0.0.1", "--port", str(new_server.port), "--username", USER]
    subprocess.run(
        ["psql", *new_admin, "-c", f"CREATE ROLE {APP_ROLE} LOGIN"],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        ["createdb", *new_admin, "--owner", APP_ROLE, "stemsplit"],
        check=True,
        capture_output=True,
    )
    restored = {
        **env,
        "DATABASE_URL": f"postgres://{APP_ROLE}@127.0.0.1:{new_server.port}/stemsplit",
        "REDIS_URL": broker,
    }
    done = run_script("restore", tmp_path / "restore-host", restored, str(backup))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"restore {backup} restored into postgresql database 'stemsplit'" in done.stdout
    assert "lacks" not in done.stdout  # the dump is of this code's schema: nothing to migrate
    # Restoring over a database that has data is refused, and changes nothing.
    again = run_script("restore", tmp_path / "restore-host", restored, str(backup))
    assert again.returncode != 0 and "is not empty" in again.stderr, again.stderr

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    web = Role("web-restored", "web", tmp_path, {**restored, "WEB_BIND": f"127.0.0.1:{port}"})
    try:
        until(lambda: serving(base), 120, "restored web healthy", [web])
        browser = _log_in(base)  # the account and its password came back with the dump
        after = _snapshot(base, browser, jobs, downloads)
        assert after["pages"] == before["pages"]
        assert after["account"] == before["account"]
        # The same cached files in the same bucket, found through the restored rows.
        assert after["files"] == before["files"]
        # A format never asked for before is encoded from the stems the rows point to.
        key, _ = _download(base, VR_HOST, paid_job, "wav")
        assert key.startswith(f"/{bucket}/deliveries/")
        assert s3_server.keys(bucket, "separations/") | s3_server.keys(bucket, "sources/") == stored

        # Stripe delivering the pack's event again after the restore credits nothing twice.
        assert _deliver(base, paid) == {"received": True, "applied": False}
        # New work goes on where the dump ended (sequences restored): the same song again is
        # answered at once from its separation, and charged once.
        again_job = _upload(browser, base, VR_HOST, songs[0])
        until(
            lambda: _status(base, VR_HOST, again_job)["status"] == "succeeded",
            60,
            "the known song answered at once",
            [web],
        )
        account = browser.get(f"{base}/account/", headers={"Host": VR_HOST}, timeout=30).text
        assert _balance(account) == "98 credits"
        assert len(_ledger(account)) == len(_ledger(before["account"])) + 2
    finally:
        web.stop()


def test_the_documented_lifecycle_rules_are_the_file_and_an_s3_server_takes_them(
    s3_server: S3Server,
) -> None:
    docs = (ROOT / "docs" / "deploy.md").read_text()
    shown = re.search(r"`deploy/s3-lifecycle\.json`:\n\n```json\n(.*?)```", docs, flags=re.S)
    assert shown is not None
    rules = json.loads((ROOT / "deploy" / "s3-lifecycle.json").read_text())
    assert json.loads(shown.group(1)) == rules
    by_prefix = {r["Filter"].get("Prefix", ""): r for r in rules["Rules"]}
    # Every prefix of visitors' files loses its deleted versions within a day (the privacy
    # promise), and no rule expires current uploads or stems: their life follows their use.
    for prefix in ("sources/", "separations/", "deliveries/", "health/"):
        assert by_prefix[prefix]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 1}
        assert "Days" not in by_prefix[prefix].get("Expiration", {})
    bucket = s3_server.new_bucket()
    client = s3_server.client()
    client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    client.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration=rules)
    stored = client.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert {r["ID"] for r in stored} == {r["ID"] for r in rules["Rules"]}
