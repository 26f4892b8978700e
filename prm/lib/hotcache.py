"""Read-through cache for hot data that changes rarely and in known places (issue 13).

Used for the API token lookup (by the key's hash), the policy in force, the active catalogue
and the notification managers list. Everything lives in the shared, configured cache
(CACHES["default"]: Redis in production, the database cache by default, local memory in the
tests): a change made by one process (a token revoked, a policy published) must be seen by
every other process at once, so nothing here is kept in a per-process cache. Entries expire
after settings.HOT_CACHE_SECONDS whatever happens.

- read(key, load): the cached value; on a miss load() and store it with cache.add().
- forget(keys): each key is replaced by a tombstone for FORGET_SECONDS, at once (callers
  forget inside the transaction that writes the change). While a tombstone is there, read()
  loads from the database and stores nothing, so no process caches the old row while the
  change is being committed, and a reader that loaded the old row just before the change
  cannot store it afterwards: its add() fails on the tombstone (a plain delete would let it
  in). This holds as long as the writing transaction commits within FORGET_SECONDS of the
  forget (this project's transactions take well under a second); if it rolls back, the
  tombstone only costs database reads until it expires.

Callers forget their keys where the data changes (the services that revoke or change it, and
for rows the admin or a shell saves, the model signals listed in each caller's docstring).
None is never cached (a miss looks the same).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.core.cache import caches

TOMBSTONE = "prm.hotcache:forgotten"
# Longer than any writing transaction takes after its forget, and any reader between its
# database read and its add().
FORGET_SECONDS = 120


def _cache():
    return caches["default"]


def _ttl() -> int:
    return int(getattr(settings, "HOT_CACHE_SECONDS", 60))


def _is_tombstone(value: Any) -> bool:
    return isinstance(value, str) and value == TOMBSTONE


def read(key: str, load: Callable[[], Any]) -> Any:
    cache = _cache()
    value = cache.get(key)
    if value is not None and not _is_tombstone(value):
        return value
    loaded = load()
    if value is None and loaded is not None:
        cache.add(key, loaded, _ttl())
    return loaded


def forget(keys: Iterable[str]) -> None:
    keys = list(keys)
    if keys:
        _cache().set_many(dict.fromkeys(keys, TOMBSTONE), FORGET_SECONDS)


def once(key: str, seconds: int) -> bool:
    """True for the first caller in `seconds` (every process), False for the others."""
    return bool(_cache().add(key, 1, seconds))
