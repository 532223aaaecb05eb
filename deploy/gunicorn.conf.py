"""gunicorn settings of the web role, read from the environment (docs/deploy.md)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

bind = os.environ.get("WEB_BIND", "0.0.0.0:8000")
# Threads serve uploads and polling while a process waits on the database or storage.
worker_class = "gthread"
workers = int(os.environ.get("WEB_WORKERS", "2"))
threads = int(os.environ.get("WEB_THREADS", "4"))
# A 1 GB upload on a slow link takes a while; the default 30 s would cut it.
timeout = int(os.environ.get("WEB_TIMEOUT", "300"))
graceful_timeout = 30
# Addresses of the reverse proxies whose X-Forwarded-* headers are believed.
forwarded_allow_ips = os.environ.get("WEB_FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = "-"
errorlog = "-"
# gunicorn's own lines (start, worker exits, the access log) in LOG_FORMAT, like Django's.
if os.environ.get("LOG_FORMAT", "").strip().lower() == "json":
    # The units start gunicorn in a data folder: the project itself is beside this file.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from core.observability import gunicorn_logconfig

    logconfig_dict = gunicorn_logconfig("json", os.environ.get("LOG_LEVEL", "INFO").upper())
