"""gunicorn settings of the web role, read from the environment (docs/deploy.md)."""

from __future__ import annotations

import os

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
