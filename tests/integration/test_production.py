"""The production shape, end to end: what install.sh makes, DEBUG off, a real browser.

The runtime virtualenv (`uv sync --frozen --no-dev`, cached by the hash of uv.lock) runs
gunicorn, a separation worker and a light worker through deploy/bin/stemsplit, with DEBUG off,
on a real PostgreSQL, a real redis-server and s3rver, an S3 server that enforces the bucket's
CORS rules (set by `manage.py configure_bucket`, as docs/deploy.md says). Headless Chromium
loads both sites (every response below 400, no console error), uploads a song, plays the
result against the original through the job page's A/B toggle (Web Audio on presigned,
cross-origin media) and downloads the stem from the bucket.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
import requests

from tests.audio import make_song
from tests.integration.production import collected_static, runtime_venv
from tests.integration.s3 import free_port
from tests.integration.s3rver import S3rverServer
from tests.integration.stack import Role, run_role, until, workers
from tests.postgres import USER, PostgresServer

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium")
HOSTS = ("vocals-remover.localhost", "acapella-extractor.localhost")
ARGS = [
    "--no-sandbox",  # the tests run as root, where Chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
    # Both brands are told apart by host; their names must reach gunicorn on 127.0.0.1.
    "--host-resolver-rules=MAP *.localhost 127.0.0.1",
]
# Taps every media element the page routes through Web Audio: an analyser on each source, so
# the test can read what the graph really carries (zeros when the media are CORS-tainted).
TAP = """
(() => {
  const Ctx = window.AudioContext;
  const original = Ctx.prototype.createMediaElementSource;
  window.__taps = {};
  Ctx.prototype.createMediaElementSource = function (element) {
    const source = original.call(this, element);
    const analyser = this.createAnalyser();
    const mute = this.createGain();
    mute.gain.value = 0;
    source.connect(analyser).connect(mute).connect(this.destination);
    window.__taps[element.id] = analyser;
    return source;
  };
  window.__level = (id) => {
    const analyser = window.__taps[id];
    if (!analyser) return -1;
    const data = new Float32Array(analyser.fftSize);
    analyser.getFloatTimeDomainData(data);
    return data.reduce((peak, x) => Math.max(peak, Math.abs(x)), 0);
  };
})();
"""


@pytest.fixture
def stack(
    postgres_server: PostgresServer, redis_server: str, tmp_path: Path
) -> Iterator[tuple[dict[str, str], S3rverServer, str]]:
    """Start the roles from the runtime virtualenv; return their environment, S3 and base URL."""
    started = time.monotonic()
    venv = runtime_venv()
    print(f"runtime virtualenv ready in {time.monotonic() - started:.1f}s: {venv}")
    assert not (venv / "bin" / "pytest").exists(), "the runtime set holds a dev package"
    s3 = S3rverServer()
    s3.start()
    database = f"production_{uuid.uuid4().hex[:8]}"
    admin = f"host=127.0.0.1 port={postgres_server.port} user={USER} dbname=postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    broker = redis_server.rsplit("/", 1)[0] + "/8"
    redis.Redis.from_url(broker).flushdb()
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "AWS_", "STORAGE_", "DATABASE_", "STATIC_", "PYTHON"))
    }
    env.update(
        {
            "STEMSPLIT_VENV": str(venv),
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": ",".join(HOSTS),
            # Plain HTTP on 127.0.0.1 here; production sits behind TLS.
            "SECURE_SSL_REDIRECT": "false",
            "SESSION_COOKIE_SECURE": "false",
            "CSRF_COOKIE_SECURE": "false",
            "SECURE_HSTS_SECONDS": "0",
            "DATABASE_URL": f"postgres://{USER}@127.0.0.1:{postgres_server.port}/{database}",
            "REDIS_URL": broker,
            **s3.env(s3.new_bucket()),
            "STORAGE_CORS_ORIGINS": ",".join(f"http://{h}:{port}" for h in HOSTS),
            "MODEL_ROOT": os.environ["MODEL_ROOT"],
            "SEPARATION_THREADS": "1",
            "LIGHT_CONCURRENCY": "1",
            "WEB_WORKERS": "1",
            "WEB_BIND": f"127.0.0.1:{port}",
            "STEMSPLIT_WAIT_SERVICES": "30",
        }
    )
    started = time.monotonic()
    env["STATIC_ROOT"] = str(collected_static(env, tmp_path / "collectstatic"))
    print(f"static files ready in {time.monotonic() - started:.1f}s")
    run_role("migrate", tmp_path / "migrate", env)
    print(run_role_manage(venv, env, tmp_path / "bucket", "configure_bucket"))
    roles = [
        Role("web", "web", tmp_path, env),
        Role("separation", "separation-worker", tmp_path, env),
        Role("light", "light-worker", tmp_path, env),
    ]
    base = f"http://{HOSTS[0]}:{port}"

    def healthy() -> bool:
        try:
            return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=30).ok
        except requests.RequestException:
            return False

    try:
        until(healthy, 120, "web healthy", roles)
        until(
            lambda: {w.split("@")[0] for w in workers(broker)} >= {"separation", "light"},
            300,
            "the separation and light workers beating",
            roles,
        )
        yield env, s3, base
    finally:
        for role in reversed(roles):
            role.stop()
        s3.stop()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def run_role_manage(venv: Path, env: dict[str, str], workdir: Path, *args: str) -> str:
    """Run a manage.py command from the runtime virtualenv, as an operator would."""
    workdir.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [str(venv / "bin" / "python"), str(Path(__file__).parents[2] / "manage.py"), *args],
        cwd=workdir,
        env={**env, "DATA_DIR": str(workdir / "data"), "DJANGO_SETTINGS_MODULE": "core.settings"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _watch(page: Any, problems: list[str]) -> None:
    """Collect every failed response, console error and page error of a page."""
    page.on(
        "response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None
    )
    # A media element cancels requests it no longer needs (metadata, then a range), and a
    # download leaves the page: both end as ERR_ABORTED, which is no failure.
    page.on(
        "requestfailed",
        lambda r: (
            None if r.failure == "net::ERR_ABORTED" else problems.append(f"{r.url} {r.failure}")
        ),
    )
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))


def _wait_until(page: Any, expression: str, timeout: float) -> Any:
    """Poll an expression in the page (the CSP forbids wait_for_function's eval)."""
    deadline = time.monotonic() + timeout
    while True:
        value = page.evaluate(expression)
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        page.wait_for_timeout(100)


def _styled(page: Any) -> None:
    """Check the page's own stylesheets and scripts applied (hashed names, served by gunicorn)."""
    primary = "getComputedStyle(document.documentElement).getPropertyValue('--primary')"
    assert page.evaluate(primary).strip().startswith("#")
    sheets = page.evaluate("Array.from(document.styleSheets).map(s => s.href)")
    assert any(re.search(r"/static/web/site\.[0-9a-f]{12}\.css$", h or "") for h in sheets), sheets


def test_both_sites_upload_ab_and_download_in_the_production_shape(
    stack: tuple[dict[str, str], S3rverServer, str], tmp_path: Path
) -> None:
    _, s3, base = stack
    if CHROMIUM is None:
        pytest.fail("chromium is not installed (scripts/install.sh --dev installs it)")
    song = make_song(tmp_path / "Night Drive.mp3", 12, seed=41)
    problems: list[str] = []
    with pytest.MonkeyPatch.context() as mp, playwright_api.sync_playwright() as p:
        mp.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        context = browser.new_context(accept_downloads=True)
        context.add_init_script(TAP)
        page = context.new_page()
        _watch(page, problems)
        seen: list[tuple[str, str]] = []
        page.on("response", lambda r: seen.append((r.request.resource_type, r.url)))
        port = base.rsplit(":", 1)[1]
        for host in HOSTS:
            page.goto(f"http://{host}:{port}/")
            page.wait_for_load_state("networkidle")
            _styled(page)
            assert page.locator("body").get_attribute("class") == f"brand-{host.split('.')[0]}"
        assert problems == []

        # Upload on Vocals Remover; the page follows the job to its result by itself.
        page.goto(f"{base}/")
        page.get_by_label(re.compile("Drop a song here")).set_input_files(str(song))
        page.wait_for_url(re.compile(r"/jobs/[0-9a-f-]{36}/$"), timeout=60_000)
        page.wait_for_selector("#job[data-state=done]", timeout=300_000, state="attached")
        page.wait_for_load_state("networkidle")
        _styled(page)

        # Play the result, then switch to the original with the A/B toggle.
        page.evaluate("document.getElementById('result-audio').play()")
        _wait_until(page, "document.getElementById('result-audio').currentTime > 0.3", 30)
        toggle = page.locator("#ab-toggle")
        toggle.click()
        assert toggle.get_attribute("aria-pressed") == "true"
        _wait_until(page, "document.getElementById('original-audio').currentTime > 0.3", 30)
        # Both players' sound reaches the graph (CORS-tainted media would give only zeros).
        for player in ("result-audio", "original-audio"):
            _wait_until(page, f"window.__level('{player}') > 0.01", 15)
        # Both players' media came from the bucket: presigned URLs of another origin.
        from_bucket = {
            url.split("?")[0]
            for kind, url in seen
            if kind == "media" and url.startswith(f"{s3.endpoint}/") and "X-Amz-Signature" in url
        }
        assert len(from_bucket) == 2, seen
        toggle.click()
        assert toggle.get_attribute("aria-pressed") == "false"

        # The download is the stem itself, from the bucket.
        with page.expect_download() as info:
            page.get_by_role("link", name=re.compile("Download instrumental")).click()
        download = info.value
        assert download.url.startswith(f"{s3.endpoint}/"), download.url
        assert download.suggested_filename == "Night Drive (Instrumental).mp3"
        saved = tmp_path / "download.mp3"
        download.save_as(saved)
        assert problems == []
        browser.close()

    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=codec_name,channels:format=duration",
         "-of", "json", str(saved)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    info_json = json.loads(probe.stdout)
    assert info_json["streams"][0]["codec_name"] == "mp3"
    assert abs(float(info_json["format"]["duration"]) - 12) < 0.5
