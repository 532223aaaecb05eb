"""Settings for the test suite: a throw-away data folder, the shared model, a test Redis."""

from __future__ import annotations

import os
import socket
import sys
import tempfile
from pathlib import Path

# Chosen before core.settings reads the environment, and exported so that worker processes
# started by the tests (which inherit the environment) use the very same folder and Redis.
if "STEMSPLIT_TEST_DATA_DIR" not in os.environ:
    os.environ["STEMSPLIT_TEST_DATA_DIR"] = tempfile.mkdtemp(prefix="stemsplit-test-")
if "STEMSPLIT_TEST_REDIS_PORT" not in os.environ:
    with socket.socket() as _sock:
        _sock.bind(("127.0.0.1", 0))
        os.environ["STEMSPLIT_TEST_REDIS_PORT"] = str(_sock.getsockname()[1])
# The port of the local site the link tests serve songs from: the one private address the
# link import lets through here. Set in the environment, not only in Django's settings, because
# the Celery worker processes that fetch links read their settings from it too.
if "STEMSPLIT_TEST_LINK_PORT" not in os.environ:
    with socket.socket() as _sock:
        _sock.bind(("127.0.0.1", 0))
        os.environ["STEMSPLIT_TEST_LINK_PORT"] = str(_sock.getsockname()[1])
# The port of the PostgreSQL server tests/postgres.py starts for the ledger's concurrency tests.
if "STEMSPLIT_TEST_PG_PORT" not in os.environ:
    with socket.socket() as _sock:
        _sock.bind(("127.0.0.1", 0))
        os.environ["STEMSPLIT_TEST_PG_PORT"] = str(_sock.getsockname()[1])
# yt-dlp's extractor for the local video site of the link tests, a plugin found on the path of
# this process and of every process it starts (workers and their fetch processes).
if "STEMSPLIT_TEST_PLUGINS" not in os.environ:
    os.environ["STEMSPLIT_TEST_PLUGINS"] = str(Path(__file__).resolve().parent / "ytdlp_plugins")
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (os.environ["STEMSPLIT_TEST_PLUGINS"], os.environ.get("PYTHONPATH", "")) if p
    )
sys.path.append(os.environ["STEMSPLIT_TEST_PLUGINS"])
os.environ["LINK_ALLOWED_PRIVATE"] = f"127.0.0.1:{os.environ['STEMSPLIT_TEST_LINK_PORT']}"
os.environ["LINK_ALLOW_GENERIC"] = "true"
os.environ["DATA_DIR"] = os.environ["STEMSPLIT_TEST_DATA_DIR"]
os.environ["REDIS_URL"] = f"redis://127.0.0.1:{os.environ['STEMSPLIT_TEST_REDIS_PORT']}/0"
os.environ.setdefault("MODEL_ROOT", str(Path(__file__).resolve().parent.parent / "var" / "models"))
os.environ.setdefault("DEBUG", "true")

from core.settings import *  # noqa: F403
from core.settings import DATA_DIR

# Worker processes open the same database file as the test process.
DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}  # noqa: F405
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Most tests run without a redis-server; the login throttling tests switch back to Redis.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# A second database, created only when a collected test names it (pytest-django sets up just
# the aliases its tests use); the server is started by tests/conftest.py before that.
DATABASES["postgres"] = {  # noqa: F405
    "ENGINE": "django.db.backends.postgresql",
    "HOST": "127.0.0.1",
    "PORT": os.environ["STEMSPLIT_TEST_PG_PORT"],
    "NAME": "stemsplit",
    "USER": "postgres",
    "TEST": {"NAME": "test_stemsplit"},
}
