"""The identity index: one entry per registration or direct opportunity, with its blocking keys.

deals' services call `index_upsert` / `index_deactivate` whenever a record's identity or
activity changes, inside their own transaction, so the index is never ahead of or behind the
record. `lock_identity` serialises any two writers whose identities could match (the
correctness condition is CONC-07: two identities that score at or above the review threshold
share at least one blocking key, and both lock every key they have).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable

from django.db import connection
from django.db.models import Q

from conflicts import sql
from conflicts.models import CandidateKey, IdentityEntry
from conflicts.normalize import NORMALIZER_VERSION, blocking_keys
from conflicts.scoring import Identity


def name_key(name_norm: str) -> str:
    """The exact-name key: sorted distinct tokens."""
    return " ".join(sorted(set(name_norm.split())))[:300]


def lock_keys(identity: Identity) -> list[str]:
    keys = set(blocking_keys(identity.name)) if identity.name else set()
    if identity.domain:
        keys.add(f"d:{identity.domain}")
    if identity.email_domain:
        keys.add(f"d:{identity.email_domain}")
    return sorted(keys)


def _key_to_int64(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big", signed=True)


def lock_identity(identity: Identity) -> None:
    """Take the first-come-first-served lock for `identity` until the transaction ends.

    PostgreSQL: transaction-scoped advisory locks on every key, in a fixed order (no deadlock
    between two writers). SQLite: nothing to do, because every write transaction already took
    the database's write lock at BEGIN (transaction_mode=IMMEDIATE), which serialises writers.
    """
    if connection.vendor != "postgresql":
        return
    ids = sorted({_key_to_int64(k) for k in lock_keys(identity)})
    if ids:
        sql.lock_all(ids)


def _adjust_frequencies(keys: Iterable[str], delta: int) -> None:
    sql.adjust_frequencies(keys, delta)


def index_upsert(
    *,
    kind: str,
    record_id: int,
    partner_id: int | None,
    label: str,
    identity: Identity,
    name_raw: str,
    product_lines: Iterable[str],
    active: bool,
    since: dt.datetime,
    active_until: dt.datetime | None = None,
) -> IdentityEntry:
    """Create or refresh the entry for one record and its blocking keys (diffed)."""
    lines = sorted(set(product_lines))
    fields = {
        "partner_id": partner_id,
        "label": label[:300],
        "name_raw": name_raw[:300],
        "name_norm": identity.name[:300],
        "name_key": name_key(identity.name),
        "domain": identity.domain,
        "email_domain": identity.email_domain,
        "country": identity.country,
        "location": identity.location[:100],
        "normalizer_version": NORMALIZER_VERSION,
        "product_lines": ("|" + "|".join(lines) + "|") if lines else "",
        "active": active,
        "active_until": active_until,
        "since": since,
    }
    entry, created = IdentityEntry.objects.update_or_create(
        kind=kind, record_id=record_id, defaults=fields
    )
    wanted = set(blocking_keys(identity.name)) if (active and identity.name) else set()
    existing = set() if created else set(entry.keys.values_list("key", flat=True))
    removed, added = existing - wanted, wanted - existing
    if removed:
        CandidateKey.objects.filter(entry=entry, key__in=removed).delete()
        _adjust_frequencies(removed, -1)
    if added:
        CandidateKey.objects.bulk_create([CandidateKey(key=k, entry=entry) for k in sorted(added)])
        _adjust_frequencies(added, +1)
    return entry


def index_deactivate(*, kind: str, record_id: int) -> None:
    """The record no longer protects its customer: drop its keys, keep the entry for history."""
    entry = IdentityEntry.objects.filter(kind=kind, record_id=record_id).first()
    if entry is None:
        return
    keys = list(entry.keys.values_list("key", flat=True))
    if keys:
        CandidateKey.objects.filter(entry=entry).delete()
        _adjust_frequencies(keys, -1)
    if entry.active:
        IdentityEntry.objects.filter(pk=entry.pk).update(active=False)


def index_remove(*, kind: str, record_id: int) -> None:
    index_deactivate(kind=kind, record_id=record_id)
    IdentityEntry.objects.filter(kind=kind, record_id=record_id).delete()


def active_filter(now: dt.datetime) -> Q:
    return Q(active=True) & (Q(active_until__isnull=True) | Q(active_until__gt=now))
