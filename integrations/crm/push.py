"""The push: each submitted, decided, revoked or closed registration creates or updates its
record in every pushing CRM (a Salesforce Lead or Opportunity, or a HubSpot deal, per
connection) with the partner as the source; the CRM id is kept in a CrmLink.

An outbox row (CrmPush) is written in the transaction that records the event (deals'
`event_recorded` signal, the webhooks' path), the connection's push drain is kicked after
commit, and a periodic drain re-drives what a broker outage or a CRM outage left: a portal
request never waits for a CRM. A push always sends the registration's current state, so
several pending rows of one registration collapse into one call."""

from __future__ import annotations

import datetime as dt
import logging
import time

from celery import shared_task
from django.db import transaction

from deals.models import DealRegistration, EventAction, RegistrationEvent
from integrations.crm.clients import CrmAuthError, CrmUnavailable, RecordRejected
from integrations.crm.credentials import CredentialsUnreadable
from integrations.crm.models import (
    CrmConnection,
    CrmLink,
    CrmPush,
    PushObject,
    RecordError,
    SyncRun,
)
from integrations.crm.pull import run_finish
from integrations.crm.services import connection_client, connection_mark, push_connection_ids
from prm.lib.publish import Publisher
from prm.lib.time import timezone_now

logger = logging.getLogger("prm.crm")

PUSHED_ACTIONS = frozenset(
    {
        EventAction.SUBMITTED,
        EventAction.RESUBMITTED,
        EventAction.APPROVED,
        EventAction.AUTO_APPROVED,
        EventAction.REJECTED,
        EventAction.REVOKED,
        EventAction.WITHDRAWN,
        EventAction.EXPIRED,
        EventAction.CLOSED_WON,
        EventAction.CLOSED_LOST,
    }
)
# Seconds before a push is tried again after a CRM outage: 1, 5, 15, 60 min, then hourly.
RETRY_SCHEDULE = (60, 300, 900, 3600)
STUCK_AFTER = dt.timedelta(minutes=10)

SF_STAGES = {
    "won": "Closed Won",
    "lost": "Closed Lost",
    "rejected": "Closed Lost",
    "revoked": "Closed Lost",
    "withdrawn": "Closed Lost",
    "expired": "Closed Lost",
    "approved": "Qualification",
}
HS_STAGES = {
    "won": "closedwon",
    "lost": "closedlost",
    "rejected": "closedlost",
    "revoked": "closedlost",
    "withdrawn": "closedlost",
    "expired": "closedlost",
    "approved": "qualifiedtobuy",
}


def on_event_recorded(sender, event: RegistrationEvent, **kwargs) -> None:
    """deals.events.event_recorded: one outbox row per pushing connection (same transaction)."""
    if event.action not in PUSHED_ACTIONS or event.registration_id is None:
        return
    connection_ids = push_connection_ids()
    if not connection_ids:
        return
    CrmPush.objects.bulk_create(
        [
            CrmPush(
                connection_id=pk,
                registration_id=event.registration_id,
                event_id=event.pk,
                action=event.action,
            )
            for pk in connection_ids
        ],
        ignore_conflicts=True,
    )
    transaction.on_commit(lambda: crm_push_publish(connection_ids))


def crm_push_publish(connection_ids: list[int]) -> None:
    """Kick each connection's push drain (never raises: the periodic drain catches up)."""
    _publisher.publish(connection_ids)


def _description(registration: DealRegistration) -> str:
    return (
        f"Partner deal registration {registration.reference or registration.pk} by "
        f"{registration.partner.name} (Dealbridge), status {registration.status}."
    )


def registration_values(registration: DealRegistration, object_type: str) -> dict:
    """The CRM record for a registration (partner as the source)."""
    close = registration.close_date or registration.expected_close_date
    amount = (
        registration.actual_value
        if registration.actual_value is not None
        else registration.estimated_value
    )
    if object_type == PushObject.LEAD:
        first, _, last = (registration.contact_name or "").rpartition(" ")
        return {
            "Company": registration.customer_name,
            "FirstName": first or None,
            "LastName": last or "(unknown)",
            "Email": registration.contact_email or None,
            "Website": registration.customer_domain or None,
            "Country": registration.customer_country,
            "LeadSource": "Partner",
            "Description": _description(registration),
        }
    if object_type == PushObject.OPPORTUNITY:
        return {
            "Name": f"{registration.customer_name} ({registration.reference or registration.pk})"[
                :120
            ],
            "StageName": SF_STAGES.get(registration.status, "Prospecting"),
            "CloseDate": close.isoformat() if close else None,
            "Amount": str(amount),
            "LeadSource": "Partner",
            "Description": _description(registration),
        }
    return {
        "dealname": f"{registration.customer_name} ({registration.reference or registration.pk})",
        "dealstage": HS_STAGES.get(registration.status, "appointmentscheduled"),
        "pipeline": "default",
        "closedate": close.isoformat() if close else "",
        "amount": str(amount),
        "deal_currency_code": registration.currency,
        "description": _description(registration),
    }


def _claim(connection: CrmConnection, limit: int) -> list[CrmPush]:
    now = timezone_now()
    CrmPush.objects.filter(
        connection=connection, status=CrmPush.Status.SENDING, claimed_at__lt=now - STUCK_AFTER
    ).update(status=CrmPush.Status.PENDING, claimed_at=None)
    ids = list(
        CrmPush.objects.filter(
            connection=connection, status=CrmPush.Status.PENDING, next_attempt_at__lte=now
        )
        .order_by("id")
        .values_list("id", flat=True)[:limit]
    )
    claimed = []
    for pk in ids:
        if CrmPush.objects.filter(pk=pk, status=CrmPush.Status.PENDING).update(
            status=CrmPush.Status.SENDING, claimed_at=now
        ):
            claimed.append(pk)
    return list(CrmPush.objects.filter(pk__in=claimed).order_by("id"))


def _release(rows: list[CrmPush], error: str) -> None:
    now = timezone_now()
    for row in rows:
        delay = RETRY_SCHEDULE[min(row.attempts, len(RETRY_SCHEDULE) - 1)]
        CrmPush.objects.filter(pk=row.pk).update(
            status=CrmPush.Status.PENDING,
            attempts=row.attempts + 1,
            claimed_at=None,
            last_error=error[:500],
            next_attempt_at=now + dt.timedelta(seconds=delay),
        )


def crm_push_drain(connection_id: int, *, limit: int = 200, client=None) -> SyncRun | None:
    """Push the connection's due outbox rows (one run). Idempotent: rows are claimed by
    compare-and-set, and a registration already linked is updated, never created twice."""
    connection = CrmConnection.objects.filter(pk=connection_id).first()
    if connection is None or not connection.active or not connection.push_enabled:
        return None
    rows = _claim(connection, limit)
    if not rows:
        return None
    run = SyncRun.objects.create(connection=connection, kind=SyncRun.Kind.PUSH)
    started = time.monotonic()
    by_registration: dict[int, list[CrmPush]] = {}
    for row in rows:
        by_registration.setdefault(row.registration_id, []).append(row)
    pending = list(by_registration.items())
    try:
        client = client or connection_client(connection)
        while pending:
            registration_id, group = pending[0]
            _push_one(run, connection, client, registration_id, group)
            pending.pop(0)
    except (CrmUnavailable, CrmAuthError, CredentialsUnreadable) as exc:
        _release([row for _, group in pending for row in group], str(exc))
        auth = not isinstance(exc, CrmUnavailable)
        connection_mark(connection, ok=False, auth_failed=auth, message=str(exc))
        return run_finish(run, started, error=str(exc))
    connection_mark(connection, ok=True, auth_failed=False, message="")
    return run_finish(run, started)


def _push_one(run, connection, client, registration_id: int, group: list[CrmPush]) -> None:
    registration = DealRegistration.objects.select_related("partner").get(pk=registration_id)
    link = CrmLink.objects.filter(connection=connection, registration_id=registration_id).first()
    object_type = link.object_type if link else connection.push_object
    values = registration_values(registration, object_type)
    run.fetched += 1
    try:
        crm_id = client.upsert(object_type, link.crm_id if link else None, values)
    except RecordRejected as exc:
        RecordError.objects.create(
            run=run,
            connection=connection,
            direction=RecordError.Direction.PUSH,
            registration=registration,
            crm_id=link.crm_id if link else "",
            message=str(exc),
            record=values,
        )
        run.failed += 1
        CrmPush.objects.filter(pk__in=[r.pk for r in group]).update(
            status=CrmPush.Status.FAILED, claimed_at=None, last_error=str(exc)[:500]
        )
        return
    now = timezone_now()
    if link is None:
        CrmLink.objects.create(
            connection=connection,
            registration=registration,
            object_type=object_type,
            crm_id=crm_id,
            last_pushed_at=now,
            last_pushed_status=registration.status,
        )
        run.created += 1
    else:
        CrmLink.objects.filter(pk=link.pk).update(
            last_pushed_at=now, last_pushed_status=registration.status
        )
        run.updated += 1
    run.pushed += 1
    CrmPush.objects.filter(pk__in=[r.pk for r in group]).update(
        status=CrmPush.Status.DONE, claimed_at=None, last_error=""
    )
    RecordError.objects.filter(
        connection=connection,
        direction=RecordError.Direction.PUSH,
        registration=registration,
        resolved_at__isnull=True,
    ).update(resolved_at=now)


def push_errors_retry(error_ids: list[int]) -> int:
    """Failed pushes go back to the outbox (the registration's latest push row) and the drain
    is kicked; returns how many registrations were re-queued."""
    errors = list(
        RecordError.objects.filter(
            pk__in=error_ids, direction=RecordError.Direction.PUSH, resolved_at__isnull=True
        )
    )
    count = 0
    for error in errors:
        row = (
            CrmPush.objects.filter(
                connection_id=error.connection_id, registration_id=error.registration_id
            )
            .order_by("-id")
            .first()
        )
        if row is None:
            continue
        CrmPush.objects.filter(pk=row.pk).update(
            status=CrmPush.Status.PENDING, next_attempt_at=timezone_now(), claimed_at=None
        )
        RecordError.objects.filter(pk=error.pk).update(retries=error.retries + 1)
        count += 1
    connection_ids = sorted({e.connection_id for e in errors})
    transaction.on_commit(lambda: crm_push_publish(connection_ids))
    return count


def crm_push_drain_all() -> int:
    """Periodic: drain every pushing connection (re-drives rows a broker outage left)."""
    drained = 0
    for pk in CrmConnection.objects.filter(active=True, push_enabled=True).values_list(
        "id", flat=True
    ):
        if crm_push_drain(pk) is not None:
            drained += 1
    return drained


@shared_task(name="integrations.tasks.crm_push", acks_late=True)
def crm_push_task(connection_id: int) -> int | None:
    """Push a connection's due outbox rows (claimed by compare-and-set: safe twice)."""
    run = crm_push_drain(connection_id)
    return run.pk if run else None


_publisher = Publisher(crm_push_task, "CRM push(es)")
