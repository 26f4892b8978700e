"""Production settings: DJANGO_SETTINGS_MODULE=prm.settings_prod (docker-compose sets it).

Everything in prm/settings.py applies; this module only tightens it and refuses to start when a
required value is missing (ImproperlyConfigured), so a half-configured deployment never serves.

Required: SECRET_KEY (or SECRET_KEY_FILE), ALLOWED_HOSTS, CACHE_URL (redis:// or rediss://).
Optional: SECURE_SSL_REDIRECT (default true), SECURE_PROXY_SSL_HEADER (default true: a reverse
proxy in front sets X-Forwarded-Proto and strips it from clients), HSTS_PRELOAD (default false).

`manage.py check --deploy --fail-level WARNING` exits 0 with these settings. Silenced checks
(SILENCED_SYSTEM_CHECKS below), each justified:
- security.W021 (HSTS preload not set), only while HSTS_PRELOAD is false: submitting the domain
  to the browsers' preload list is an irreversible commitment for the whole registrable domain
  and every subdomain, which the operator must decide, not the application. HSTS itself is on
  (1 year, includeSubDomains). Set HSTS_PRELOAD=true to send `preload` and un-silence it.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

from prm.settings import *  # noqa: F403
from prm.settings import ATTACHMENTS_STORAGE, CELERY_BROKER_URL, env, env_secret

# --- Core -------------------------------------------------------------------------------------

DEBUG = False

SECRET_KEY = env_secret("SECRET_KEY") or ""
if len(SECRET_KEY) < 50 or SECRET_KEY.startswith(("dev-insecure", "django-insecure")):
    raise ImproperlyConfigured(
        "SECRET_KEY (or SECRET_KEY_FILE) is required in production: at least 50 random "
        "characters, e.g. `python -c 'import secrets; print(secrets.token_urlsafe(64))'`."
    )

_hosts = env_secret("ALLOWED_HOSTS")
ALLOWED_HOSTS = [h.strip() for h in (_hosts or "").split(",") if h.strip()]
if not ALLOWED_HOSTS or "*" in ALLOWED_HOSTS:
    raise ImproperlyConfigured(
        "ALLOWED_HOSTS is required in production (comma-separated host names, no '*')."
    )

# --- Transport --------------------------------------------------------------------------------

SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
# Probes call /healthz over plain HTTP inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
if env.bool("SECURE_PROXY_SSL_HEADER", default=True):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = 31536000  # one year
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = env.bool("HSTS_PRELOAD", default=False)
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]

# --- Cookies ----------------------------------------------------------------------------------
# __Host- names: the browser only accepts them with Secure, Path=/ and no Domain, so a sibling
# subdomain cannot plant or overwrite them (cookie tossing).

SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_NAME = "__Host-sessionid"
CSRF_COOKIE_NAME = "__Host-csrftoken"
REPLICA_PIN_COOKIE_NAME = "__Host-db_primary_pin"  # prm.dbrouting (only with a replica)
SESSION_COOKIE_DOMAIN = None
CSRF_COOKIE_DOMAIN = None
SESSION_COOKIE_PATH = "/"
CSRF_COOKIE_PATH = "/"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"

# --- Auth -------------------------------------------------------------------------------------

MFA_REQUIRED_FOR_MANAGERS = True
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
ACCOUNT_LOGIN_BY_CODE_ENABLED = False

# --- Cache: Redis, required ---------------------------------------------------------------------
# allauth's login limits and prm.ratelimit count in the cache. A per-process cache (LocMem)
# multiplies every limit by the number of workers; a database cache is not atomic. So production
# needs Redis, and not the broker's database: the broker needs `maxmemory-policy noeviction`,
# while a cache may evict. Eviction policy is per Redis *instance*, so run the cache on its own
# instance with `maxmemory-policy volatile-ttl` (every key we write has a TTL; the keys nearest
# to expiry go first, i.e. windows that are nearly over) and enough memory that eviction does not
# happen in practice. When one instance is shared, keep it on `noeviction` (the broker's
# requirement): a full cache then fails writes loudly instead of silently resetting limits.

CACHE_URL = os.environ.get("CACHE_URL", "")
_cache = urlsplit(CACHE_URL)
if _cache.scheme not in ("redis", "rediss"):
    raise ImproperlyConfigured(
        "CACHE_URL must point at Redis in production (redis://host:6379/1): rate limits need "
        "a shared, atomic cache."
    )
_broker = urlsplit(CELERY_BROKER_URL)


def _redis_db(parts) -> str:
    return (parts.path or "/0").strip("/") or "0"


if (
    _broker.scheme in ("redis", "rediss")
    and (_broker.hostname, _broker.port or 6379) == (_cache.hostname, _cache.port or 6379)
    and _redis_db(_broker) == _redis_db(_cache)
):
    raise ImproperlyConfigured(
        "CACHE_URL and CELERY_BROKER_URL use the same Redis database; give the cache its own "
        "database (better: its own instance, see the eviction note in prm/settings_prod.py)."
    )
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": CACHE_URL,
        "KEY_PREFIX": "prm",
        "TIMEOUT": 300,
    }
}

# --- Static files -------------------------------------------------------------------------------

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    "attachments": ATTACHMENTS_STORAGE,
}
