"""Settings shared by every environment, driven only by the variables in .env.example.

One `environ.Env()` reads the process environment (and `.env` when present). Production
secrets have no default: `production.py` refuses to start without them. Sections, in order:
Django itself, third-party apps, then this project's apps.
"""

from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONE, SELF, UNSAFE_INLINE
from kombu import Queue

from zoom_integration.schedules import BEAT_SCHEDULE as _ZOOM_BEAT_SCHEDULE

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(str(BASE_DIR / ".env"))


# =============================================================================================
# Django
# =============================================================================================

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")

# --- Hosts ------------------------------------------------------------------------------------
# DJANGO_ALLOWED_HOSTS lists the staff hosts (the admin is served there only). Customers reach
# the portal on their tenants' hostnames, which staff add in the admin and which must work at
# once, without a restart: Django's host check is therefore opened here and done instead by
# HostValidationMiddleware, first in MIDDLEWARE, against staff hosts plus tenant hostnames
# (portal_security/checks.py refuses to start if that middleware is missing or not first).
PORTAL_STAFF_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])
ALLOWED_HOSTS = ["*"]

# --- Applications -----------------------------------------------------------------------------
# The admin and a few framework apps through our own configs (nectar_portal/apps.py): the staff
# site "Nectar portal" with its grouped index, and app names in words ("Login throttling").
DJANGO_APPS = [
    "nectar_portal.apps.PortalAdminConfig",
    "nectar_portal.apps.StaffAccountsConfig",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
]
THIRD_PARTY_APPS = [
    "nectar_portal.apps.SchedulingConfig",
    "encrypted_model_fields",
    "nectar_portal.apps.LoginThrottlingConfig",
    "django_otp",
    "nectar_portal.apps.TwoFactorDevicesConfig",
    "csp",
    "django_prometheus",
]
LOCAL_APPS = [
    "tenants",
    "zoom_integration",
    "portal_security",
    "observability",
]
INSTALLED_APPS = DJANGO_APPS + THIRD_PARTY_APPS + LOCAL_APPS

# --- Middleware -------------------------------------------------------------------------------
MIDDLEWARE = [
    # First, so every answer carries X-Request-ID, even a refused host's; it never reads Host.
    "observability.middleware.RequestIdMiddleware",
    # Then nothing may run for a Host that is neither a staff host nor a tenant's hostname.
    "portal_security.hosts.HostValidationMiddleware",
    # django-prometheus times everything between its two halves.
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Zoom's webhook path needs none of what follows (sessions, CSRF, auth, ...): served here.
    "zoom_integration.webhooks.middleware.WebhookPathMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Sets user.is_verified(); the next one signs out staff whose second factor is missing.
    "django_otp.middleware.OTPMiddleware",
    "portal_security.otp.AdminOTPRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "tenants.middleware.TenantMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
    # Turns a lockout into a 429 page; django-axes asks to be last.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "nectar_portal.urls"
WSGI_APPLICATION = "nectar_portal.wsgi.application"

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
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
# Persistent connections: opening one per request dominates a fast view.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Query counts and latencies for PostgreSQL (the SQLite of `make run` is left as it is).
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["ENGINE"] = "django_prometheus.db.backends.postgresql"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (locks and rate limits use Redis directly when REDIS_URL is set) --------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                          "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Authentication ---------------------------------------------------------------------------
# django-axes first: it refuses a locked-out username+address before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Internationalisation and static files ----------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# One way to write a date and a time on every staff page, always with its time zone
# ("2026-11-30 14:05 UTC"): nectar_portal/formats/en/formats.py. Localization is always on in
# Django 5, so locale formats win over DATETIME_FORMAT here; a format module is the way.
FORMAT_MODULE_PATH = ["nectar_portal.formats"]
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- Security ---------------------------------------------------------------------------------
# Behind a TLS-terminating proxy, X-Forwarded-Proto: https is trusted.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
# Error reports hide OAuth codes and state in the URL too (portal_security/reporting.py).
DEFAULT_EXCEPTION_REPORTER = "portal_security.reporting.PortalExceptionReporter"
DEFAULT_EXCEPTION_REPORTER_FILTER = "portal_security.reporting.PortalExceptionReporterFilter"

# --- Logging ----------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"redact_query": {"()": "nectar_portal.log_filters.RedactSensitiveQueryFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain",
                             "filters": ["redact_query"]}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Request lines carry Zoom's ?code=&state= on the OAuth redirect: filtered above.
        # (gunicorn writes its own access log: gunicorn.conf.py redacts it the same way.)
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "gunicorn.access": {"handlers": ["console"], "level": "INFO", "propagate": False},
        # urllib3 logs request URLs at DEBUG; OAuth codes travel in URLs, so keep it quiet.
        "urllib3": {"level": "WARNING"},
    },
}


# =============================================================================================
# Third-party apps
# =============================================================================================

# --- Celery -----------------------------------------------------------------------------------
# Unset REDIS_URL means "embedded": a broker with no server, for `make run` only.
EMBEDDED_BROKER_DIR = BASE_DIR / "var" / "broker"
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
if CELERY_BROKER_URL == "filesystem://":
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(EMBEDDED_BROKER_DIR / "queue"),
        "data_folder_out": str(EMBEDDED_BROKER_DIR / "queue"),
        "processed_folder": str(EMBEDDED_BROKER_DIR / "processed"),
        "control_folder": str(EMBEDDED_BROKER_DIR / "control"),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # acks_late tasks are redelivered after this long if a worker dies mid-task; it must
        # exceed the longest task (the hard time limit below).
        "visibility_timeout": 3600,
        # How often a live worker restores messages left unacked by a dead one (Redis
        # transport); the default ~100 s leaves a killed worker's task idle too long.
        "unacked_restore_interval": 10,
    }
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_TIME_LIMIT = 30 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 25 * 60
# A task is acknowledged only after it finishes, and requeued if its worker dies: tasks are
# idempotent, so running one twice is safe, losing one is not.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Workers log through Django's LOGGING (JSON in production) instead of Celery's own format.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Separate queues so a long sync never delays webhook processing. Declaring them all makes a
# plain `celery -A nectar_portal worker` (no -Q) consume every one; `-Q` still splits them
# across machines. A queue only routed to, not declared, would be consumed by nobody.
PORTAL_QUEUES = ("default", "webhooks", "sync", "metrics")
CELERY_TASK_QUEUES = tuple(Queue(name, routing_key=name) for name in PORTAL_QUEUES)
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "zoom_integration.tasks.webhook_*": {"queue": "webhooks"},
    "zoom_integration.tasks.sync_*": {"queue": "sync"},
    "zoom_integration.tasks.metrics_*": {"queue": "metrics"},
}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Periodic jobs (sweeper, token refresh, directory syncs, parked metrics), plus the hourly
# removal of expired sessions (each customer's OAuth start creates a short-lived one).
CELERY_BEAT_SCHEDULE = {
    **_ZOOM_BEAT_SCHEDULE,
    "portal-sessions-clear-expired": {
        "task": "portal_security.tasks.sessions_clear_expired",
        "schedule": 3600.0,
    },
}

# --- django-encrypted-model-fields ------------------------------------------------------------
# Comma-separated Fernet keys: the first encrypts, all decrypt (MultiFernet rotation).
FIELD_ENCRYPTION_KEY = env.list("FIELD_ENCRYPTION_KEY", default=[])

# --- django-axes (admin login throttling) -----------------------------------------------------
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)
# Axes announces itself at INFO in every process (each manage.py command); lockouts still log.
AXES_VERBOSE = False
# 5 failures for one username from one address: that pair is locked out for 15 minutes. Keyed
# on the pair so an attacker elsewhere cannot lock a colleague out of the admin.
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# A deliberate, predictable cool-off: tries during the lockout do not extend it.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_CLIENT_IP_CALLABLE = "portal_security.client_ip.client_ip_address"
AXES_SENSITIVE_PARAMETERS = ["password", "otp_token", "csrfmiddlewaretoken"]
# A page in the admin's style saying how long the lock lasts (status 429), not one bare line.
AXES_LOCKOUT_TEMPLATE = "portal_security/lockout.html"
# Number of trusted proxies that append to X-Forwarded-For (0: use REMOTE_ADDR).
PORTAL_TRUSTED_PROXY_COUNT = env.int("DJANGO_TRUSTED_PROXY_COUNT", default=0)

# --- django-otp (two-factor sign-in) ----------------------------------------------------------
OTP_TOTP_ISSUER = "Nectar portal"
PORTAL_ADMIN_OTP = True
# Superusers can change everything, grants included: with debug off they must sign in with a
# second factor. PORTAL_SUPERUSER_OTP_REQUIRED=0 relaxes that (e.g. before the first device).
PORTAL_SUPERUSER_OTP_REQUIRED = env.bool("PORTAL_SUPERUSER_OTP_REQUIRED", default=not DEBUG)

# --- django-csp (Content-Security-Policy on every response) -----------------------------------
# Scripts only from our own static files: no page needs an inline script or event handler.
# Inline styles stay allowed: the admin and the SVG charts set style attributes.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}


# =============================================================================================
# This project's apps
# =============================================================================================

# --- Zoom -------------------------------------------------------------------------------------
ZOOM_OAUTH_BASE_URL = env.str("ZOOM_OAUTH_BASE_URL", default="https://zoom.us").rstrip("/")
ZOOM_API_BASE_URL = env.str("ZOOM_API_BASE_URL", default="https://api.zoom.us/v2").rstrip("/")
ZOOM_WEBHOOK_MAX_SKEW_SECONDS = env.int("ZOOM_WEBHOOK_MAX_SKEW_SECONDS", default=5400)
# (connect, read) seconds for every outbound Zoom call; nothing waits forever.
ZOOM_HTTP_TIMEOUT = (env.float("ZOOM_HTTP_CONNECT_TIMEOUT", default=5.0),
                     env.float("ZOOM_HTTP_READ_TIMEOUT", default=20.0))
# Zoom needs "a minute or two" after meeting.ended before dashboard data exists.
ZOOM_METRICS_FETCH_DELAY_SECONDS = env.int("ZOOM_METRICS_FETCH_DELAY_SECONDS", default=120)
# Reconcile with Zoom's lists of past meetings and webinars (docs/reconcile.md): how often each
# connected tenant is listed, how many days back, and the backfill after a first authorization.
ZOOM_RECONCILE_INTERVAL_MINUTES = env.int("ZOOM_RECONCILE_INTERVAL_MINUTES", default=60)
ZOOM_RECONCILE_DAYS = env.int("ZOOM_RECONCILE_DAYS", default=1)
ZOOM_BACKFILL_DAYS = env.int("ZOOM_BACKFILL_DAYS", default=7)
# The account overview: days of quality counts fetched (one call a day each), and how often.
ZOOM_OVERVIEW_DAYS = env.int("ZOOM_OVERVIEW_DAYS", default=7)
ZOOM_OVERVIEW_INTERVAL_HOURS = env.int("ZOOM_OVERVIEW_INTERVAL_HOURS", default=24)
# Days of per-minute QoS kept (per-participant results stay for ever); a daily task expires
# older meetings' samples, dropping whole monthly partitions on PostgreSQL.
QOS_RETENTION_DAYS = env.int("QOS_RETENTION_DAYS", default=90)

# --- Portal URLs handed to customers ----------------------------------------------------------
PORTAL_URL_SCHEME = env.str("PORTAL_URL_SCHEME", default="https")
# Only for a portal served on a non-standard port (make run: 8000); empty in production.
PORTAL_URL_PORT = env.str("PORTAL_URL_PORT", default="")

# --- Observability: Prometheus metrics, request ids, worker liveness (docs/operations.md) ------
# Unset: /metrics answers 404.
PORTAL_METRICS_TOKEN = env.str("PORTAL_METRICS_TOKEN", default="")
PORTAL_EVENT_SILENCE_SECONDS = env.int("PORTAL_EVENT_SILENCE_SECONDS", default=24 * 60 * 60)
PORTAL_WORKER_METRICS_PORT = env.int("PORTAL_WORKER_METRICS_PORT", default=0)
PORTAL_WORKER_METRICS_ADDR = env.str("PORTAL_WORKER_METRICS_ADDR", default="127.0.0.1")
