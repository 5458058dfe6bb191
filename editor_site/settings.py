"""Cutline settings: everything comes from the environment, with a local SQLite default."""

import ipaddress
import os
from importlib.util import find_spec
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from media_pipeline.limits import MAX_VISUALS as PLANNER_MAX_VISUALS

BASE_DIR = Path(__file__).resolve().parent.parent


def envbool(name: str, default: str) -> bool:
    return os.getenv(name, default).strip().lower() in ("1", "true", "yes", "on")


def envtristate(name: str, default: str) -> bool | None:
    """True or False as envbool reads them, None for "auto"."""
    value = os.getenv(name, default).strip().lower()
    if value == "auto":
        return None
    if value not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
        raise ImproperlyConfigured(f"{name} must be auto, 1 or 0, not {value!r}")
    return envbool(name, default)


def envint(name: str, default: str) -> int:
    value = os.getenv(name, default)
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}") from None


def envlist(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.getenv(name, default).split(",") if item.strip()]


# Off unless asked for: `make run` sets DEBUG=1 for a local run (and says so); the tests use tests/settings.py.
DEBUG = envbool("DEBUG", "False")
SECRET_KEY = os.getenv("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "insecure-development-key-only-used-with-debug-on-0123456789abcdef"

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS")
# Browsers on other origins may call the JSON API only when listed here (and never the HTML pages).
CORS_ALLOWED_ORIGINS = envlist("CORS_ALLOWED_ORIGINS")
CORS_URLS_REGEX = r"^/api/.*$"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "corsheaders",
    "django_htmx",
    "jobs",  # before django_q: its qcluster command (django-q2's, passing a stop on to the renders) is the one run
    "django_q",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "jobs.error_pages.ErrorBodyMiddleware",  # a page or JSON for error responses that have no body
    "corsheaders.middleware.CorsMiddleware",  # before anything that can answer (whitenoise, CommonMiddleware)
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "editor_site.urls"
WSGI_APPLICATION = "editor_site.wsgi.application"

# django-ninja serves the JSON API (jobs/rest.py). Its docs page's Swagger UI files (templates, static) are
# read from its package folder rather than by listing it in INSTALLED_APPS: an installed app is imported by
# every process, and ninja brings pydantic, about 10 MB a render worker never uses.
NINJA_DIR = Path(find_spec("ninja").submodule_search_locations[0])

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates", NINJA_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Database: SQLite file by default, PostgreSQL (psycopg 3) in production.
VAR_DIR = Path(os.getenv("VAR_DIR", BASE_DIR / "var"))
DATABASE_URL = os.getenv("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}")
# Persistent connections with a health check before reuse: an idle worker host polls the queue every
# second, and a new PostgreSQL session for each poll would cost more than the poll itself.
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL, conn_max_age=envint("CONN_MAX_AGE", "600"), conn_health_checks=True
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web process and a worker write at once: WAL lets readers through,
    # IMMEDIATE takes the write lock up front, the timeout waits instead of failing.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)

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
STATIC_ROOT = Path(os.getenv("STATIC_ROOT", VAR_DIR / "static"))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns at start-up when it is absent
STATICFILES_DIRS = [BASE_DIR / "static", NINJA_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "jobs.storage.LocalStorage"},  # BucketStorage when S3_BUCKET is set, below
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Uploads and renders live here. Never served as static: downloads go through the API.
MEDIA_ROOT = Path(os.getenv("MEDIA_ROOT", VAR_DIR / "media"))
MEDIA_URL = "/media/"
BEAT_CACHE_DIR = MEDIA_ROOT / "cache" / "beats"

MAX_UPLOAD_MB = envint("MAX_UPLOAD_MB", "100")
# The planner's limit is the rule (media_pipeline/limits.py); an operator may only lower it here.
MAX_VISUALS = envint("MAX_VISUALS", str(PLANNER_MAX_VISUALS))
if not 1 <= MAX_VISUALS <= PLANNER_MAX_VISUALS:
    raise ImproperlyConfigured(
        f"MAX_VISUALS must be from 1 to {PLANNER_MAX_VISUALS} (what the planner can cut), not {MAX_VISUALS}"
    )
# Every uploaded file streams to a temporary file under UPLOAD_TEMP_DIR (by default MEDIA_ROOT/tmp, the
# same filesystem as the job folders, so keeping it is a rename); the handler refuses a file once it passes
# MAX_UPLOAD_MB.
FILE_UPLOAD_HANDLERS = ["jobs.uploads.LimitedUploadHandler"]
# jobs.models.upload_temp_dir() reads UPLOAD_TEMP_DIR, or derives it from MEDIA_ROOT, at call time.
UPLOAD_TEMP_DIR = os.getenv("UPLOAD_TEMP_DIR", "")
FILE_UPLOAD_TEMP_DIR = Path(UPLOAD_TEMP_DIR) if UPLOAD_TEMP_DIR else MEDIA_ROOT / "tmp"
FILE_UPLOAD_TEMP_DIR.mkdir(parents=True, exist_ok=True)  # Django's checks require it to exist
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024  # the form's text fields; files do not count

# Callbacks (jobs/callbacks.py): a job's JSON POSTed to the callback_url its upload gave, once it ends, signed
# with CALLBACK_SECRET. Unset, the server sends none and refuses a callback_url.
CALLBACK_SECRET = os.getenv("CALLBACK_SECRET", "")
# The site's own address, for the URLs in a callback's JSON (sent with no request to take the host from).
PUBLIC_URL = os.getenv("PUBLIC_URL", "").rstrip("/")
if CALLBACK_SECRET and not PUBLIC_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured(
        "PUBLIC_URL (e.g. https://cutline.example.com) must be set with CALLBACK_SECRET: a callback links the video"
    )
# Hosts a callback may reach even at a loopback or private address (the operator's own receivers).
CALLBACK_ALLOWED_HOSTS = envlist("CALLBACK_ALLOWED_HOSTS")
CALLBACK_TIMEOUT_S = envint("CALLBACK_TIMEOUT_S", "5")  # per attempt: connecting, sending and the answer
if not 1 <= CALLBACK_TIMEOUT_S <= 30:
    # A slow receiver holds a render worker (first attempt) or the sweep (retries) this long.
    raise ImproperlyConfigured(f"CALLBACK_TIMEOUT_S must be from 1 to 30 seconds, not {CALLBACK_TIMEOUT_S}")

# Abuse limits and disk space (jobs/quotas.py, jobs/clients.py, jobs/disk.py), decided before an upload's
# body is stored. The limits are counted from the Job table, so every web process and host shares them.
UPLOADS_PER_HOUR = envint("UPLOADS_PER_HOUR", "30")  # per client address; 0 turns the limit off
MAX_QUEUED_PER_CLIENT = envint("MAX_QUEUED_PER_CLIENT", "3")  # unfinished jobs per client address; 0: off
# How many proxies of ours stand in front (nginx: 1). The client is then the Nth address from the right of
# X-Forwarded-For; with 0 the header is ignored (anyone can write it) and the connection's address counts.
TRUSTED_PROXY_COUNT = envint("TRUSTED_PROXY_COUNT", "0")
# Uploads are refused (507) when they would leave less than this free where they are stored; the space kept
# is what renders write into (a render starts only with room for its output and scratch).
MIN_FREE_DISK_MB = envint("MIN_FREE_DISK_MB", "1024")
for _name in ("UPLOADS_PER_HOUR", "MAX_QUEUED_PER_CLIENT", "TRUSTED_PROXY_COUNT", "MIN_FREE_DISK_MB"):
    if globals()[_name] < 0:
        raise ImproperlyConfigured(f"{_name} must be 0 or more, not {globals()[_name]}")

# Security headers on every response. The pages load only their own scripts, styles and media (no inline
# script or style: templates keep them in static/); previews of the creator's files are blob: URLs.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "blob:", "data:"],
    "media-src": [CSP.SELF, "blob:"],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
X_FRAME_OPTIONS = "DENY"  # frame-ancestors for browsers that predate it
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
CSRF_FAILURE_VIEW = "jobs.error_pages.csrf_failure"

# Object storage (jobs/storage.py). Without S3_BUCKET, uploads and renders are files under MEDIA_ROOT (one
# machine, or hosts that share MEDIA_ROOT). With it, they are objects in an S3-compatible bucket that every
# host reaches, so hosts share only the database and the bucket; MEDIA_ROOT then holds only each host's
# local working files (upload temporaries, render scratch, the beat cache).
S3_BUCKET = os.getenv("S3_BUCKET", "")
S3_ENDPOINT_URL = os.getenv("S3_ENDPOINT_URL", "")  # empty for AWS itself
S3_ACCESS_KEY_ID = os.getenv("S3_ACCESS_KEY_ID", "")  # empty: boto3's own chain (AWS_* variables, a role)
S3_SECRET_ACCESS_KEY = os.getenv("S3_SECRET_ACCESS_KEY", "")
S3_REGION = os.getenv("S3_REGION", "us-east-1")
# Off: downloads stream from the bucket through Django, which stays the only way in. On: /api/download
# redirects to a URL signed for S3_PRESIGNED_EXPIRY_S, so clients must reach the bucket's endpoint.
S3_PRESIGNED_DOWNLOADS = envbool("S3_PRESIGNED_DOWNLOADS", "False")
S3_PRESIGNED_EXPIRY_S = envint("S3_PRESIGNED_EXPIRY_S", "3600")
if S3_BUCKET:
    STORAGES["default"] = {"BACKEND": "jobs.bucket.BucketStorage"}
# A worker renders in SCRATCH_DIR/<job>/ (with a bucket, the job's inputs are copied there first) and then
# stores the result; the folder is removed when the render ends. Empty: MEDIA_ROOT/scratch, read at call
# time (jobs/scratch.py).
SCRATCH_DIR = os.getenv("SCRATCH_DIR", "")

# Rendering and the queue (django-q2 with the database as its broker).
RENDER_TIMEOUT_S = envint("RENDER_TIMEOUT_S", "600")
# A render whose picture has not moved on for this long is stopped as hung, long before the timeout.
RENDER_STALL_S = envint("RENDER_STALL_S", "90")
if RENDER_STALL_S < 1:
    # Zero or less would stop every render before its first frame.
    raise ImproperlyConfigured(f"RENDER_STALL_S must be at least 1 second, not {RENDER_STALL_S}")
# x264 shares each frame between the cores (media_pipeline/graph.py, X264_LOW_MEMORY) and a proxy is decoded on
# one thread: a job's peak 40-70 MB lower, its encodes about 40% slower. auto (None): only jobs with phone
# footage (media_pipeline/render.py, uses_low_memory); 1 or 0: every job, or none.
RENDER_LOW_MEMORY = envtristate("RENDER_LOW_MEMORY", "auto")
RENDER_MAX_ATTEMPTS = envint("RENDER_MAX_ATTEMPTS", "2")
# A PROCESSING job whose worker has not written for this long is taken as dead.
RENDER_LEASE_S = envint("RENDER_LEASE_S", "120")
# Stopped (SIGTERM), a worker lets its render run this much longer, then hands the job back to the queue.
RENDER_STOP_GRACE_S = envint("RENDER_STOP_GRACE_S", "3")
# The housekeeping cluster (run beside the web server) sweeps this often: lost wake-ups, dead workers, uploads.
SWEEP_EVERY_S = envint("SWEEP_EVERY_S", "10")
if not 1 <= SWEEP_EVERY_S <= 60:
    raise ImproperlyConfigured(f"SWEEP_EVERY_S must be from 1 to 60 seconds, not {SWEEP_EVERY_S}")
# The Job table is the queue: a django-q2 message only wakes a render worker, which then claims the oldest job.
RENDER_QUEUE = "cutline"
HOUSEKEEPING_CLUSTER = "housekeeping"  # Q_CLUSTER_NAME=housekeeping python manage.py qcluster
Q_CLUSTER = {
    "name": RENDER_QUEUE,
    "orm": "default",
    "workers": envint("Q_WORKERS", "1"),
    # The render kills its own ffmpeg at RENDER_TIMEOUT_S; django-q2's timeout is the backstop.
    "timeout": RENDER_TIMEOUT_S + 60,
    # Must exceed the timeout, or a running task is handed out again (django-q #183).
    "retry": RENDER_TIMEOUT_S + 120,
    "max_attempts": RENDER_MAX_ATTEMPTS + 1,
    "ack_failures": True,
    "save_limit": 500,
    "recycle": 50,
    "poll": 1,
    "catch_up": False,
    # Render hosts run no schedules: the sweep belongs to the housekeeping cluster.
    "scheduler": False,
    "sync": envbool("Q_SYNC", "False"),
    "label": "Render queue",
    "ALT_CLUSTERS": {
        HOUSEKEEPING_CLUSTER: {
            "workers": 1,
            "scheduler": True,
            # A sweep run lasts about a minute (one pass every SWEEP_EVERY_S).
            "timeout": 120,
            "retry": 180,
            "max_attempts": 1,
            "recycle": 500,
        },
    },
}

# Who keeps what, and for how long (jobs/ownership.py, services.job_purge, jobs/admin_login.py).
# Finished and failed jobs are deleted with their files this many days after they ended; 0 keeps them forever.
JOB_RETENTION_DAYS = envint("JOB_RETENTION_DAYS", "7")
if JOB_RETENTION_DAYS < 0:
    raise ImproperlyConfigured(f"JOB_RETENTION_DAYS must be 0 (keep forever) or more, not {JOB_RETENTION_DAYS}")
# Where the admin answers, e.g. "ops-7f3a/": moving it off /admin/ spares it most scripted guessing.
ADMIN_PATH = os.getenv("ADMIN_PATH", "admin/").strip().strip("/") + "/"
if ADMIN_PATH == "/":
    raise ImproperlyConfigured("ADMIN_PATH must not be empty: the editor answers at /")
# Failed admin sign-ins per client address within the window; beyond them the login form refuses (429).
ADMIN_LOGIN_ATTEMPTS = envint("ADMIN_LOGIN_ATTEMPTS", "5")
ADMIN_LOGIN_WINDOW_S = envint("ADMIN_LOGIN_WINDOW_S", "900")
if ADMIN_LOGIN_ATTEMPTS < 1 or ADMIN_LOGIN_WINDOW_S < 1:
    raise ImproperlyConfigured("ADMIN_LOGIN_ATTEMPTS and ADMIN_LOGIN_WINDOW_S must be at least 1")
# The failed sign-ins are counted in files every web process of the host shares; the default cache stays as is.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "admin_login": {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": VAR_DIR / "cache" / "admin-login",
    },
}

# Metrics and logs (jobs/metrics.py, jobs/logs.py).
# /metrics answers only these addresses or networks (CIDR); the rest get 403.
METRICS_ALLOWED_IPS = envlist("METRICS_ALLOWED_IPS", "127.0.0.1,::1")
for _entry in METRICS_ALLOWED_IPS:
    try:
        ipaddress.ip_network(_entry, strict=False)
    except ValueError:
        raise ImproperlyConfigured(f"METRICS_ALLOWED_IPS: {_entry!r} is not an IP address or network") from None
# Every process of a host writes its counters here and /metrics adds them up. prometheus-client reads the
# folder from the environment when it is imported, so it goes there, for this process and the ones it starts.
PROMETHEUS_MULTIPROC_DIR = Path(os.getenv("PROMETHEUS_MULTIPROC_DIR", VAR_DIR / "prometheus")).absolute()
os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(PROMETHEUS_MULTIPROC_DIR)
PROMETHEUS_MULTIPROC_DIR.mkdir(parents=True, exist_ok=True)
# A render host without a web server beside it serves its own counters on this port (0: not served).
METRICS_PORT = envint("METRICS_PORT", "0")
# The scraper and health probes talk plain HTTP to gunicorn on the host itself: never redirected to HTTPS.
SECURE_REDIRECT_EXEMPT = [r"^health$", r"^metrics$"]
LOG_LEVEL = os.getenv("LOG_LEVEL", "INFO")
LOG_FORMAT = os.getenv("LOG_FORMAT", "plain").strip().lower()
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json, not {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"()": "jobs.logs.PlainFormatter"},
        "json": {"()": "jobs.logs.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django": {"level": "INFO"}},
}

if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", "True")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", "31536000")
    # Preload and subdomains only when asked for: a preloaded domain takes months to leave the browsers' lists.
    SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", "False")
    SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", "False")
    # Those two off is the choice above, not an oversight: `check --deploy` need not warn about it.
    SILENCED_SYSTEM_CHECKS = ["security.W005", "security.W021"]
