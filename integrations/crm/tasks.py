"""Celery tasks of the CRM connectors (thin; each calls one idempotent service)."""

from __future__ import annotations

from celery import shared_task

from integrations.crm.push import crm_push_task
from prm.lib.publish import Publisher

__all__ = [
    "crm_pull_task",
    "crm_push_drain_task",
    "crm_push_task",
    "crm_retry_records_task",
]


@shared_task(name="integrations.tasks.crm_pull", acks_late=True)
def crm_pull_task(connection_id: int) -> int | None:
    """The beat job of one connection (and "Sync now"): one incremental pull. Safe twice at
    once (the second finds the first running and returns)."""
    from integrations.crm.pull import crm_pull

    run = crm_pull(connection_id)
    return run.pk if run else None


@shared_task(name="integrations.tasks.crm_push_drain", acks_late=True)
def crm_push_drain_task() -> int:
    """Periodic: re-drive pushes a broker or CRM outage left pending."""
    from integrations.crm.push import crm_push_drain_all

    return crm_push_drain_all()


@shared_task(name="integrations.tasks.crm_retry_records", acks_late=True)
def crm_retry_records_task(error_ids: list[int]) -> int | None:
    from integrations.crm.pull import record_errors_retry

    run = record_errors_retry(error_ids)
    return run.pk if run else None


# "Sync now" and "Retry" from the admin: queued after commit, never failing the request when
# the broker is down (the beat job pulls anyway).
pull_publisher = Publisher(crm_pull_task, "CRM pull(s)")
