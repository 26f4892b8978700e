"""The identity index: one entry per registration or direct opportunity, with its blocking keys.

deals' services call `index_upsert` / `index_deactivate` (or their `_many` forms for a batch)
whenever a record's identity or activity changes, inside their own transaction, so the index is
never ahead of or behind the record. `lock_identity` serialises any two writers whose
identities could match (the correctness condition is CONC-07: two identities that score at or
above the review threshold share at least one blocking key, and both lock every key they have);
a bulk writer takes `lock_for_bulk` instead, which excludes every other writer.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Q

from conflicts import sql
from conflicts.models import CandidateKey, IdentityEntry
from conflicts.normalize import NORMALIZER_VERSION, blocking_keys, blocking_keys_uncached
from conflicts.scoring import Identity
from prm.lib.time import timezone_now


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


# Held shared by every single-identity writer before its key locks, and exclusively by a bulk
# writer instead of them: a 100-row batch locking every key took ~3,000 advisory locks in one
# transaction and ran PostgreSQL's shared lock table out ("out of shared memory").
_BULK_LOCK_ID = _key_to_int64("conflicts:bulk-writer")


def lock_identity(identity: Identity) -> None:
    """Take the first-come-first-served lock for `identity` until the transaction ends.

    PostgreSQL: the bulk lock shared, then transaction-scoped advisory locks on every key, in a
    fixed order (no deadlock between two writers). SQLite: nothing to do, because every write
    transaction already took the database's write lock at BEGIN (transaction_mode=IMMEDIATE),
    which serialises writers.
    """
    if connection.vendor != "postgresql":
        return
    ids = sorted({_key_to_int64(k) for k in lock_keys(identity)})
    if ids:
        sql.lock_all(ids, shared=_BULK_LOCK_ID)


def lock_for_bulk() -> None:
    """Serialise a bulk writer against every other identity writer until the transaction ends:
    one exclusive lock that every lock_identity holds shared (PostgreSQL; SQLite serialises
    writers already). PostgreSQL also plans the batch's statements for their values
    (conflicts.sql.begin_bulk)."""
    if connection.vendor == "postgresql":
        sql.begin_bulk(_BULK_LOCK_ID)


def in_chunks(values: list[Any]) -> Iterable[list[Any]]:
    """`values` in slices a `__in` lookup can take: SQLite binds at most 999 parameters a
    statement; PostgreSQL takes the whole list in one."""
    size = 900 if connection.vendor == "sqlite" else max(len(values), 1)
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _adjust_frequencies(deltas: Counter[str]) -> None:
    """Apply per-key changes of the document frequency (two statements at most)."""
    changes = {key: delta for key, delta in deltas.items() if delta}
    if changes:
        sql.adjust_frequencies(changes)


@dataclass(frozen=True)
class IndexItem:
    """What the index stores for one record (index_upsert's arguments)."""

    kind: str
    record_id: int
    partner_id: int | None
    label: str
    identity: Identity
    name_raw: str
    product_lines: Iterable[str]
    active: bool
    since: dt.datetime
    active_until: dt.datetime | None = None

    def entry_fields(self) -> dict[str, Any]:
        lines = sorted(set(self.product_lines))
        identity = self.identity
        return {
            "partner_id": self.partner_id,
            "label": self.label[:300],
            "name_raw": self.name_raw[:300],
            "name_norm": identity.name[:300],
            "name_key": name_key(identity.name),
            "domain": identity.domain,
            "email_domain": identity.email_domain,
            "country": identity.country,
            "location": identity.location[:100],
            "normalizer_version": NORMALIZER_VERSION,
            "product_lines": ("|" + "|".join(lines) + "|") if lines else "",
            "active": self.active,
            "active_until": self.active_until,
            "since": self.since,
        }

    def keys(self) -> set[str]:
        if not (self.active and self.identity.name):
            return set()
        return blocking_keys_uncached(self.identity.name)


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
    item = IndexItem(
        kind=kind,
        record_id=record_id,
        partner_id=partner_id,
        label=label,
        identity=identity,
        name_raw=name_raw,
        product_lines=tuple(product_lines),
        active=active,
        since=since,
        active_until=active_until,
    )
    return index_upsert_many([item])[0]


def index_upsert_many(items: Iterable[IndexItem]) -> list[IdentityEntry]:
    """index_upsert for many records in a fixed number of statements (a CRM pull's batch):
    entries created in bulk, changed ones updated in bulk (unchanged ones not written), their
    blocking keys diffed and the key frequencies adjusted once per batch. Entries in the order
    of `items` (the last item of a record wins)."""
    by_record = {(item.kind, item.record_id): item for item in items}
    if not by_record:
        return []
    entries: dict[tuple[str, int], IdentityEntry] = {}
    for kind in sorted({kind for kind, _ in by_record}):
        ids = [record_id for k, record_id in by_record if k == kind]
        for entry in IdentityEntry.objects.filter(kind=kind, record_id__in=ids):
            entries[(kind, entry.record_id)] = entry
    existing_ids = [entry.pk for entry in entries.values()]
    created: list[IdentityEntry] = []
    changed: list[IdentityEntry] = []
    columns: list[str] = []
    now = timezone_now()
    for record, item in by_record.items():
        fields = item.entry_fields()
        columns = list(fields)
        found = entries.get(record)
        if found is None:
            entries[record] = IdentityEntry(kind=item.kind, record_id=item.record_id, **fields)
            created.append(entries[record])
        elif any(getattr(found, name) != value for name, value in fields.items()):
            for name, value in fields.items():
                setattr(found, name, value)
            found.updated_at = now
            changed.append(found)
    if created:
        IdentityEntry.objects.bulk_create(created)
    if changed:
        IdentityEntry.objects.bulk_update(changed, [*columns, "updated_at"])
    # The blocking keys: diffed against what the existing entries carry.
    held: dict[int, dict[str, int]] = {}
    if existing_ids:
        postings = CandidateKey.objects.filter(entry_id__in=existing_ids)
        for posting_id, entry_id, key in postings.values_list("id", "entry_id", "key"):
            held.setdefault(entry_id, {})[key] = posting_id
    removed: list[int] = []
    added: list[CandidateKey] = []
    deltas: Counter[str] = Counter()
    for record, item in by_record.items():
        entry = entries[record]
        have = held.get(entry.pk, {})
        wanted = item.keys()
        for key in sorted(set(have) - wanted):
            removed.append(have[key])
            deltas[key] -= 1
        for key in sorted(wanted - set(have)):
            added.append(CandidateKey(key=key, entry=entry))
            deltas[key] += 1
    for chunk in in_chunks(removed):
        CandidateKey.objects.filter(id__in=chunk).delete()
    if added:
        CandidateKey.objects.bulk_create(added)
    _adjust_frequencies(deltas)
    return [entries[record] for record in by_record]


def index_deactivate(*, kind: str, record_id: int) -> None:
    """The record no longer protects its customer: drop its keys, keep the entry for history."""
    index_deactivate_many(kind=kind, record_ids=[record_id])


def index_deactivate_many(*, kind: str, record_ids: Iterable[int]) -> None:
    """index_deactivate for many records of one kind in a fixed number of statements."""
    record_ids = sorted(set(record_ids))
    if not record_ids:
        return
    entries = list(
        IdentityEntry.objects.filter(kind=kind, record_id__in=record_ids).values_list(
            "id", "active"
        )
    )
    if not entries:
        return
    entry_ids = [entry_id for entry_id, _ in entries]
    postings = CandidateKey.objects.filter(entry_id__in=entry_ids)
    deltas: Counter[str] = Counter()
    for key in postings.values_list("key", flat=True):
        deltas[key] -= 1
    if deltas:
        postings.delete()
        _adjust_frequencies(deltas)
    still_active = [entry_id for entry_id, active in entries if active]
    if still_active:
        IdentityEntry.objects.filter(pk__in=still_active).update(active=False)


def index_remove(*, kind: str, record_id: int) -> None:
    index_deactivate(kind=kind, record_id=record_id)
    IdentityEntry.objects.filter(kind=kind, record_id=record_id).delete()


def active_filter(now: dt.datetime) -> Q:
    return Q(active=True) & (Q(active_until__isnull=True) | Q(active_until__gt=now))
