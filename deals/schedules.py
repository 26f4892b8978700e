"""Default periodic schedules as django-celery-beat rows (editable in the admin).

`manage.py setup_schedules` calls `schedules_ensure_defaults()`; it is idempotent: existing
rows are left as an administrator edited them, except the drain's interval, which follows
NOTIFICATION_DRAIN_SECONDS. Exactly one beat process must run
(`celery -A prm beat`); every job is safe to run twice at once anyway.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction

DRAIN = "notifications-drain"
EXPIRE = "registrations-expire"
REMINDERS = "reminders-send"
SLA = "sla-escalate"
ROLLUP = "report-cells-compact"


def _defaults() -> list[dict]:
    return [
        {
            "name": DRAIN,
            "task": "deals.tasks.notifications_drain",
            "every": settings.NOTIFICATION_DRAIN_SECONDS,  # seconds; 60 by default
            "description": "Deliver pending notifications; re-drive ones stuck in sending.",
        },
        {
            "name": "webhooks-drain",
            "task": "integrations.tasks.webhooks_drain",
            "every": settings.NOTIFICATION_DRAIN_SECONDS,
            "description": "Send due webhook deliveries and retries; re-drive stuck ones.",
        },
        {
            "name": "crm-push-drain",
            "task": "integrations.tasks.crm_push_drain",
            "crontab": {"minute": "*"},  # * * * * *  every minute
            "description": "Push registration changes to the connected CRMs that a broker or "
            "CRM outage left pending (each CRM connection's pull has its own job, crm-pull-<id>).",
        },
        {
            "name": EXPIRE,
            "task": "deals.tasks.registrations_expire",
            "crontab": {"minute": "*/5"},  # */5 * * * *  every 5 minutes
            "description": "Expire approved registrations whose protection has ended.",
        },
        {
            "name": REMINDERS,
            "task": "deals.tasks.reminders_send",
            "crontab": {"minute": "7"},  # 7 * * * *  hourly, at minute 7
            "description": "Expiry reminders at the policy's reminder days.",
        },
        {
            "name": SLA,
            "task": "deals.tasks.sla_escalate",
            "crontab": {"minute": "*/15"},  # */15 * * * *  every 15 minutes
            "description": "Escalate reviews past their SLA (business days), once per breach.",
        },
        {
            "name": ROLLUP,
            "task": "deals.tasks.report_cells_compact",
            "crontab": {"minute": "*/10"},  # */10 * * * *  every 10 minutes
            "description": "Fold the report rollup's deltas into one row per key (speed only: "
            "reports are exact either way).",
        },
    ]


def schedules_ensure_defaults() -> int:
    """Create the default PeriodicTasks that do not exist yet; returns how many were created."""
    from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

    created = 0
    with transaction.atomic():
        for spec in _defaults():
            schedule: dict = {}
            if "every" in spec:
                interval, _ = IntervalSchedule.objects.get_or_create(
                    every=max(1, int(spec["every"])), period=IntervalSchedule.SECONDS
                )
                schedule["interval"] = interval
            else:
                cron, _ = CrontabSchedule.objects.get_or_create(
                    minute=spec["crontab"]["minute"],
                    hour="*",
                    day_of_week="*",
                    day_of_month="*",
                    month_of_year="*",
                    timezone="UTC",
                )
                schedule["crontab"] = cron
            task, was_created = PeriodicTask.objects.get_or_create(
                name=spec["name"],
                defaults={"task": spec["task"], "description": spec["description"], **schedule},
            )
            created += int(was_created)
            if not was_created and spec["name"] == DRAIN and task.interval != schedule["interval"]:
                # The drain period is configuration (NOTIFICATION_DRAIN_SECONDS): re-synced on
                # every run so an environment change takes effect; "enabled" is left alone.
                task.interval = schedule["interval"]
                task.crontab = None
                task.save(update_fields=["interval", "crontab"])
    return created
