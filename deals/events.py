"""Events: the append-only, hash-chained record of every change (`event_record`, which also
writes the event's notifications into the outbox in the same transaction), verifying the
chains (`events_verify_chain`, `events_verify_all`), and the audit export.

Audit export: a registration's full event chain with its hash-chain verification, as
dispute evidence (JSON and CSV). Managers only (deals/web/audit.py checks the role; the
registration is fetched through deals.access, so scoping rules are the usual ones).

Each event's `hash` is SHA-256 over `canonical` (RegistrationEvent.content_for_hash: sorted-key,
compact JSON of the event including the previous event's hash), so anyone holding the export
can recompute every link without access to Dealbridge.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

from django.dispatch import Signal

from deals.models import DealRegistration, RegistrationEvent
from deals.notifications.outbox import notifications_for_event
from prm.lib.time import timezone_now

HASH_ALGORITHM = (
    "sha256(canonical), canonical = JSON with sorted keys and no spaces of "
    "{chain, seq, registration, at, actor, actor_label, action, from, to, details, internal, "
    "policy_version, prev}; prev = hash of the previous event in the chain ('' for the first)"
)
EVENT_COLUMNS = [
    "seq",
    "at",
    "actor_id",
    "actor_label",
    "action",
    "from_status",
    "to_status",
    "internal",
    "policy_version",
    "details",
    "prev_hash",
    "hash",
]
# ASVS 1.2.10: a cell starting with one of these is prefixed with ' so spreadsheets don't run it.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\0")


def chain_of(registration: DealRegistration) -> str:
    return f"r:{registration.pk}"


def _event_row(event: RegistrationEvent) -> dict:
    return {
        "seq": event.seq,
        "at": event.at.isoformat(),
        "actor_id": event.actor_id,
        "actor_label": event.actor_label,
        "action": event.action,
        "from_status": event.from_status,
        "to_status": event.to_status,
        "internal": event.internal,
        "policy_version": event.policy_version,
        "details": event.details,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
        "canonical": event.content_for_hash(),
    }


def registration_audit(registration: DealRegistration) -> dict:
    """The whole chain of `registration` plus the verification result."""
    chain = chain_of(registration)
    events = list(RegistrationEvent.objects.filter(chain=chain).order_by("seq"))
    problems = events_verify_chain(chain)
    return {
        "registration": {
            "id": registration.pk,
            "reference": registration.reference,
            "partner_id": registration.partner_id,
            "partner": str(registration.partner),
            "customer_name": registration.customer_name,
            "status": registration.status,
        },
        "chain": chain,
        "exported_at": dt.datetime.now(dt.UTC).isoformat(),
        "hash_algorithm": HASH_ALGORITHM,
        "verification": {
            "verified": not problems,
            "event_count": len(events),
            "head_hash": events[-1].hash if events else "",
            "problems": problems,
        },
        "events": [_event_row(event) for event in events],
    }


def audit_json(audit: dict) -> str:
    return json.dumps(audit, indent=2, sort_keys=False, default=str, ensure_ascii=False)


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, dict | list):
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    else:
        text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def audit_csv(audit: dict) -> str:
    """A key/value header block (registration, verification), a blank row, then one row per
    event with its hashes."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    registration = audit["registration"]
    verification = audit["verification"]
    for key, value in (
        ("registration_id", registration["id"]),
        ("reference", registration["reference"]),
        ("partner", registration["partner"]),
        ("customer_name", registration["customer_name"]),
        ("status", registration["status"]),
        ("chain", audit["chain"]),
        ("exported_at", audit["exported_at"]),
        ("chain_verified", verification["verified"]),
        ("event_count", verification["event_count"]),
        ("head_hash", verification["head_hash"]),
        ("problems", "; ".join(verification["problems"])),
        ("hash_algorithm", audit["hash_algorithm"]),
    ):
        writer.writerow([key, _cell(value)])
    writer.writerow([])
    writer.writerow(EVENT_COLUMNS)
    for event in audit["events"]:
        writer.writerow([_cell(event[column]) for column in EVENT_COLUMNS])
    return out.getvalue()


# --- Events -------------------------------------------------------------------------------------

# Sent inside the transaction that records an event (kwargs: event), after its notifications:
# apps above deals (integrations: webhooks) write their own side effects in the same
# transaction without deals importing them.
event_recorded = Signal()


def _actor_label(actor) -> str:
    return actor.email if actor is not None else "system"


def event_record(
    *,
    chain: str,
    registration: DealRegistration | None,
    actor,
    action: str,
    from_status: str = "",
    to_status: str = "",
    details: dict | None = None,
    internal: bool = False,
    policy_version: int | None = None,
    notify: bool = True,
) -> RegistrationEvent:
    """Append one event to `chain`, hashed over its content and the previous event's hash.

    Callers hold the registration's row lock (CAS update or select_for_update), so two events
    of one chain are never written at once; the unique (chain, seq) backs that up.
    """
    last = (
        RegistrationEvent.objects.filter(chain=chain).order_by("-seq").values("seq", "hash").first()
    )
    event = RegistrationEvent(
        chain=chain,
        seq=(last["seq"] + 1) if last else 1,
        registration=registration,
        at=timezone_now(),
        actor=actor,
        actor_label=_actor_label(actor),
        action=action,
        from_status=from_status,
        to_status=to_status,
        details=details or {},
        internal=internal,
        policy_version=policy_version,
        prev_hash=last["hash"] if last else "",
    )
    event.hash = event.compute_hash()
    event.save()
    if notify:
        notifications_for_event(event)
    event_recorded.send(sender=RegistrationEvent, event=event)
    return event


def _registration_event(registration, actor, action, **kwargs) -> RegistrationEvent:
    return event_record(
        chain=f"r:{registration.pk}",
        registration=registration,
        actor=actor,
        action=action,
        **kwargs,
    )


def events_verify_chain(chain: str) -> list[str]:
    """Problems found in one chain (empty when it verifies)."""
    problems = []
    previous_hash = ""
    expected_seq = 1
    for event in RegistrationEvent.objects.filter(chain=chain).order_by("seq"):
        if event.seq != expected_seq:
            problems.append(f"{chain}: event seq {event.seq} where {expected_seq} was expected")
        if event.prev_hash != previous_hash:
            problems.append(f"{chain}#{event.seq}: previous-hash link broken")
        if event.compute_hash() != event.hash:
            problems.append(f"{chain}#{event.seq}: content does not match its hash")
        previous_hash = event.hash
        expected_seq = event.seq + 1
    return problems


def events_verify_all() -> tuple[int, list[str]]:
    chains = RegistrationEvent.objects.order_by("chain").values_list("chain", flat=True).distinct()
    problems: list[str] = []
    count = 0
    for chain in chains.iterator():
        count += 1
        problems.extend(events_verify_chain(chain))
    return count, problems
