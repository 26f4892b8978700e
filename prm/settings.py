"""Dealbridge settings, read top to bottom, driven by the environment (12-factor).

Defaults are for local use: SQLite under var/, e-mail written to files under var/mail/,
Celery on a filesystem broker (no server needed). Production is selected with
DJANGO_ENV=production, which makes SECRET_KEY and ALLOWED_HOSTS mandatory (see prm/settings_prod.py).
Every variable is listed in .env.example and in the README's Configuration section.
"""

from __future__ import annotations

import importlib.util
import os
from datetime import timedelta
from pathlib import Path

import environ

from prm.lib.sqlite import with_sqlite_safeguards

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("PRM_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def env_secret(name: str, default: str | None = None) -> str | None:
    """Read NAME, or the contents of the file named by NAME_FILE (Docker/K8s secrets)."""
    file_path = os.environ.get(f"{name}_FILE")
    if file_path:
        return Path(file_path).read_text().strip()
    return os.environ.get(name, default)


# --- Core -------------------------------------------------------------------------------------

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env_secret("SECRET_KEY") or "dev-insecure-key-change-me-0123456789abcdefghijklmnop"
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
SITE_ID = 1

INSTALLED_APPS = [
    "prm.apps.PrmAdminConfig",  # django.contrib.admin with the project's site (app order)
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
    "django_htmx",
    "django_celery_beat",
    "partners",
    "conflicts",
    "deals",
    "rewards",
    "integrations",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "prm.middleware.SecurityHeadersMiddleware",
    "prm.middleware.RejectUnstorableQueryMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "partners.middleware.SessionLifetimeMiddleware",
    # After sessions, before CommonMiddleware (Django's documented place): cookie, then
    # Accept-Language. No i18n_patterns, so URLs carry no language prefix.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "partners.middleware.ActiveAccountMiddleware",
    "partners.middleware.UserTimezoneMiddleware",
    "partners.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "partners.middleware.ManagerMfaMiddleware",
    "partners.middleware.ProgramTermsMiddleware",
    "prm.middleware.DatabaseBusyMiddleware",
    "prm.dbrouting.PrimaryPinMiddleware",
]

ROOT_URLCONF = "prm.urls"
WSGI_APPLICATION = "prm.wsgi.application"

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
                "deals.context_processors.navigation",
                "deals.web.context.program",
            ],
        },
    }
]

# --- Database ---------------------------------------------------------------------------------
# SQLite is the embedded default: WAL so readers never block the writer, and
# transaction_mode=IMMEDIATE so a write transaction takes the lock at BEGIN and concurrent
# writers queue (up to `timeout` seconds) instead of failing with "database is locked"
# (prm/lib/sqlite.py).

SQLITE_PATH = env.str("SQLITE_PATH", default=str(VAR_DIR / "db.sqlite3"))
if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": env.db("DATABASE_URL")}
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env.bool(
        "DATABASE_PREPARED_STATEMENTS", default=True
    ):
        # Server-side parameter binding, so psycopg prepares a statement it has run twice on a
        # connection: the hot API queries skip PostgreSQL's parse and plan (~0.3 ms each, a
        # quarter of a registration GET; issue #4). Set DATABASE_PREPARED_STATEMENTS=false
        # behind PgBouncer in transaction mode (a prepared statement belongs to one server
        # connection).
        DATABASES["default"].setdefault("OPTIONS", {}).update(
            server_side_binding=True, prepare_threshold=2
        )
    # Behind PgBouncer in transaction mode a cursor cannot outlive its transaction's server
    # connection: named (server-side) cursors, which QuerySet.iterator() uses, are turned off.
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = env.bool(
        "DATABASE_DISABLE_SERVER_SIDE_CURSORS", default=False
    )
    if os.environ.get("DATABASE_REPLICA_URL"):
        # A read replica for report and export reads (prm.dbrouting): the router sends only
        # reads made inside prm.dbrouting.replica_reads() there, and never migrates it.
        DATABASES["replica"] = {
            **env.db("DATABASE_REPLICA_URL"),
            "CONN_MAX_AGE": DATABASES["default"]["CONN_MAX_AGE"],
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": dict(DATABASES["default"].get("OPTIONS", {})),
            "DISABLE_SERVER_SIDE_CURSORS": DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"],
            # A test run with DATABASE_REPLICA_URL set reads the default test database there.
            "TEST": {"MIRROR": "default"},
        }
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": SQLITE_PATH}}
DATABASE_ROUTERS = ["prm.dbrouting.ReplicaRouter"]
# After a write (any unsafe method), a browser or API client reads the primary for this many
# seconds (a cookie), so it sees its own write whatever the replica's lag.
REPLICA_PIN_SECONDS = env.int("REPLICA_PIN_SECONDS", default=15)
REPLICA_PIN_COOKIE_NAME = "db_primary_pin"
# However SQLite is configured (SQLITE_PATH, DATABASE_URL=sqlite:////abs/path or
# sqlite:///relative, with or without ?options), it runs with BEGIN IMMEDIATE, WAL and the
# 20 s busy timeout (issue 20: a DATABASE_URL=sqlite:// server ran without them and answered
# 500 "database is locked" to the loser of every race).
DATABASES["default"] = with_sqlite_safeguards(DATABASES["default"])
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth (allauth: e-mail login, no usernames, MFA) -----------------------------------------

AUTH_USER_MODEL = "partners.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = env.str("ACCOUNT_EMAIL_VERIFICATION", default="optional")
# partners.adapters.AccountAdapter + a security-log record when allauth's limiter refuses a login.
ACCOUNT_ADAPTER = "prm.security_log.SecurityAccountAdapter"
# No path signs a user in without the second factor: no login on password reset, no login by
# e-mailed code (AUTH-03). MFA_TOTP_INSECURE_BYPASS_CODE is never set (AUTH-04 greps for it).
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
ACCOUNT_LOGIN_BY_CODE_ENABLED = False
ACCOUNT_SESSION_REMEMBER = False
ACCOUNT_RATE_LIMITS = {
    "login_failed": "10/m/ip,5/300s/key",
    "login": "30/m/ip",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
    "signup": "20/m/ip",
}
ALLAUTH_TRUSTED_PROXY_COUNT = env.int("ALLAUTH_TRUSTED_PROXY_COUNT", default=0)
# Single sign-on (partners.sso, docs/sso.md): identity providers are IdentityProvider rows in
# the admin, turned into allauth apps by the adapter; no open sign-up, tokens not stored.
SOCIALACCOUNT_ADAPTER = "partners.sso.SocialAccountAdapter"
SOCIALACCOUNT_STORE_TOKENS = False
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
SOCIALACCOUNT_LOGIN_ON_GET = False
SOCIALACCOUNT_REQUESTS_TIMEOUT = env.int("SOCIALACCOUNT_REQUESTS_TIMEOUT", default=10)
if importlib.util.find_spec("onelogin") is not None:  # django-allauth[saml] installed
    INSTALLED_APPS.append("allauth.socialaccount.providers.saml")
# Managers must enrol TOTP before manager pages/API (forced in production settings; off by
# default for the local demo so its printed logins work at once; tests turn it on).
MFA_REQUIRED_FOR_MANAGERS = env.bool("MFA_REQUIRED_FOR_MANAGERS", default=False)
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Dealbridge"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]

# Sessions: NIST AAL2 numbers, product decisions recorded in the README.
SESSION_IDLE_TIMEOUT = timedelta(minutes=env.int("SESSION_IDLE_MINUTES", default=30))
SESSION_ABSOLUTE_LIFETIME = timedelta(hours=env.int("SESSION_ABSOLUTE_HOURS", default=12))
SESSION_COOKIE_AGE = int(SESSION_ABSOLUTE_LIFETIME.total_seconds())
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
API_TOKEN_TTL = timedelta(days=env.int("API_TOKEN_TTL_DAYS", default=30))

# --- Cache (allauth rate limits and the API limiters need a shared, atomic cache) ------------

if os.environ.get("CACHE_URL"):
    CACHES = {"default": env.cache("CACHE_URL")}
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "prm_cache",
        }
    }
# Hot reads cached in that shared cache (prm.lib.hotcache: API token lookups, the policy in
# force, the active catalogue, the managers list); each is forgotten where it changes, and
# expires after this many seconds whatever happens.
HOT_CACHE_SECONDS = env.int("HOT_CACHE_SECONDS", default=60)

# --- Webhooks (integrations app; docs/api.md "Webhooks") ----------------------------------------
# Development and tests only: lets endpoints use http:// and private/loopback addresses.
WEBHOOK_ALLOW_PRIVATE_URLS = env.bool("WEBHOOK_ALLOW_PRIVATE_URLS", default=False)
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=5.0)
# An endpoint is disabled after this many deliveries in a row failed for good.
WEBHOOK_DISABLE_AFTER_FAILURES = env.int("WEBHOOK_DISABLE_AFTER_FAILURES", default=5)

# --- CRM connectors (integrations.crm; docs/crm.md) ---------------------------------------------
# Fernet keys (urlsafe base64, 32 bytes) that encrypt CRM credentials at rest, comma-separated:
# the first encrypts, all decrypt (rotation). CRM_CREDENTIALS_KEY_FILE names a secret file.
# Unset: DEBUG derives a development key from SECRET_KEY; otherwise connecting a CRM refuses.
CRM_CREDENTIALS_KEY = env_secret("CRM_CREDENTIALS_KEY") or ""
# A CA bundle the CRM clients trust besides the system's (a TLS-inspecting proxy; the local
# fake CRM servers of the tests and the demo). Empty: the system's trust store.
CRM_CA_BUNDLE = env.str("CRM_CA_BUNDLE", default="")
CRM_HTTP_TIMEOUT_SECONDS = env.float("CRM_HTTP_TIMEOUT_SECONDS", default=30.0)
# Retries of one CRM call on 429/5xx/timeouts before the run fails (and is retried later);
# a Retry-After longer than CRM_MAX_RETRY_AFTER_SECONDS fails the run at once instead of waiting.
CRM_HTTP_RETRIES = env.int("CRM_HTTP_RETRIES", default=4)
CRM_MAX_RETRY_AFTER_SECONDS = env.float("CRM_MAX_RETRY_AFTER_SECONDS", default=60.0)
# Where an administrator's browser comes back after a Salesforce/HubSpot OAuth consent.
CRM_OAUTH_REDIRECT_BASE = env.str("CRM_OAUTH_REDIRECT_BASE", default="")

# --- REST API -----------------------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "partners.authentication.HashedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "partners.permissions.IntegrationScope",
        "partners.permissions.SalesRepReadOnly",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "prm.parsers.DepthLimitedJSONParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "prm.api.Pagination",
    "PAGE_SIZE": 25,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "prm.api.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Dealbridge API",
    "DESCRIPTION": "Deal registration, conflict detection and partner management (API v1).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # One name per choice set shared by several API fields (drf-spectacular warns otherwise).
    "ENUM_NAME_OVERRIDES": {
        "RegistrationStatusEnum": "deals.models.RegistrationStatus",
        "ConflictStatusEnum": "deals.models.ConflictStatus",
        "ConflictRecordStatusEnum": "conflicts.models.Conflict.Status",
        "ConflictResolutionEnum": "conflicts.models.Conflict.Resolution",
        "PartnerStatusEnum": "partners.models.Partner.Status",
        "OpportunityStatusEnum": "deals.models.OpportunityStatus",
        "ExtensionStatusEnum": "deals.models.ExtensionStatus",
        "MembershipRoleEnum": "partners.models.Membership.Role",
        "BenefitKindEnum": "deals.models.BenefitKind",
        "CustomFieldTypeEnum": "deals.models.CustomFieldType",
        "RecordKindEnum": "conflicts.models.RecordKind",
        "AccrualKindEnum": "rewards.models.AccrualKind",
        "AccrualStatusEnum": "rewards.models.AccrualStatus",
        "UserRoleEnum": [
            ("partner", "Partner user"),
            ("partner_admin", "Partner admin"),
            ("manager", "Manager"),
        ],
    },
}

# --- Celery (jobs) ----------------------------------------------------------------------------
# Default: a filesystem broker under var/ so `make run` runs a real worker and beat with no
# server. Production: CELERY_BROKER_URL=redis://... . Tests: eager (settings_test).

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
_broker_dir = VAR_DIR / "broker"
if CELERY_BROKER_URL.startswith("filesystem"):
    # The filesystem transport does not create its folders; the web process, the worker and
    # beat all import settings, so whichever starts first creates them.
    for _folder in ("queue", "processed"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
    }
    if CELERY_BROKER_URL.startswith("filesystem")
    else {
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=600),
        # Publishing (web requests, beat, task retries) fails at once when Redis is down
        # instead of retrying the connection for CELERY_BROKER_CONNECTION_TIMEOUT: the outbox
        # drain re-drives whatever was not published. The worker's consumer reconnects with
        # its own retry policy (broker_connection_retry), which this does not change.
        "max_retries": 0,
    }
)
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Publishing must never hang a user request when the broker is down: the outbox re-drives.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_PUBLISH_RETRY = False
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"

# Notification outbox (deals/notifications/). Delivery retries use exponential backoff with
# jitter: min(cap, base * 2**(attempt-1)), jittered to 50-100 %; after MAX_ATTEMPTS a delivery
# is marked failed (admin: Notification, status filter). The drain runs every DRAIN_SECONDS
# (django-celery-beat row created by `manage.py setup_schedules`), delivers pending rows older
# than DRAIN_GRACE_SECONDS and re-drives rows stuck in "sending" for STALE_SECONDS.
NOTIFICATION_DRAIN_SECONDS = env.int("NOTIFICATION_DRAIN_SECONDS", default=60)
NOTIFICATION_DRAIN_GRACE_SECONDS = env.float("NOTIFICATION_DRAIN_GRACE_SECONDS", default=10)
NOTIFICATION_DRAIN_BATCH = env.int("NOTIFICATION_DRAIN_BATCH", default=500)
NOTIFICATION_STALE_SECONDS = env.float("NOTIFICATION_STALE_SECONDS", default=120)
NOTIFICATION_MAX_ATTEMPTS = env.int("NOTIFICATION_MAX_ATTEMPTS", default=10)
NOTIFICATION_RETRY_BASE_SECONDS = env.float("NOTIFICATION_RETRY_BASE_SECONDS", default=30)
NOTIFICATION_RETRY_MAX_SECONDS = env.float("NOTIFICATION_RETRY_MAX_SECONDS", default=600)
# After a failed publish, web processes stop trying the broker for this long (the drain
# delivers meanwhile), so a broker outage costs at most one failed connect per window.
NOTIFICATION_PUBLISH_PAUSE_SECONDS = env.float("NOTIFICATION_PUBLISH_PAUSE_SECONDS", default=15)

# --- E-mail -----------------------------------------------------------------------------------

if os.environ.get("EMAIL_URL"):
    _email = env.email("EMAIL_URL")
    vars().update(_email)
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = str(VAR_DIR / "mail")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Dealbridge <no-reply@dealbridge.local>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_TIMEOUT = 10
# Notification e-mails carry a stable Message-ID <notification-{pk}-{hash}@DOMAIN>, reused on
# every retry, so a duplicate after a crash between SMTP accept and commit can be recognised.
EMAIL_MESSAGE_ID_DOMAIN = env.str("EMAIL_MESSAGE_ID_DOMAIN", default="dealbridge")

# --- I18N / time ------------------------------------------------------------------------------

# The portal, e-mails and validation messages speak these languages (README "Languages"):
# a signed-in user's saved choice (User.language, activated by
# partners.middleware.UserLanguageMiddleware) wins over the language cookie, which wins over
# the browser's Accept-Language; English otherwise. Manager-only pages stay English.
LANGUAGE_CODE = "en"
LANGUAGES = [
    ("en", "English"),
    ("de", "Deutsch"),
    ("fr", "Français"),
    ("es", "Español"),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
LANGUAGE_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=False)
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# Numbers and dates follow the active language's formats (Django localizes in templates:
# "5000,5" and "3. Dezember 2026" in German). Amounts group thousands through
# floatformat:"2g" (the locale's separator). USE_THOUSAND_SEPARATOR stays off on purpose: it
# would also group every bare integer a template prints, turning ids in value="{{ r.pk }}"
# and data attributes into "1,234". Form widgets, CSV and the API never localize.
USE_THOUSAND_SEPARATOR = False

# --- Static files -----------------------------------------------------------------------------

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]

# --- Attachments (README "Attachments"): files partners attach to registrations as evidence.
# Never served from a public URL: downloads go through a view that checks access.
ATTACHMENTS_STORAGE_KIND = env.str("ATTACHMENTS_STORAGE", default="filesystem").lower()
if ATTACHMENTS_STORAGE_KIND == "s3":
    ATTACHMENTS_STORAGE = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env.str("ATTACHMENTS_S3_BUCKET", default="dealbridge-attachments"),
            # MinIO or another S3-compatible service; empty for AWS S3 itself.
            "endpoint_url": env.str("ATTACHMENTS_S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("ATTACHMENTS_S3_REGION", default="") or None,
            # Empty: boto3's own chain (AWS_* variables, instance or pod role).
            "access_key": env.str("ATTACHMENTS_S3_ACCESS_KEY_ID", default="") or None,
            "secret_key": env_secret("ATTACHMENTS_S3_SECRET_ACCESS_KEY") or None,
            "location": env.str("ATTACHMENTS_S3_PREFIX", default=""),
            # MinIO wants path-style addressing; AWS accepts both.
            "addressing_style": env.str("ATTACHMENTS_S3_ADDRESSING_STYLE", default="path"),
            "default_acl": None,  # the bucket's own (private); objects are never public
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }
elif ATTACHMENTS_STORAGE_KIND == "filesystem":
    ATTACHMENTS_STORAGE = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {
            "location": env.str("ATTACHMENTS_DIR", default=str(VAR_DIR / "attachments")),
            # No base_url: these files have no URL of their own.
            "base_url": None,
            "file_permissions_mode": 0o640,
            "directory_permissions_mode": 0o750,
        },
    }
else:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("ATTACHMENTS_STORAGE must be 'filesystem' or 's3'.")
ATTACHMENT_MAX_BYTES = 10 * 1024 * 1024
ATTACHMENT_MAX_PER_REGISTRATION = 20

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "attachments": ATTACHMENTS_STORAGE,
}
DATA_UPLOAD_MAX_MEMORY_SIZE = 6 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 6 * 1024 * 1024
CSV_IMPORT_MAX_BYTES = 5 * 1024 * 1024

# --- Security headers (prm.middleware.SecurityHeadersMiddleware adds CSP and COOP) -----------

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# CSRF failures are logged and answered as JSON on /api/ (prm.security_log).
CSRF_FAILURE_VIEW = "prm.security_log.csrf_failure"
# Flash messages live in the session: no extra, non-__Host- cookie.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
# prm.apps.PrmConfig connects the security-log and session-registry signal receivers.
INSTALLED_APPS = [*INSTALLED_APPS, "prm.apps.PrmConfig"]
# DJANGO_ENV=production must run the production settings (prm/settings_prod.py imports this
# module, then tightens it). Fail loudly instead of serving with the development defaults.
if os.environ.get("DJANGO_ENV") == "production" and os.environ.get(
    "DJANGO_SETTINGS_MODULE", "prm.settings"
) in ("prm.settings", ""):
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(
        "DJANGO_ENV=production needs DJANGO_SETTINGS_MODULE=prm.settings_prod."
    )

# --- Logging: structured security log on its own logger ---------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        # prm.security records are already one JSON object per line (prm/security_log.py).
        "json_line": {"format": "%(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
        "security": {"class": "logging.StreamHandler", "formatter": "json_line"},
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="WARNING")},
    "loggers": {
        "prm.security": {"handlers": ["security"], "level": "INFO", "propagate": False},
        "prm.conflict_check": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}

# --- Product constants ------------------------------------------------------------------------

CONFLICT_CHECK_RATE_USER = env.str("CONFLICT_CHECK_RATE_USER", default="30/m")
CONFLICT_CHECK_RATE_PARTNER = env.str("CONFLICT_CHECK_RATE_PARTNER", default="300/d")
# Channel managers and integrations (manager accounts, their API tokens): their own limit.
CONFLICT_CHECK_RATE_MANAGER = env.str("CONFLICT_CHECK_RATE_MANAGER", default="6000/h")
# Vendor staff e-mail domains: never a partner user's address (nor a match for a sales rep).
VENDOR_STAFF_DOMAINS = [
    d.strip().lower() for d in env.list("VENDOR_STAFF_DOMAINS", default=["dealbridge.example"])
]
# Withdrawals after a (potential) conflict verdict per partner and period that flag the
# partner to its managers (once per period) and in the partner list.
CONFLICT_WITHDRAWAL_ALERT_RATE = env.str("CONFLICT_WITHDRAWAL_ALERT_RATE", default="5/d")
TOKEN_LOGIN_RATE = env.str("TOKEN_LOGIN_RATE", default="5/300s")
# Applications from the public /apply/ page per sender address (partners.applications).
PARTNER_APPLICATION_RATE = env.str("PARTNER_APPLICATION_RATE", default="5/h")
