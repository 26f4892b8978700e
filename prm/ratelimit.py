"""An atomic fixed-window rate limiter on the Django cache.

DRF's throttles read, decide and write in three steps, so concurrent requests all see the old
count (docs/reliability.md, decision 3). Here the decision is made on the value returned by one atomic
increment: `cache.add` creates the counter with the window as its TTL (a no-op when it exists)
and `cache.incr` bumps it atomically on Redis (INCR) and LocMemCache (under its lock). Neither
resets the TTL, so the window runs from the first hit. On Redis both steps are one Lua
script (INCRBY, then EXPIRE only for a counter without a TTL): one round trip instead of
Django's three, still atomic. Django's DatabaseCache implements incr
as get + set (racy under any transaction mode, and set would restart the TTL), so with the
database cache, and any other cache without an atomic incr (file, dummy), the counters live in
their own table and each hit is one INSERT ... ON CONFLICT DO UPDATE ... RETURNING statement
(prm/counters.py): atomic on SQLite and PostgreSQL alike, whatever the transaction mode.
"""

from __future__ import annotations

import hashlib
import math
import re
import time

import redis
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.memcached import BaseMemcachedCache
from django.core.cache.backends.redis import RedisCache

from prm.exceptions import DomainError

_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smhd]?)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "": 1}


class RateLimited(DomainError):
    """Too many requests; try again later."""

    code = "throttled"
    status_code = 429

    def __init__(self, detail: str = "", *, retry_after: int | None = None, **kwargs):
        super().__init__(detail, **kwargs)
        #: Seconds until the spent window ends (the API's Retry-After header); None if unknown.
        self.retry_after = retry_after


def parse_rate(rate: str) -> tuple[int, int]:
    """'5/300s' -> (5, 300); '30/m' -> (30, 60); '300/d' -> (300, 86400)."""
    match = _RATE.match(rate or "")
    if not match:
        raise ValueError(f"Invalid rate: {rate!r}")
    limit, count, unit = match.groups()
    seconds = int(count or 1) * _UNITS[unit or "s"]
    if int(limit) < 0 or seconds <= 0:
        raise ValueError(f"Invalid rate: {rate!r}")
    return int(limit), seconds


def _cache_key(key: str) -> str:
    # Keys may carry e-mail addresses: hash them (memcached-safe, nothing personal in the cache).
    return "rl:" + hashlib.sha256(key.encode()).hexdigest()


def hit(key: str, limit: int, window_seconds: int, *, cache=None) -> bool:
    """Count one hit on `key`; True while the count within the window is <= limit.

    The caller acts on the answer only: a False means the hit was refused (it still counts,
    so hammering a locked key keeps it locked until the window ends)."""
    allowed = count(key, window_seconds, cache=cache) <= limit
    if not allowed:
        _log_refusal(key, limit, window_seconds)
    return allowed


def _log_refusal(key: str, limit: int, window_seconds: int) -> None:
    try:
        from prm.security_log import log_event
    except ImportError:  # pragma: no cover - the security log is optional plumbing
        return
    # The limit's name only ("token:email"), never the identifier (an e-mail, an IP).
    name = ":".join(key.split(":")[:2])
    log_event("rate_limited", outcome="blocked", limit=f"{name} {limit}/{window_seconds}s")


def count(key: str, window_seconds: int, *, delta: int = 1, cache=None) -> int:
    """Atomically add `delta` to the counter of `key` and return the new value."""
    # The real backend, not django.core.cache.cache (a proxy that no isinstance() matches).
    cache = cache or caches["default"]
    ckey = _cache_key(key)
    if isinstance(cache, RedisCache):
        return _redis_incr(cache, ckey, window_seconds, delta)
    if not _has_atomic_incr(cache):
        from prm import counters

        return counters.increment(ckey, window_seconds, delta)
    return _add_incr(cache, ckey, window_seconds, delta)


def _add_incr(cache, ckey: str, window_seconds: int, delta: int) -> int:
    cache.add(ckey, 0, timeout=window_seconds)
    try:
        return cache.incr(ckey, delta)
    except ValueError:
        # Expired between add and incr: start a new window.
        cache.add(ckey, 0, timeout=window_seconds)
        return cache.incr(ckey, delta)


# INCRBY, and a TTL for a counter that has none (a new one): one atomic round trip. Django's
# add + incr costs three (SET NX, EXISTS, INCRBY) and a new client object per call.
_REDIS_INCR = """
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
if redis.call('TTL', KEYS[1]) < 0 then
    redis.call('EXPIRE', KEYS[1], ARGV[2])
end
return value
"""


def _redis_incr(cache: RedisCache, ckey: str, window_seconds: int, delta: int) -> int:
    location = _redis_location(cache)
    if location is None:
        # A RedisCache built outside settings.CACHES: Django's own add + incr (atomic INCR, three
        # round trips instead of one).
        return _add_incr(cache, ckey, window_seconds, delta)
    key = cache.make_and_validate_key(ckey)
    return int(_incr_script(location)(keys=[key], args=[delta, window_seconds]))


# One redis-py client (thread-safe, its own connection pool) per Redis cache location, with the
# script registered once; built from the cache's settings, not from Django's cache internals.
_SCRIPTS: dict[str, redis.commands.core.Script] = {}


def _incr_script(location: str) -> redis.commands.core.Script:
    script = _SCRIPTS.get(location)
    if script is None:
        script = redis.Redis.from_url(location).register_script(_REDIS_INCR)
        _SCRIPTS[location] = script
    return script


def _redis_location(cache: RedisCache) -> str | None:
    """The write server's URL of the configured Redis cache that `cache` is (the first of a
    list or a comma-separated LOCATION, as Django's RedisCache writes to the first); None for
    a cache that is not one of this thread's settings.CACHES."""
    for alias, config in settings.CACHES.items():
        if caches[alias] is cache:
            location = config["LOCATION"]
            if isinstance(location, str):
                location = location.split(",")
            return str(location[0]).strip()
    return None


def seconds_left(key: str, window_seconds: int, *, cache=None) -> int:
    """Whole seconds until the window of `key` ends (at least 1; the whole window when the
    backend cannot tell): what a refused client is told to wait (Retry-After)."""
    cache = cache or caches["default"]
    ckey = _cache_key(key)
    left: float | None = None
    try:
        if isinstance(cache, RedisCache):
            made = cache.make_and_validate_key(ckey)
            ttl = cache._cache.get_client(made).ttl(made)
            left = float(ttl) if ttl and ttl > 0 else None
        elif isinstance(cache, LocMemCache):
            expires = cache._expire_info.get(cache.make_and_validate_key(ckey))
            left = expires - time.time() if expires else None
        elif not _has_atomic_incr(cache):
            from prm import counters

            left = counters.seconds_left(ckey)
    except Exception:  # noqa: BLE001 - a hint for the client, never a reason to fail
        left = None
    if left is None or left <= 0:
        return int(window_seconds)
    return max(1, min(int(window_seconds), math.ceil(left)))


def refund(key: str, window_seconds: int, *, cache=None) -> None:
    """Give back one hit (e.g. a login that turned out to be correct)."""
    cache = cache or caches["default"]
    ckey = _cache_key(key)
    if not isinstance(cache, RedisCache) and not _has_atomic_incr(cache):
        from prm import counters

        counters.decrement(ckey)
        return
    try:
        if cache.incr(ckey, -1) < 0:
            cache.incr(ckey, 1)
    except ValueError:
        pass


def reset(key: str, *, cache=None) -> None:
    cache = cache or caches["default"]
    if not isinstance(cache, RedisCache) and not _has_atomic_incr(cache):
        from prm import counters

        counters.delete(_cache_key(key))
        return
    cache.delete(_cache_key(key))


def _has_atomic_incr(cache) -> bool:
    """LocMemCache increments under its lock (per process), memcached with INCR; Redis has
    its own script above. Everything else goes to the database counters."""
    return isinstance(cache, LocMemCache | BaseMemcachedCache)
