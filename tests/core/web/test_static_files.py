"""The app serves its own static files in production: hashed names, compressed, cached for good.

collectstatic runs as scripts/install.sh runs it (into a temporary STATIC_ROOT), then the real
WSGI app answers under gunicorn with DEBUG off, as the web role does, with no proxy in front.
"""

from __future__ import annotations

import gzip
import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import brotli
import pytest
import requests

from tests.integration.s3 import free_port

ROOT = Path(__file__).resolve().parents[3]
VENV_BIN = Path(sys.executable).parent
HOST = "vocals-remover.localhost"
# The big vendored bundles (admin, Swagger UI) take minutes to compress on a busy machine and
# add nothing to what is checked here: the sites' own files.
IGNORED = ("admin", "drf_spectacular_sidecar", "rest_framework")


@pytest.fixture(scope="module")
def production(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """Collect the static files, start gunicorn with DEBUG off; return its URL and STATIC_ROOT."""
    tmp = tmp_path_factory.mktemp("static-prod")
    static_root = tmp / "static"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "STATIC_", "STORAGE_", "AWS_", "DATABASE_"))
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "core.settings",
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "DATA_DIR": str(tmp / "data"),
            "STATIC_ROOT": str(static_root),
            # Plain HTTP on 127.0.0.1 here; production sits behind TLS.
            "SECURE_SSL_REDIRECT": "false",
            "PYTHONPATH": str(ROOT),
        }
    )
    ignores = [arg for name in IGNORED for arg in ("-i", name)]
    subprocess.run(
        [str(ROOT / "deploy" / "bin" / "stemsplit"), "collectstatic", "-v0", *ignores],
        env={**env, "STEMSPLIT_VENV": str(VENV_BIN.parent)},
        cwd=tmp,
        check=True,
        timeout=300,
    )
    port = free_port()
    log = (tmp / "gunicorn.log").open("w")
    conf = str(ROOT / "deploy" / "gunicorn.conf.py")
    env["WEB_WORKERS"] = "1"
    proc = subprocess.Popen(
        [
            str(VENV_BIN / "gunicorn"),
            "core.wsgi:application",
            "-c",
            conf,
            "-b",
            f"127.0.0.1:{port}",
        ],
        env=env,
        cwd=tmp,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                requests.get(f"{base}/static/web/site.css", timeout=10)
                break
            except requests.ConnectionError:
                assert proc.poll() is None, (tmp / "gunicorn.log").read_text()
                assert time.monotonic() < deadline, "gunicorn did not listen within 120 s"
                time.sleep(0.2)
        yield base, static_root
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def _hashed_css(base: str) -> str:
    page = requests.get(f"{base}/", headers={"Host": HOST}, timeout=30)
    assert page.status_code == 200, page.text[:500]
    found = re.search(r'href="(/static/web/site\.[0-9a-f]{12}\.css)"', page.text)
    assert found, "the page does not name the hashed stylesheet"
    # Scripts too: every static file a page names is a hashed one.
    names = re.findall(r'(?:href|src)="(/static/[^"]+)"', page.text)
    assert names and all(re.search(r"\.[0-9a-f]{12}\.\w+$", n) for n in names), names
    return found.group(1)


def test_pages_name_hashed_files_served_compressed_and_immutable(
    production: tuple[str, Path],
) -> None:
    base, static_root = production
    css = _hashed_css(base)
    original = (static_root / css.removeprefix("/static/")).read_bytes()
    assert b"--primary" in original

    for encoding, decode in (("br", brotli.decompress), ("gzip", gzip.decompress)):
        answer = requests.get(
            f"{base}{css}", headers={"Accept-Encoding": encoding}, timeout=30, stream=True
        )
        assert answer.status_code == 200
        assert answer.headers["Content-Encoding"] == encoding
        assert answer.headers["Content-Type"].startswith("text/css")
        assert "Accept-Encoding" in answer.headers["Vary"]
        cache = answer.headers["Cache-Control"]
        assert "immutable" in cache and "public" in cache, cache
        max_age = int(re.search(r"max-age=(\d+)", cache).group(1))  # type: ignore[union-attr]
        assert max_age >= 365 * 24 * 3600, cache
        body = answer.raw.read()  # as sent, not decoded by requests
        assert len(body) < len(original)
        assert decode(body) == original

    # A name without the hash may change with a release: cached briefly, not for good.
    plain = requests.get(f"{base}/static/web/site.css", timeout=30)
    assert plain.status_code == 200
    assert "immutable" not in plain.headers["Cache-Control"]
    missing = requests.get(f"{base}/static/web/nothing.css", headers={"Host": HOST}, timeout=30)
    assert missing.status_code == 404


def test_pages_keep_their_content_security_policy(production: tuple[str, Path]) -> None:
    base, _ = production
    page = requests.get(f"{base}/", headers={"Host": HOST}, timeout=30)
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "unsafe-inline" not in policy
