"""Settings shared by every environment, driven only by the variables in .env.example.

One `environ.Env()` reads the process environment (and `.env` when present). Production
secrets have no default: `production.py` refuses to start without them.
"""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(str(BASE_DIR / ".env"))

# --- Core -------------------------------------------------------------------------------------
DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_celery_beat",
    "encrypted_model_fields",
    "tenants",
    "zoom_integration",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Zoom's webhook path needs none of what follows (sessions, CSRF, auth, ...): served here.
    "zoom_integration.webhooks.middleware.WebhookPathMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "tenants.middleware.TenantMiddleware",
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
# Persistent connections: opening one per request dominates a fast view (KNOWN-TO-WORK.md).
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Passwords, i18n, static ------------------------------------------------------------------
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
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- Encryption at rest -----------------------------------------------------------------------
# Comma-separated Fernet keys: the first encrypts, all decrypt (MultiFernet rotation).
FIELD_ENCRYPTION_KEY = env.list("FIELD_ENCRYPTION_KEY", default=[])

# --- Redis, Celery ----------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
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
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Periodic jobs (sweeper, token refresh, directory syncs, parked metrics); plain data, no models.
from zoom_integration.schedules import BEAT_SCHEDULE as CELERY_BEAT_SCHEDULE  # noqa: E402,F401

# Separate queues so a long sync never delays webhook processing.
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "zoom_integration.tasks.webhook_*": {"queue": "webhooks"},
    "zoom_integration.tasks.sync_*": {"queue": "sync"},
    "zoom_integration.tasks.metrics_*": {"queue": "metrics"},
}
CELERY_WORKER_QUEUES = "default,webhooks,sync,metrics"

# --- Cache (locks and rate limits use Redis directly when REDIS_URL is set) --------------------
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                          "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Zoom ------------------------------------------------------------------------------------
ZOOM_OAUTH_BASE_URL = env.str("ZOOM_OAUTH_BASE_URL", default="https://zoom.us").rstrip("/")
ZOOM_API_BASE_URL = env.str("ZOOM_API_BASE_URL", default="https://api.zoom.us/v2").rstrip("/")
ZOOM_WEBHOOK_MAX_SKEW_SECONDS = env.int("ZOOM_WEBHOOK_MAX_SKEW_SECONDS", default=300)
# (connect, read) seconds for every outbound Zoom call; nothing waits forever.
ZOOM_HTTP_TIMEOUT = (env.float("ZOOM_HTTP_CONNECT_TIMEOUT", default=5.0),
                     env.float("ZOOM_HTTP_READ_TIMEOUT", default=20.0))
# Zoom needs "a minute or two" after meeting.ended before dashboard data exists (§4.5).
ZOOM_METRICS_FETCH_DELAY_SECONDS = env.int("ZOOM_METRICS_FETCH_DELAY_SECONDS", default=120)
PORTAL_URL_SCHEME = env.str("PORTAL_URL_SCHEME", default="https")
# Only for a portal served on a non-standard port (make run: 8000); empty in production.
PORTAL_URL_PORT = env.str("PORTAL_URL_PORT", default="")

# --- Security ---------------------------------------------------------------------------------
# Behind a TLS-terminating proxy, X-Forwarded-Proto: https is trusted (CONTRACT.md).
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

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
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "gunicorn.access": {"handlers": ["console"], "level": "INFO", "propagate": False},
        # urllib3 logs request URLs at DEBUG; OAuth codes travel in URLs, so keep it quiet.
        "urllib3": {"level": "WARNING"},
    },
}

# --- Security (issue 9) -----------------------------------------------------------------------
# Admin hardening: login throttling (django-axes), optional two-factor for staff (django-otp),
# per-tenant staff access (portal_security). See docs/reliability.md.
from datetime import timedelta  # noqa: E402

INSTALLED_APPS += [  # noqa: F405
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "portal_security",
]
# OTPMiddleware sets user.is_verified(); ours then signs out staff whose device went unused.
_AUTH_MIDDLEWARE = MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware")
MIDDLEWARE[_AUTH_MIDDLEWARE + 1:_AUTH_MIDDLEWARE + 1] = [
    "django_otp.middleware.OTPMiddleware",
    "portal_security.otp.AdminOTPRequiredMiddleware",
]
# Axes turns a lockout into a 429 page; its docs ask for it last.
MIDDLEWARE.append("axes.middleware.AxesMiddleware")
# Axes first: it refuses a locked-out username+address before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)
# Axes announces itself at INFO in every process (each manage.py command); lockouts still log.
AXES_VERBOSE = False
# 5 failures for one username from one address → that pair is locked out for 15 minutes. Keyed
# on the pair so an attacker elsewhere cannot lock a colleague out of the admin.
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# A deliberate, predictable cool-off: tries during the lockout do not extend it.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_CLIENT_IP_CALLABLE = "portal_security.client_ip.client_ip_address"
AXES_SENSITIVE_PARAMETERS = ["password", "otp_token", "csrfmiddlewaretoken"]
# Number of trusted proxies that append to X-Forwarded-For (0: use REMOTE_ADDR).
PORTAL_TRUSTED_PROXY_COUNT = env.int("DJANGO_TRUSTED_PROXY_COUNT", default=0)
OTP_TOTP_ISSUER = "Nectar portal"
PORTAL_ADMIN_OTP = True
# Error reports hide OAuth codes and state in the URL too (portal_security/reporting.py).
DEFAULT_EXCEPTION_REPORTER = "portal_security.reporting.PortalExceptionReporter"
DEFAULT_EXCEPTION_REPORTER_FILTER = "portal_security.reporting.PortalExceptionReporterFilter"
