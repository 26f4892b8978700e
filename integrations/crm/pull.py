"""The pull: CRM changes since the watermark -> direct opportunities (through deals' own
services, so the conflict engine sees every change), deletions, and closing the loop on
registrations whose linked CRM record closed.

The watermark only moves past what was stored: each page is written (one transaction per
page) before the watermark moves to its last record, so a crash or an outage mid-run loses
nothing and a rerun writes the same rows again (upserts by external id: idempotent). A record
that cannot be stored (a mapping error, a refused value) becomes a failed record with its
reasons and its raw data, retried from the admin; it does not hold the others back."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from django.db import transaction

from deals.catalog import active_catalogue
from deals.models import DealRegistration, DirectOpportunity
from deals.opportunities.services import (
    opportunities_bulk_upsert,
    opportunity_delete,
    opportunity_upsert,
)
from deals.registrations.services import registration_close
from integrations.crm.clients import CrmAuthError, CrmClient, CrmRecord, CrmUnavailable
from integrations.crm.credentials import CredentialsUnreadable
from integrations.crm.mapping import record_map, source_fields
from integrations.crm.models import (
    CrmConnection,
    CrmFieldMap,
    CrmLink,
    RecordError,
    SyncRun,
)
from integrations.crm.services import connection_client, connection_mark
from prm.exceptions import DomainError
from prm.lib.time import timezone_now
from rewards.services import win_verify_from_crm, wins_verify_for_opportunities

logger = logging.getLogger("prm.crm")

# Opportunities written per transaction: each write locks its customer identity until commit
# (PostgreSQL's lock table is finite: max_locks_per_transaction), and a short transaction keeps
# the portal's submissions of the same customers waiting briefly.
STORE_BATCH = 100
# A run still "running" after this long is taken as crashed (the next pull may start).
RUN_STALE_AFTER_SECONDS = 3600


def run_start(connection: CrmConnection, kind: str) -> SyncRun | None:
    """A new run, unless one of this kind is already running for the connection (then None:
    two beat ticks never pull the same connection at once)."""
    with transaction.atomic():
        CrmConnection.objects.select_for_update().filter(pk=connection.pk).first()
        cutoff = timezone_now().timestamp() - RUN_STALE_AFTER_SECONDS
        busy = [
            r
            for r in SyncRun.objects.filter(
                connection=connection, kind=kind, status=SyncRun.Status.RUNNING
            )
            if r.started_at.timestamp() > cutoff
        ]
        if busy:
            return None
        SyncRun.objects.filter(
            connection=connection, kind=kind, status=SyncRun.Status.RUNNING
        ).update(status=SyncRun.Status.FAILED, error="Abandoned (the worker stopped).")
        return SyncRun.objects.create(
            connection=connection, kind=kind, watermark_before=connection.watermark_at
        )


def run_finish(run: SyncRun, started: float, *, error: str = "") -> SyncRun:
    run.finished_at = timezone_now()
    run.duration_ms = int((time.monotonic() - started) * 1000)
    if error:
        run.status = SyncRun.Status.FAILED
        run.error = error[:5000]
    else:
        run.status = SyncRun.Status.PARTIAL if run.failed else SyncRun.Status.SUCCEEDED
    run.save()
    return run


def _record_errors(
    run: SyncRun, connection: CrmConnection, failures: list[tuple[CrmRecord, str]]
) -> None:
    RecordError.objects.bulk_create(
        [
            RecordError(
                run=run,
                connection=connection,
                direction=RecordError.Direction.PULL,
                crm_id=record.crm_id,
                message=message[:2000],
                record={k: _jsonable(v) for k, v in record.data.items()},
            )
            for record, message in failures
        ]
    )
    run.failed += len(failures)


def _jsonable(value):
    return value if isinstance(value, str | int | float | bool | type(None)) else str(value)


def _describe(errors: dict) -> str:
    return "; ".join(f"{field}: {' '.join(messages)}" for field, messages in errors.items())


def _store(
    run: SyncRun,
    connection: CrmConnection,
    field_maps: list[CrmFieldMap],
    records: list[CrmRecord],
) -> None:
    """Write one page: close linked registrations, upsert the other records."""
    links = {
        link.crm_id: link
        for link in CrmLink.objects.filter(
            connection=connection, crm_id__in=[r.crm_id for r in records]
        ).select_related("registration")
    }
    failures: list[tuple[CrmRecord, str]] = []
    rows: dict[str, tuple[CrmRecord, dict]] = {}
    catalogue = active_catalogue()
    for record in records:
        data, errors = record_map(
            record, field_maps, id_prefix=connection.id_prefix, catalogue=catalogue
        )
        link = links.get(record.crm_id)
        if link is not None:
            # The registration's own record (our push): never a direct opportunity.
            try:
                _close_loop(run, connection, link, data)
            except DomainError as exc:
                failures.append(
                    (record, f"Closing {link.registration.reference}: {_domain_message(exc)}")
                )
            continue
        if errors:
            failures.append((record, _describe(errors)))
            continue
        rows[data["external_id"]] = (record, data)  # the latest version of a record wins
    values = list(rows.values())
    for start in range(0, len(values), STORE_BATCH):
        _upsert_batch(run, values[start : start + STORE_BATCH], failures)
    _verify_won(connection, [data for _, data in values if data.get("status") == "won"])
    if failures:
        _record_errors(run, connection, failures)
    failed_ids = {record.crm_id for record, _ in failures}
    stored = [r.crm_id for r in records if r.crm_id not in failed_ids]
    # A record that failed before and stored now: its failed record is resolved.
    RecordError.objects.filter(
        connection=connection,
        direction=RecordError.Direction.PULL,
        crm_id__in=stored,
        resolved_at__isnull=True,
    ).update(resolved_at=timezone_now())


def _upsert_batch(
    run: SyncRun, batch: list[tuple[CrmRecord, dict]], failures: list[tuple[CrmRecord, str]]
) -> None:
    """One transaction per batch through deals' bulk upsert; if it refuses the batch, row by
    row to find the culprits (each becomes a failed record)."""
    try:
        counts = opportunities_bulk_upsert(
            rows=[data for _, data in batch], actor=None, max_rows=len(batch)
        )
        run.created += counts["created"]
        run.updated += counts["updated"]
        return
    except DomainError:
        pass
    for record, data in batch:
        try:
            _, created = opportunity_upsert(data=data)
        except DomainError as exc:
            failures.append((record, _domain_message(exc)))
            continue
        if created:
            run.created += 1
        else:
            run.updated += 1


def _domain_message(exc: DomainError) -> str:
    fields = exc.fields or {}
    rows = exc.extra.get("rows") or {}
    detail = _describe(fields) if fields else "; ".join(_describe(e) for e in rows.values())
    return f"{exc}{': ' + detail if detail else ''}"


def _verify_won(connection: CrmConnection, rows: list[dict]) -> None:
    """Won direct opportunities verify the wins of co-sell / partner-led registrations."""
    if not rows:
        return
    wins_verify_for_opportunities(
        opportunities=DirectOpportunity.objects.filter(
            external_id__in=[r["external_id"] for r in rows]
        ),
        actor=connection.service_user,
    )


def _close_loop(run: SyncRun, connection: CrmConnection, link: CrmLink, data: dict) -> None:
    """The CRM closed the record of an approved registration: close it won (and verify the
    win: rewards) or lost, with the CRM's amount and date, by the connector's service user."""
    status = data.get("status")
    registration = DealRegistration.objects.get(pk=link.registration_id)
    if status not in ("won", "lost") or link.closed_by_crm_at is not None:
        return
    # The CRM's close date, unless it is still the planned one (a registration cannot close
    # in the future): then today.
    today = timezone_now().date()
    close_date = min(str(data.get("close_date") or today.isoformat()), today.isoformat())
    if status == "won" and registration.status in ("approved", "expired"):
        win_verify_from_crm(
            registration=registration,
            actor=connection.service_user,
            actual_value=data.get("amount"),
            close_date=close_date,
            external_id=f"{connection.name}:{link.crm_id}",
        )
    elif status == "lost" and registration.status == "approved":
        registration_close(
            registration=registration,
            actor=connection.service_user,
            outcome="lost",
            close_date=close_date,
            lost_reason=f"Closed lost in {connection.get_vendor_display()} ({link.crm_id}).",
        )
    else:
        return
    CrmLink.objects.filter(pk=link.pk).update(closed_by_crm_at=timezone_now())
    run.closed += 1


def _delete(run: SyncRun, connection: CrmConnection, crm_ids: Iterable[str]) -> None:
    external_ids = [connection.id_prefix + crm_id for crm_id in crm_ids]
    for opportunity in DirectOpportunity.objects.filter(external_id__in=external_ids):
        opportunity_delete(opportunity=opportunity, actor=connection.service_user)
        run.deleted += 1


def crm_pull(connection_id: int, *, client: CrmClient | None = None) -> SyncRun | None:
    """One incremental pull of a connection (the beat job, "Sync now"). Idempotent: a rerun
    after a crash stores the same changes again; never raises for CRM trouble (the run says
    what happened and the next run resumes at the watermark). Returns None when the
    connection is off or already being pulled."""
    connection = (
        CrmConnection.objects.select_related("service_user").filter(pk=connection_id).first()
    )
    if connection is None or not connection.active or not connection.pull_enabled:
        return None
    run = run_start(connection, SyncRun.Kind.PULL)
    if run is None:
        return None
    started = time.monotonic()
    run_started_at = run.started_at
    field_maps = list(connection.fields.all())
    try:
        client = client or connection_client(connection)
        pages = client.changed_pages(
            connection.watermark_at, connection.watermark_id, source_fields(field_maps)
        )
        for records in pages:
            if not records:
                continue
            run.fetched += len(records)
            _store(run, connection, field_maps, records)
            last = records[-1]
            connection.watermark_at, connection.watermark_id = last.modified_at, last.crm_id
            CrmConnection.objects.filter(pk=connection.pk).update(
                watermark_at=last.modified_at, watermark_id=last.crm_id
            )
            run.watermark_after = last.modified_at
            run.save()
        if connection.deleted_watermark_at is None:
            # First pull: nothing of ours was deleted before it; deletions count from now.
            covered = run_started_at
        else:
            crm_ids, covered = client.deleted_since(connection.deleted_watermark_at, run_started_at)
            _delete(run, connection, crm_ids)
        CrmConnection.objects.filter(pk=connection.pk).update(deleted_watermark_at=covered)
    except CrmAuthError as exc:
        connection_mark(connection, ok=False, auth_failed=True, message=str(exc))
        return run_finish(run, started, error=f"Reconnect needed: {exc}")
    except CredentialsUnreadable as exc:
        connection_mark(connection, ok=False, auth_failed=True, message=str(exc))
        return run_finish(run, started, error=str(exc))
    except CrmUnavailable as exc:
        connection_mark(connection, ok=False, auth_failed=False, message=str(exc))
        return run_finish(run, started, error=f"CRM unavailable: {exc}")
    except Exception as exc:  # a bug or a database error: the run says so, the next run resumes
        logger.exception("CRM pull %s failed", connection.pk)
        connection_mark(connection, ok=False, auth_failed=False, message=str(exc)[:300])
        return run_finish(run, started, error=f"{type(exc).__name__}: {exc}")
    connection_mark(connection, ok=True, auth_failed=False, message="")
    return run_finish(run, started)


def record_errors_retry(error_ids: list[int], *, client: CrmClient | None = None) -> SyncRun | None:
    """Retry failed pull records: read each again from the CRM and store it (one run per
    connection). A record the CRM no longer has is resolved; one that fails again is resolved
    in favour of a new failed record (this run's) with the new reason."""
    errors = list(
        RecordError.objects.filter(
            pk__in=error_ids, direction=RecordError.Direction.PULL, resolved_at__isnull=True
        ).select_related("connection", "connection__service_user")
    )
    if not errors:
        return None
    connection = errors[0].connection
    errors = [e for e in errors if e.connection_id == connection.pk]
    run = SyncRun.objects.create(connection=connection, kind=SyncRun.Kind.RETRY)
    started = time.monotonic()
    field_maps = list(connection.fields.all())
    try:
        client = client or connection_client(connection)
        records = {
            r.crm_id: r for r in client.read([e.crm_id for e in errors], source_fields(field_maps))
        }
        run.fetched = len(records)
        for error in errors:
            record = records.get(error.crm_id)
            if record is not None:
                _store(run, connection, field_maps, [record])
            RecordError.objects.filter(pk=error.pk).update(
                resolved_at=timezone_now(), retries=error.retries + 1
            )
    except (CrmAuthError, CrmUnavailable, CredentialsUnreadable) as exc:
        return run_finish(run, started, error=str(exc))
    return run_finish(run, started)
