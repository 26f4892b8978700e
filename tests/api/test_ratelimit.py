"""prm.ratelimit: atomic fixed-window counting on LocMemCache, the database cache and (when
CACHE_URL points at it) Redis."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.cache import caches
from django.core.cache.backends.db import DatabaseCache
from django.core.cache.backends.locmem import LocMemCache
from django.core.management import call_command
from django.db import connection
from django.test import override_settings

from prm import ratelimit


@pytest.fixture
def locmem():
    cache = LocMemCache("ratelimit-tests", {})
    yield cache
    cache.clear()


@pytest.fixture
def dbcache(transactional_db):
    call_command("createcachetable", "prm_ratelimit_test", verbosity=0)
    cache = DatabaseCache("prm_ratelimit_test", {})
    yield cache
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE prm_ratelimit_test")


@pytest.mark.parametrize(
    "rate,expected",
    [("5/300s", (5, 300)), ("30/m", (30, 60)), ("300/d", (300, 86400)), ("20/h", (20, 3600))],
)
def test_parse_rate(rate, expected):
    assert ratelimit.parse_rate(rate) == expected


@pytest.mark.parametrize("rate", ["", "x/m", "5/0s", "5/y"])
def test_parse_rate_rejects_garbage(rate):
    with pytest.raises(ValueError):
        ratelimit.parse_rate(rate)


def test_hit_allows_limit_then_refuses(locmem):
    results = [ratelimit.hit("k", 3, 60, cache=locmem) for _ in range(5)]
    assert results == [True, True, True, False, False]
    assert ratelimit.hit("other", 3, 60, cache=locmem) is True


def test_refund_gives_back_one_hit(locmem):
    for _ in range(3):
        ratelimit.hit("k", 3, 60, cache=locmem)
    ratelimit.refund("k", 60, cache=locmem)
    assert ratelimit.hit("k", 3, 60, cache=locmem) is True
    assert ratelimit.hit("k", 3, 60, cache=locmem) is False


def test_window_expiry_resets(locmem):
    for _ in range(4):
        ratelimit.hit("k", 3, 60, cache=locmem)
    with _later(61):
        assert ratelimit.hit("k", 3, 60, cache=locmem) is True


class _later:
    def __init__(self, seconds):
        import time

        import time_machine

        self.traveller = time_machine.travel(time.time() + seconds)

    def __enter__(self):
        return self.traveller.__enter__()

    def __exit__(self, *exc):
        return self.traveller.__exit__(*exc)


def _race(cache, n=60, limit=7):
    barrier = threading.Barrier(20)

    def one(_):
        try:
            barrier.wait(timeout=10)
        except threading.BrokenBarrierError:
            pass
        try:
            return ratelimit.hit("race", limit, 60, cache=cache)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=20) as pool:
        return list(pool.map(one, range(n)))


def test_locmem_is_atomic_under_concurrency(locmem):
    assert sum(_race(locmem)) == 7


def test_database_cache_counts_and_keeps_the_window(dbcache):
    assert [ratelimit.hit("k", 2, 60, cache=dbcache) for _ in range(2)] == [True, True]
    ratelimit.refund("k", 60, cache=dbcache)
    assert ratelimit.hit("k", 2, 60, cache=dbcache) is True
    assert ratelimit.hit("k", 2, 60, cache=dbcache) is False
    with _later(61):
        assert ratelimit.hit("k", 2, 60, cache=dbcache) is True


def test_database_cache_is_atomic_under_concurrency(dbcache):
    assert sum(_race(dbcache, n=40, limit=7)) == 7


def test_default_cache_is_used_when_none_given(db):
    caches["default"].clear()
    assert ratelimit.hit("default-k", 1, 60) is True
    assert ratelimit.hit("default-k", 1, 60) is False


@pytest.mark.reliability
@pytest.mark.skipif(
    os.environ.get("RUN_RELIABILITY") != "1", reason="needs RUN_RELIABILITY=1 (real Redis)"
)
def test_redis_is_atomic_under_concurrency():
    """[redis] The production cache: INCR is atomic, so 60 racing hits admit exactly 7."""
    from django.core.cache.backends.redis import RedisCache

    cache = RedisCache(os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/15"), {})
    cache.delete(ratelimit._cache_key("race"))
    try:
        assert sum(_race(cache)) == 7
    finally:
        cache.delete(ratelimit._cache_key("race"))


@pytest.mark.reliability
@pytest.mark.skipif(
    os.environ.get("RUN_RELIABILITY") != "1", reason="needs RUN_RELIABILITY=1 (real Redis)"
)
def test_redis_counter_is_one_script_that_keeps_the_window():
    """[redis] The Lua increment gives a new counter the window as TTL and never extends it;
    Django's own get/incr/delete see the same key (refund, reset). The script runs on a
    redis-py client built from settings.CACHES (no Django cache internals)."""
    import redis
    from django.core.cache.backends.redis import RedisCache

    url = os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/15")
    config = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}
    }
    with override_settings(CACHES=config):
        cache = caches["default"]
        assert isinstance(cache, RedisCache)
        assert ratelimit._redis_location(cache) == url
        _lua_window_checks(cache, redis.Redis.from_url(url))


def _lua_window_checks(cache, client):
    ckey = ratelimit._cache_key("lua-window")
    key = cache.make_and_validate_key(ckey)
    cache.delete(ckey)
    try:
        assert [ratelimit.count("lua-window", 60, cache=cache) for _ in range(3)] == [1, 2, 3]
        assert 55 <= client.ttl(key) <= 60
        client.expire(key, 5)  # later hits must not restart the window
        assert ratelimit.count("lua-window", 60, cache=cache) == 4
        assert client.ttl(key) <= 5
        assert cache.get(ckey) == 4
        ratelimit.refund("lua-window", 60, cache=cache)
        assert cache.get(ckey) == 3
        ratelimit.reset("lua-window", cache=cache)
        assert cache.get(ckey) is None
        assert ratelimit.count("lua-window", 60, cache=cache) == 1
        client.persist(key)  # a counter left without a TTL gets one on the next hit
        assert ratelimit.count("lua-window", 60, cache=cache) == 2
        assert 55 <= client.ttl(key) <= 60
        assert ratelimit.hit("lua-window", 2, 60, cache=cache) is False
    finally:
        cache.delete(ckey)


def test_the_default_database_cache_keeps_the_window(settings, db):
    """With no CACHE_URL the project default is the database cache: the window must end on
    time (a generic get+set incr would restart the expiry on every hit)."""
    import time

    from django.core.cache import caches
    from django.core.management import call_command

    from prm import ratelimit

    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "prm_cache",
        }
    }
    call_command("createcachetable", verbosity=0)
    assert type(caches["default"]).__name__ == "DatabaseCache"
    assert [ratelimit.count("window-test", 2) for _ in range(3)] == [1, 2, 3]
    time.sleep(2.2)
    assert ratelimit.count("window-test", 2) == 1, "the window did not end"
