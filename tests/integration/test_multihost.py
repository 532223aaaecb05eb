"""The deployment on one machine as if on many: roles in separate processes and folders.

The web server (gunicorn), two separation workers, a light worker and beat each run from
their own working directory through deploy/bin/stemsplit (the systemd units' command), with
no shared media folder: they share only a real PostgreSQL, a real redis-server and a local
S3-compatible server (moto). Songs come in through the upload form, as a browser sends
them, and through the public API; one worker is killed with SIGKILL in the middle of a
separation; every job must still finish, once, with its files in the bucket.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
import requests

from tests.audio import make_song
from tests.integration.production import collected_static
from tests.integration.s3 import S3Server, free_port, s3_env
from tests.integration.stack import ROOT, Role, run_role, until, workers
from tests.postgres import USER, PostgresServer

pytestmark = pytest.mark.slow

VR_HOST = "vocals-remover.localhost"
SONGS = 3  # through the upload form; one more through the API
SONG_SECONDS = 75.0  # long enough to be caught in the middle, short enough for a shared CI box


@pytest.fixture
def stack_env(
    postgres_server: PostgresServer, redis_server: str, s3_server: S3Server
) -> Iterator[dict[str, str]]:
    """Return the environment every role gets: a fresh database, Redis number and bucket."""
    database = f"multihost_{uuid.uuid4().hex[:8]}"
    admin = f"host=127.0.0.1 port={postgres_server.port} user={USER} dbname=postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    broker = redis_server.rsplit("/", 1)[0] + "/7"  # a Redis database of its own
    redis.Redis.from_url(broker).flushdb()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "AWS_", "STORAGE_", "DATABASE_"))
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "core.settings",
            "STEMSPLIT_VENV": str(Path(sys.executable).parent.parent),
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(50),
            # Plain HTTP on 127.0.0.1 here; production sits behind a TLS proxy.
            "SECURE_SSL_REDIRECT": "false",
            "SESSION_COOKIE_SECURE": "false",
            "CSRF_COOKIE_SECURE": "false",
            "SECURE_HSTS_SECONDS": "0",
            "DATABASE_URL": f"postgres://{USER}@127.0.0.1:{postgres_server.port}/{database}",
            "REDIS_URL": broker,
            **s3_env(s3_server.endpoint, s3_server.new_bucket()),
            "ANON_SUBMISSIONS_PER_HOUR": "0",
            "API_REQUESTS_PER_MINUTE": "0",
            # Recovery within seconds instead of minutes, so the test can watch it happen.
            "SEPARATION_STALE_AFTER": "10",
            "SEPARATION_SWEEP_SECONDS": "10",
            "WORKER_HEARTBEAT_SECONDS": "2",
            "SEPARATION_THREADS": "1",
            "STEMSPLIT_WAIT_SERVICES": "30",
            "WEB_WORKERS": "2",
        }
    )
    yield env
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def _query(env: dict[str, str], sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(env["DATABASE_URL"]) as conn:
        return conn.execute(sql, args).fetchall()


def _upload_like_a_browser(base: str, song: Path) -> str:
    """Open the home page, then post the form with its CSRF token; return the job id."""
    browser = requests.Session()
    browser.headers["Host"] = VR_HOST
    home = browser.get(f"{base}/", timeout=30)
    assert home.status_code == 200, home.text[:500]
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', home.text)
    assert match, "no CSRF token in the form"
    with song.open("rb") as fh:
        sent = browser.post(
            f"{base}/",
            data={"csrfmiddlewaretoken": match.group(1), "format": "mp3"},
            files={"file": (song.name, fh, "audio/flac")},
            headers={"Referer": f"http://{VR_HOST}/"},
            allow_redirects=False,
            timeout=60,
        )
    assert sent.status_code == 303, sent.text[:500]
    found = re.fullmatch(r"/jobs/([0-9a-f-]{36})/", sent.headers["Location"])
    assert found, sent.headers["Location"]
    return found.group(1)


def _api_key(env: dict[str, str], workdir: Path) -> str:
    """Make a paying account with an API key in the stack's database; return the key."""
    code = (
        "from django.contrib.auth.models import User\n"
        "from core.api import services\n"
        "from core.billing import services as billing\n"
        "u = User.objects.create_user('api@example.com', 'api@example.com', 'x-secret-1')\n"
        "billing.purchase(u, 100, key='multihost-purchase')\n"
        "print('KEY=' + services.create_key(u, 'multihost')[1])\n"
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
    return re.findall(r"KEY=(\S+)", done.stdout)[-1]


def _submit_through_the_api(base: str, key: str, song: Path) -> str:
    """POST the song to /api/v1/separations; return the job the API job points to."""
    with song.open("rb") as fh:
        sent = requests.post(
            f"{base}/api/v1/separations",
            headers={"Host": VR_HOST, "Authorization": f"Api-Key {key}"},
            data={"format": "mp3", "stem": "vocals"},
            files={"file": (song.name, fh, "audio/flac")},
            timeout=60,
        )
    assert sent.status_code == 202, sent.text[:500]
    return str(sent.json()["id"])


def test_jobs_survive_a_killed_worker_across_hosts_sharing_no_disk(
    stack_env: dict[str, str], s3_server: S3Server, tmp_path: Path
) -> None:
    env = stack_env
    # As install.sh does on a web host (cached between runs): pages name the manifest's files.
    env["STATIC_ROOT"] = str(collected_static(env, tmp_path / "collectstatic"))
    bucket = env["AWS_STORAGE_BUCKET_NAME"]
    print(run_role("migrate", tmp_path / "migrate", env))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    roles: list[Role] = []
    try:
        roles.append(Role("web", "web", tmp_path, {**env, "WEB_BIND": f"127.0.0.1:{port}"}))
        for n in (1, 2):
            roles.append(
                Role(f"sep{n}", "separation-worker", tmp_path, {**env, "WORKER_NAME": f"sep{n}"})
            )
        roles.append(Role("light", "light-worker", tmp_path, env))
        roles.append(Role("beat", "beat", tmp_path, env))
        web, sep1, sep2 = roles[0], roles[1], roles[2]

        def healthy() -> bool:
            try:
                return requests.get(f"{base}/healthz", timeout=30).status_code == 200
            except requests.RequestException:  # not listening yet, or busy starting
                return False

        until(healthy, 120, "web healthy", roles)
        names = until(
            lambda: (
                {w.split("@")[0] for w in workers(env["REDIS_URL"])} >= {"sep1", "sep2", "light"}
                and workers(env["REDIS_URL"])
            ),
            240,
            "both separation workers and the light worker beating",
            roles,
        )
        beats = {name.split("@")[0]: beat for name, beat in names.items()}
        assert set(beats["sep1"]["queues"]) == {"separation_priority", "separation"}
        assert beats["light"]["queues"] == ["default"]

        songs = [
            make_song(tmp_path / f"song-{i}.flac", SONG_SECONDS, seed=100 + i)
            for i in range(SONGS + 1)
        ]
        job_ids = [_upload_like_a_browser(base, song) for song in songs[:SONGS]]
        api_key = _api_key(env, tmp_path / "shell")
        api_id = _submit_through_the_api(base, api_key, songs[SONGS])
        api_job = _query(env, "SELECT job_id FROM api_apijob WHERE id = %s", api_id)[0][0]
        job_ids.append(str(api_job))
        # The paying API client's song goes to the priority queue.
        priority = _query(
            env,
            "SELECT s.priority FROM jobs_separation s JOIN jobs_job j ON j.separation_id = s.id"
            " WHERE j.id = %s",
            api_job,
        )
        assert priority == [(True,)]

        # Wait until a worker is in the middle of a separation, then kill it like a lost host.
        def mid_job() -> tuple[str, str] | None:
            rows = _query(
                env,
                "SELECT id::text, worker FROM jobs_separation"
                " WHERE status = 'running' AND progress > 0.05 AND progress < 0.7",
            )
            return (str(rows[0][0]), str(rows[0][1])) if rows else None

        victim_separation, victim_worker = until(mid_job, 300, "a separation half done", roles)
        victim = sep1 if victim_worker.startswith("sep1@") else sep2
        survivor = sep2 if victim is sep1 else sep1
        victim.kill()

        def all_done() -> bool:
            rows = _query(env, "SELECT status FROM jobs_job WHERE id = ANY(%s::uuid[])", job_ids)
            assert all(s in ("queued", "running", "succeeded") for (s,) in rows), rows
            return len(rows) == len(job_ids) and all(s == "succeeded" for (s,) in rows)

        until(all_done, 600, "every job succeeded", roles, step=1.0)

        # The killed worker's separation was taken over by the survivor, as a new attempt.
        attempts, worker = _query(
            env, "SELECT attempts, worker FROM jobs_separation WHERE id = %s", victim_separation
        )[0]
        assert attempts >= 2
        assert worker.startswith(f"{survivor.name}@")
        # Every separation finished exactly once: one success each, its two stems and nothing
        # else of any attempt in the bucket, and the source beside it.
        rows = _query(
            env,
            "SELECT DISTINCT s.id::text, s.status, s.vocals, s.accompaniment, a.file"
            " FROM jobs_separation s JOIN jobs_job j ON j.separation_id = s.id"
            " JOIN jobs_audiosource a ON a.id = s.source_id WHERE j.id = ANY(%s::uuid[])",
            job_ids,
        )
        assert len(rows) == len(job_ids)
        logs = sep1.log() + sep2.log()
        for separation_id, status, vocals, accompaniment, source in rows:
            assert status == "succeeded"
            assert s3_server.keys(bucket, f"separations/{separation_id}/") == {
                vocals,
                accompaniment,
            }
            assert source in s3_server.keys(bucket, "sources/")
            assert logs.count(f"separation {separation_id} succeeded") == 1
        # Nothing went to a local media folder on any "host".
        for role in roles:
            media = role.workdir / "data" / "media"
            assert not media.exists() or not any(media.rglob("*")), role.name

        # A visitor's download is a presigned URL of the bucket.
        download = requests.get(
            f"{base}/jobs/{job_ids[0]}/download/",
            headers={"Host": VR_HOST},
            allow_redirects=False,
            timeout=120,
        )
        assert download.status_code == 302, download.text[:300]
        assert download.headers["Location"].startswith(f"{s3_server.endpoint}/{bucket}/")
        mp3 = requests.get(download.headers["Location"], timeout=30)
        assert mp3.status_code == 200 and len(mp3.content) > 100_000

        # The survivor's speed and the jobs are in /metrics.
        metrics = requests.get(f"{base}/metrics", timeout=30).text
        assert f'stemsplit_jobs{{status="succeeded"}} {float(len(job_ids))}' in metrics
        assert re.search(
            rf'stemsplit_worker_speed_ratio{{worker="{survivor.name}@[^"]+"}} \d', metrics
        )
        assert web.alive() and survivor.alive()
    finally:
        for role in reversed(roles):
            role.stop()
