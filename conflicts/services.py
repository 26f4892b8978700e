"""Writes on conflict rows. The registration side of a resolution is a deals service."""

from __future__ import annotations

from collections.abc import Iterable

from conflicts.engine import Match
from conflicts.models import Conflict, IgnoredPair, RecordKind, touching
from prm.exceptions import InvalidTransition, StateConflict
from prm.lib.time import timezone_now


def conflicts_record(
    *,
    registration_id: int,
    registration_partner_id: int | None,
    matches: Iterable[Match],
    policy_version: int | None,
) -> list[Conflict]:
    """One Conflict per (registration, other record); re-running a check never duplicates.

    Two queries whatever the number of matches: one INSERT that skips pairs already recorded
    (the unique constraint on registration, kind and other record), one read of the rows."""
    matches = list(matches)
    if not matches:
        return []
    Conflict.objects.bulk_create(
        [
            Conflict(
                registration_id=registration_id,
                kind=match.kind,
                other_id=match.record_id,
                registration_partner_id=registration_partner_id,
                other_partner_id=match.partner_id,
                other_label=match.label,
                score=match.score,
                reasons=list(match.reasons),
                severity=match.severity,
                policy_version=policy_version,
            )
            for match in matches
        ],
        ignore_conflicts=True,
    )
    wanted = {(match.kind, match.record_id) for match in matches}
    rows = Conflict.objects.filter(
        registration_id=registration_id, other_id__in={m.record_id for m in matches}
    )
    by_key = {(c.kind, c.other_id): c for c in rows if (c.kind, c.other_id) in wanted}
    return [by_key[(match.kind, match.record_id)] for match in matches]


def conflict_mark_resolved(
    *, conflict: Conflict, resolution: str, actor_id: int | None, note: str = ""
) -> Conflict:
    """Compare-and-set open → resolved; a second resolver, or a conflict that closed because
    it became moot, gets InvalidTransition (409 `invalid_transition`)."""
    if resolution not in Conflict.Resolution.values:
        raise StateConflict("Unknown resolution.")
    now = timezone_now()
    changed = Conflict.objects.filter(pk=conflict.pk, status=Conflict.Status.OPEN).update(
        status=Conflict.Status.RESOLVED,
        resolution=resolution,
        resolution_note=note,
        resolved_by_id=actor_id,
        resolved_at=now,
    )
    if not changed:
        current = Conflict.objects.filter(pk=conflict.pk).values_list("status", flat=True).first()
        if current == Conflict.Status.CLOSED:
            raise InvalidTransition(
                "This conflict is closed: a registration it links is no longer active."
            )
        raise InvalidTransition("This conflict is already resolved.")
    conflict.refresh_from_db()
    if resolution == Conflict.Resolution.NOT_A_CONFLICT:
        IgnoredPair.objects.get_or_create(
            kind_a=RecordKind.REGISTRATION,
            id_a=conflict.registration_id,
            kind_b=conflict.kind,
            id_b=conflict.other_id,
        )
    return conflict


def conflicts_close_moot(*, registration_id: int) -> list[Conflict]:
    """A registration left the active states: its open conflicts, on either side, are moot.
    Compare-and-set open → closed; returns the rows it closed (for their events)."""
    rows = list(
        Conflict.objects.filter(
            touching(RecordKind.REGISTRATION, registration_id), status=Conflict.Status.OPEN
        ).order_by("id")
    )
    if not rows:
        return []
    closed_ids = [c.pk for c in rows]
    now = timezone_now()
    Conflict.objects.filter(pk__in=closed_ids, status=Conflict.Status.OPEN).update(
        status=Conflict.Status.CLOSED, resolved_at=now
    )
    return list(Conflict.objects.filter(pk__in=closed_ids, status=Conflict.Status.CLOSED))
