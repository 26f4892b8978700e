"""Settings for the Celery worker and beat subprocesses of tests/reliability/test_jobs.py.

prm.settings already reads what the harness passes in the environment: SQLITE_PATH or
DATABASE_URL (the test database, so the worker sees the test's committed rows),
CELERY_BROKER_URL (the test's own redis-server), EMAIL_URL (the test's SMTP sink) and the
NOTIFICATION_* knobs (short backoff, drain period, stale time). Only what has no environment
switch is set here.
"""

import os

from prm.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# A short visibility timeout so a message held by a SIGKILLed worker is redelivered within
# the test (JOB-04); publishing never retries the connection (as in production).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": int(os.environ.get("JOBS_VISIBILITY_TIMEOUT", "10")),
    "max_retries": 0,
}
CELERY_BROKER_HEARTBEAT = 0
if os.environ.get("JOBS_EMAIL_BACKEND"):
    EMAIL_BACKEND = os.environ["JOBS_EMAIL_BACKEND"]
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "prm.notifications": {"handlers": ["console"], "level": "INFO", "propagate": False}
    },
}
