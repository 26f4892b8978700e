"""Test settings: fast hasher, eager Celery, in-memory mail and cache.

The SQLite test database is a file (not :memory:) so the concurrency tests run against the same
WAL + BEGIN IMMEDIATE setup as the embedded default. DATABASE_URL switches to PostgreSQL in CI.
"""

import os

os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "true")

from prm.settings import *  # noqa: E402,F403
from prm.settings import DATABASES, STORAGES, VAR_DIR  # noqa: E402

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
if os.environ.get("CACHE_URL"):
    import environ

    CACHES = {"default": environ.Env.cache_url_config(os.environ["CACHE_URL"])}
CELERY_TASK_ALWAYS_EAGER = os.environ.get("CELERY_TASK_ALWAYS_EAGER", "true").lower() == "true"
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "memory://")
CELERY_BROKER_TRANSPORT_OPTIONS = {}
SITE_URL = "http://testserver"
# A fixed Fernet key for the CRM credentials (tests only).
CRM_CREDENTIALS_KEY = "dGVzdC1vbmx5LWNybS1rZXktMDEyMzQ1Njc4OWFiY2Q="
# Attachments live in memory (one storage per process, shared with live_server threads); the
# tests of the filesystem backend override STORAGES themselves.
STORAGES = {**STORAGES, "attachments": {"BACKEND": "django.core.files.storage.InMemoryStorage"}}
MFA_REQUIRED_FOR_MANAGERS = True
# Submissions spend the availability-check budget (30/m per user, 300/d per partner), and the
# suite seeds far more registrations per user and minute than any partner makes: the tests of
# the limits state theirs (override_settings).
# A server process started by a test (tests/reliability/race_server.py) sets the real limits.
CONFLICT_CHECK_RATE_USER = os.environ.get("CONFLICT_CHECK_RATE_USER", "1000000/m")
CONFLICT_CHECK_RATE_PARTNER = os.environ.get("CONFLICT_CHECK_RATE_PARTNER", "1000000/d")
CONFLICT_CHECK_RATE_MANAGER = os.environ.get("CONFLICT_CHECK_RATE_MANAGER", "1000000/h")

if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    _worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    DATABASES["default"]["TEST"] = {
        "NAME": str(VAR_DIR / f"test-{_worker}-{os.getpid()}.sqlite3"),
    }
