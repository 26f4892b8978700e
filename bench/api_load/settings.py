"""Settings for the API load bench: production-like (DEBUG off, PBKDF2), plus a trivial
no-DB, no-auth DRF endpoint (/bench/ping/) that gives the throughput ceiling C."""

from prm.settings import *  # noqa: F403

ROOT_URLCONF = "bench.api_load.urls"
DEBUG = False
MFA_REQUIRED_FOR_MANAGERS = False
# The limiters stay in the request path (one cache round trip each) but never refuse here.
CONFLICT_CHECK_RATE_USER = "100000000/m"
CONFLICT_CHECK_RATE_PARTNER = "100000000/d"
LOGGING = {"version": 1, "disable_existing_loggers": True, "root": {"level": "ERROR"}}
