"""Settings for the bycloud-ui console, read from the environment (12-factor).

The embedded default needs no variable at all: SQLite under var/, the local emulator as the only
region, DEBUG off. PostgreSQL, Redis and real regions are switched on by environment variables;
see .env.example and README.md.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from pathlib import Path
from urllib.parse import unquote, urlsplit

from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from observability.logs import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("BYCLOUD_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def _persistent_secret_key() -> str:
    """A key generated once and kept in var/, so the default needs no configuration.

    Several console instances must share DJANGO_SECRET_KEY instead (sessions are encrypted with it).
    """
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.touch(mode=0o600)
        key_file.write_text(secrets.token_urlsafe(50))
    return key_file.read_text().strip()


#: Keys that were published (.env.example, docs, Django's own) and so protect nothing.
PLACEHOLDER_SECRET_KEYS = frozenset(
    {"change-me-and-share-between-instances", "change-me", "changeme", "secret", "secret-key"}
)
MIN_SECRET_KEY_LENGTH = 50


def secret_key_problem(key: str) -> str | None:
    """Why ``key`` cannot protect sessions and stored credentials, or None when it can."""
    lowered = key.strip().lower()
    if not lowered:
        return "is not set"
    if (
        lowered in PLACEHOLDER_SECRET_KEYS
        or "change-me" in lowered
        or "changeme" in lowered
        or lowered.startswith("django-insecure")
    ):
        return "is a placeholder"
    if len(key) < MIN_SECRET_KEY_LENGTH:
        return f"is {len(key)} characters long; at least {MIN_SECRET_KEY_LENGTH} are needed"
    if len(set(key)) < 5:
        return "has fewer than 5 different characters"
    return None


def require_strong_secret_keys(key: str, fallbacks: list[str]) -> None:
    """Refuse to start with a missing, short or published key (it encrypts every credential)."""
    hint = (
        "Set it to a random value of at least 50 characters shared by every instance, e.g. "
        "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`."
    )
    problem = secret_key_problem(key)
    if problem:
        raise ImproperlyConfigured(f"DJANGO_SECRET_KEY {problem}. {hint}")
    for number, fallback in enumerate(fallbacks, start=1):
        problem = secret_key_problem(fallback)
        if problem:
            raise ImproperlyConfigured(
                f"DJANGO_SECRET_KEY_FALLBACKS: key {number} {problem}. Drop it (sessions it "
                f"protected cannot be trusted) or replace it. {hint}"
            )


SECURE_COOKIES = env_bool("BYCLOUD_SECURE_COOKIES")
#: Outside the embedded default (a real region, or HTTPS cookies) the key must be a real one.
EMBEDDED_DEFAULT = not (
    os.environ.get("BYCLOUD_REGIONS") or os.environ.get("BYCLOUD_API_URL") or SECURE_COOKIES
)
# Rotation: the new key in DJANGO_SECRET_KEY, the old ones here (comma separated) until the
# sessions they protected have expired (BYCLOUD_SESSION_SECONDS).
SECRET_KEY_FALLBACKS = env_list("DJANGO_SECRET_KEY_FALLBACKS")
if EMBEDDED_DEFAULT:
    SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or _persistent_secret_key()
else:
    SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
    require_strong_secret_keys(SECRET_KEY, SECRET_KEY_FALLBACKS)
DEBUG = env_bool("DJANGO_DEBUG")
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials.apps.SimpleAppConfig",
    "csp",
    "observability",
    "console",
    "backups",
    "audit",
    "django_tasks",
    "django_tasks_db",
    "fleet",
]

#: A bulk job's form: up to 1,000 targets (fleet.forms.MAX_SELECTED) and a few fields.
DATA_UPLOAD_MAX_NUMBER_FIELDS = 1100
#: Bulk jobs, scans and plan runs: Django's tasks API in the database (docs/adr/0015).
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

MIDDLEWARE = [
    # Outermost: the request ID, the request's log line and metrics cover every answer.
    "observability.middleware.RequestObservabilityMiddleware",
    # A database that does not answer is a 503 page, never a traceback.
    "bycloud_ui.db_unavailable.DatabaseUnavailableMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "console.middleware.NoStoreMiddleware",
    "django.middleware.gzip.GZipMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "backups.middleware.DeadlineMiddleware",
    "console.session.ConsoleMiddleware",
    "console.middleware.ApiErrorMiddleware",
]

ROOT_URLCONF = "bycloud_ui.urls"
WSGI_APPLICATION = "bycloud_ui.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "OPTIONS": {
            # SimpleAppConfig does not wrap the loaders, so "page.html#partial" names need the
            # partials loader here (else TemplateDoesNotExist for every fragment).
            "loaders": [
                (
                    "template_partials.loader.Loader",
                    [
                        (
                            "django.template.loaders.cached.Loader",
                            [
                                "django.template.loaders.filesystem.Loader",
                                "django.template.loaders.app_directories.Loader",
                            ],
                        )
                    ],
                )
            ],
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.messages.context_processors.messages",
                "console.context_processors.csp_nonce",
                "console.context_processors.console",
                "observability.context_processors.request_id",
            ],
            "builtins": ["template_partials.templatetags.partials"],
        },
    }
]


def _database_from_url(url: str) -> dict[str, object]:
    parts = urlsplit(url)
    if parts.scheme not in {"postgres", "postgresql"}:
        raise ValueError(f"Unsupported DATABASE_URL scheme: {parts.scheme!r}")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": parts.path.lstrip("/"),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
    }


DATABASE_URL = os.environ.get("DATABASE_URL", "")
DATABASES = {
    "default": _database_from_url(DATABASE_URL)
    if DATABASE_URL
    else {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("CONSOLE_DB", str(VAR_DIR / "console.sqlite3")),
        "OPTIONS": {"init_command": "PRAGMA journal_mode=WAL;", "transaction_mode": "IMMEDIATE"},
        "CONN_MAX_AGE": 600,
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
# The database cache: the only cache without Redis, the fallback of the default cache with it.
_DATABASE_CACHE = {
    "BACKEND": "django.core.cache.backends.db.DatabaseCache",
    "LOCATION": "console_cache",
    # Culling at Django's default of 300 entries could drop one-time form tokens.
    "OPTIONS": {"MAX_ENTRIES": 100_000},
}
if REDIS_URL:
    # Shared by every instance. When Redis does not answer (bycloud_ui/cache.py, ADR 0010) the
    # default cache (sessions, one-time tokens, throttle slots) falls back to the database
    # cache, and shared poll answers are not shared: the console keeps serving, slower.
    _REDIS_CACHE = {
        "BACKEND": "bycloud_ui.cache.ResilientRedisCache",
        "LOCATION": REDIS_URL,
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 2},
    }
    CACHES = {
        "default": {**_REDIS_CACHE, "FALLBACK": "database"},
        "polls": {**_REDIS_CACHE, "KEY_PREFIX": "polls"},
        "database": _DATABASE_CACHE,
    }
    SESSION_ENGINE = "django.contrib.sessions.backends.cache"
else:
    # A database cache is shared by every gunicorn worker and instance (LocMem would not be).
    CACHES = {"default": _DATABASE_CACHE}
    # Answers shared by the polls of one credential live a second: per process is enough, and
    # keeps the shared database free of a write on every poll. Bounded in bytes by its entry
    # count, because the models cap what one entry holds (ADR 0014): the worst entry, a list
    # page of 20 row projections with every text at its cap in 4-byte characters, pickles to
    # ~92 KiB (a backup or volume with full metadata ~35-78 KiB; a usual list page ~5 KiB), so
    # 300 entries hold at most ~27 MiB per process. Entries live 2 s: 300 is 150 distinct
    # (credential, query) polls a second per process before sharing degrades to asking the API.
    CACHES["polls"] = {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "polls",
        "OPTIONS": {"MAX_ENTRIES": 300},
    }
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

# With HTTPS cookies, __Host- names: the browser takes them only Secure, from this host, path /.
SESSION_COOKIE_NAME = "__Host-sessionid" if SECURE_COOKIES else "bycloud_session"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = int(os.environ.get("BYCLOUD_SESSION_SECONDS", 8 * 3600))
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
if SECURE_COOKIES:
    CSRF_COOKIE_NAME = "__Host-csrftoken"
CSRF_FAILURE_VIEW = "bycloud_ui.views.csrf_failure"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
if SECURE_COOKIES:
    # Production is HTTPS. Behind a TLS-terminating proxy, the header it sets to "https" (and
    # strips from clients) is BYCLOUD_PROXY_SSL_HEADER; empty when the console terminates TLS.
    _proxy_ssl_header = os.environ.get("BYCLOUD_PROXY_SSL_HEADER", "X-Forwarded-Proto").strip()
    if _proxy_ssl_header:
        SECURE_PROXY_SSL_HEADER = ("HTTP_" + _proxy_ssl_header.upper().replace("-", "_"), "https")
    SECURE_SSL_REDIRECT = env_bool("BYCLOUD_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^(healthz|readyz|metrics)$"]  # probes and scrapes: plain HTTP
    SECURE_HSTS_SECONDS = int(os.environ.get("BYCLOUD_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("BYCLOUD_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("BYCLOUD_HSTS_PRELOAD")
    SILENCED_SYSTEM_CHECKS = [
        # Deliberate, documented choices, not oversights:
        *([] if SECURE_SSL_REDIRECT else ["security.W008"]),  # the proxy redirects to HTTPS
        *([] if SECURE_HSTS_PRELOAD else ["security.W021"]),  # preload is opt-in
    ]

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [NONE],
        "script-src": [SELF, NONCE],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [NONE],
        "object-src": [NONE],
    }
}

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if env_bool("BYCLOUD_MANIFEST_STATIC", not DEBUG)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"


def _regions() -> dict[str, dict[str, str]]:
    """BYCLOUD_REGIONS="spo1=https://api.spo1.mycloud.com,spo2=https://…" or BYCLOUD_API_URL.

    Without either, the local emulator is the only region.
    """
    regions: dict[str, dict[str, str]] = {}
    for item in env_list("BYCLOUD_REGIONS"):
        name, _, url = item.partition("=")
        if name.strip() and url.strip():
            regions[name.strip()] = {"url": url.strip().rstrip("/"), "label": name.strip()}
    if not regions and os.environ.get("BYCLOUD_API_URL"):
        regions["default"] = {"url": os.environ["BYCLOUD_API_URL"].rstrip("/"), "label": "default"}
    if not regions:
        port = os.environ.get("EMULATOR_PORT", "8001")
        regions["local"] = {"url": f"http://127.0.0.1:{port}", "label": "local (emulator)"}
    return regions


BYCLOUD_REGIONS = _regions()
BYCLOUD_API_TIMEOUT = float(os.environ.get("BYCLOUD_API_TIMEOUT", "10"))
BYCLOUD_API_RETRIES = int(os.environ.get("BYCLOUD_API_RETRIES", "2"))
BYCLOUD_POLL_SECONDS = float(os.environ.get("BYCLOUD_POLL_SECONDS", "2"))
# Polls of the same credential share one API answer for this long (0 turns sharing off).
BYCLOUD_POLL_SHARE_SECONDS = int(os.environ.get("BYCLOUD_POLL_SHARE_SECONDS", "2"))
BYCLOUD_VOLUME_CACHE_SECONDS = int(os.environ.get("BYCLOUD_VOLUME_CACHE_SECONDS", "60"))
BYCLOUD_SIGNIN_ATTEMPTS = int(os.environ.get("BYCLOUD_SIGNIN_ATTEMPTS", "10"))
BYCLOUD_SIGNIN_WINDOW_SECONDS = int(os.environ.get("BYCLOUD_SIGNIN_WINDOW_SECONDS", "300"))
# Sign-in checks of any credential from one client address per window (0: no such limit).
BYCLOUD_SIGNIN_ADDRESS_ATTEMPTS = int(os.environ.get("BYCLOUD_SIGNIN_ADDRESS_ATTEMPTS", "50"))
# Audit entries older than this many days are deleted by `manage.py prune_audit`.
BYCLOUD_AUDIT_DAYS = int(os.environ.get("BYCLOUD_AUDIT_DAYS", "400"))
# A job's lease: a killed worker's job is resumed by another after at most this long.
BYCLOUD_JOB_LEASE_SECONDS = int(os.environ.get("BYCLOUD_JOB_LEASE_SECONDS", "30"))


def _trusted_proxies() -> list[str]:
    """BYCLOUD_TRUSTED_PROXIES="10.0.0.0/8,192.168.1.7": whose X-Forwarded-For is believed."""
    cidrs = env_list("BYCLOUD_TRUSTED_PROXIES")
    for cidr in cidrs:
        try:
            ipaddress.ip_network(cidr, strict=False)
        except ValueError as error:
            raise ImproperlyConfigured(f"BYCLOUD_TRUSTED_PROXIES: {error}") from None
    return cidrs


BYCLOUD_TRUSTED_PROXIES = _trusted_proxies()

LOGIN_URL = "signin"
LOGIN_REDIRECT_URL = "backup-list"

# Health, metrics and logs (observability/, ADR 0011).
BYCLOUD_INSTANCE_NAME = os.environ.get("BYCLOUD_INSTANCE_NAME", "")  # "" : the host name
BYCLOUD_READYZ_TIMEOUT = float(os.environ.get("BYCLOUD_READYZ_TIMEOUT", "0.8"))
BYCLOUD_READYZ_CACHE_SECONDS = float(os.environ.get("BYCLOUD_READYZ_CACHE_SECONDS", "2"))


def _metrics_allowed() -> list[str]:
    """BYCLOUD_METRICS_ALLOWED: CIDRs whose connections may read /metrics (404 for others)."""
    cidrs = env_list("BYCLOUD_METRICS_ALLOWED", "127.0.0.1/32,::1/128")
    for cidr in cidrs:
        try:
            ipaddress.ip_network(cidr, strict=False)
        except ValueError as error:
            raise ImproperlyConfigured(f"BYCLOUD_METRICS_ALLOWED: {error}") from None
    return cidrs


BYCLOUD_METRICS_ALLOWED = _metrics_allowed()

LOGGING = logging_config(
    os.environ.get("BYCLOUD_LOG_FORMAT", "plain"), os.environ.get("BYCLOUD_LOG_LEVEL", "INFO")
)
