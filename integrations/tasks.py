"""Celery tasks of the integrations app (thin, idempotent: deliveries are claimed by
compare-and-set)."""

from __future__ import annotations

from celery import shared_task

from integrations.crm.tasks import (
    crm_pull_task,
    crm_push_drain_task,
    crm_push_task,
    crm_retry_records_task,
)
from integrations.delivery import webhook_deliver_task as webhook_deliver

__all__ = [
    "crm_pull_task",
    "crm_push_drain_task",
    "crm_push_task",
    "crm_retry_records_task",
    "webhook_deliver",
]


@shared_task(name="integrations.tasks.webhooks_drain", acks_late=True)
def webhooks_drain() -> dict:
    from integrations.delivery import webhooks_drain as drain

    return drain()
