"""Connecting a CRM (credentials stored encrypted, the connector's service user, the field
map, the beat job), building its client, and the connection's state after each run."""

from __future__ import annotations

import json

from django.db import transaction

from integrations.crm import credentials
from integrations.crm.clients import CrmClient
from integrations.crm.mapping import mapping_defaults_create
from integrations.crm.models import (
    AuthMethod,
    ConnectionStatus,
    CrmConnection,
    Vendor,
)
from prm.lib import hotcache
from prm.lib.time import timezone_now

PUSH_CONNECTIONS_KEY = "prm:crm-push-connections"
# Which secrets each way of connecting needs (all stored encrypted, none ever shown again).
SECRET_NAMES = {
    AuthMethod.SF_WEB_SERVER: ("client_secret", "refresh_token"),
    AuthMethod.SF_JWT: ("private_key",),
    AuthMethod.HS_PRIVATE_APP: ("token",),
    AuthMethod.HS_OAUTH: ("client_secret", "refresh_token"),
}
VENDOR_OF = {
    AuthMethod.SF_WEB_SERVER: Vendor.SALESFORCE,
    AuthMethod.SF_JWT: Vendor.SALESFORCE,
    AuthMethod.HS_PRIVATE_APP: Vendor.HUBSPOT,
    AuthMethod.HS_OAUTH: Vendor.HUBSPOT,
}


def crm_connections_forget() -> None:
    hotcache.forget([PUSH_CONNECTIONS_KEY])


def push_connection_ids() -> list[int]:
    """Connections that push registrations (read on every recorded event: cached)."""
    return hotcache.read(
        PUSH_CONNECTIONS_KEY,
        lambda: list(
            CrmConnection.objects.filter(active=True, push_enabled=True)
            .exclude(status=ConnectionStatus.NEW)
            .values_list("id", flat=True)
        ),
    )


def _service_user(connection: CrmConnection):
    from partners.models import User

    return User.objects.create_user(
        email=f"crm-{connection.pk}-{connection.vendor}@integrations.invalid",
        password=None,
        name=f"{connection.get_vendor_display()} sync ({connection.name})"[:150],
        is_integration=True,
    )


def connection_prepare(connection: CrmConnection) -> CrmConnection:
    """After an administrator saved a connection: the service user, the default field map
    and the beat job exist (idempotent)."""
    with transaction.atomic():
        if connection.service_user_id is None:
            connection.service_user = _service_user(connection)
            connection.save(update_fields=["service_user"])
        mapping_defaults_create(connection)
        connection_schedule(connection)
        crm_connections_forget()
    return connection


def connection_set_secrets(connection: CrmConnection, secrets: dict) -> None:
    """Merge new secrets (empty values are ignored: the admin leaves a blank field alone),
    encrypt and store them; a connection with what its method needs becomes connected."""
    current = credentials.decrypt(connection.credentials) if connection.credentials else {}
    merged = {**current, **{k: v for k, v in secrets.items() if v}}
    # A new refresh token or key makes the old access token meaningless.
    if any(secrets.get(k) for k in ("refresh_token", "private_key", "token", "client_secret")):
        merged.pop("access_token", None)
    connection.credentials = credentials.encrypt(merged)
    needed = SECRET_NAMES[AuthMethod(connection.auth_method)]
    if all(merged.get(name) for name in needed):
        connection.status = ConnectionStatus.CONNECTED
        connection.status_message = ""
    connection.save(update_fields=["credentials", "status", "status_message", "updated_at"])
    crm_connections_forget()


def secrets_present(connection: CrmConnection) -> list[str]:
    """Names of the stored secrets (never their values), for the admin."""
    try:
        return sorted(credentials.decrypt(connection.credentials))
    except credentials.CredentialsUnreadable:
        return ["(unreadable: connect again)"]


def _token_saver(connection_id: int):
    def save(secrets: dict, instance_url: str) -> None:
        updates: dict = {"credentials": credentials.encrypt(secrets)}
        if instance_url:
            updates["instance_url"] = instance_url
        CrmConnection.objects.filter(pk=connection_id).update(**updates)

    return save


def connection_client(connection: CrmConnection) -> CrmClient:
    from integrations.crm.hubspot import HubSpotClient
    from integrations.crm.salesforce import SalesforceClient

    secrets = credentials.decrypt(connection.credentials)
    cls = SalesforceClient if connection.vendor == Vendor.SALESFORCE else HubSpotClient
    return cls(connection, secrets, _token_saver(connection.pk))


def connection_mark(connection: CrmConnection, *, ok: bool, auth_failed: bool, message: str):
    now = timezone_now()
    if ok:
        CrmConnection.objects.filter(pk=connection.pk).update(
            last_success_at=now, status=ConnectionStatus.CONNECTED, status_message=""
        )
    elif auth_failed:
        CrmConnection.objects.filter(pk=connection.pk).update(
            last_failure_at=now, status=ConnectionStatus.RECONNECT, status_message=message[:500]
        )
        crm_connections_forget()
    else:
        CrmConnection.objects.filter(pk=connection.pk).update(
            last_failure_at=now, status_message=message[:500]
        )


def connection_schedule(connection: CrmConnection):
    """The connection's beat job (django-celery-beat row `crm-pull-<id>`, editable in the
    admin): every `pull_every_minutes`, enabled while the connection is active and pulls."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    interval, _ = IntervalSchedule.objects.get_or_create(
        every=max(1, connection.pull_every_minutes), period=IntervalSchedule.MINUTES
    )
    task, _ = PeriodicTask.objects.update_or_create(
        name=connection.beat_name,
        defaults={
            "task": "integrations.tasks.crm_pull",
            "interval": interval,
            "crontab": None,
            "args": json.dumps([connection.pk]),
            "enabled": connection.active and connection.pull_enabled,
            "description": f"Incremental pull from {connection}.",
        },
    )
    return task


def connection_unschedule(connection: CrmConnection) -> None:
    """A deleted connection's beat job goes with it."""
    from django_celery_beat.models import PeriodicTask

    PeriodicTask.objects.filter(name=connection.beat_name).delete()


def connection_next_run(connection: CrmConnection):
    """When beat runs the pull next (None when disabled or not scheduled)."""
    from django_celery_beat.models import PeriodicTask

    task = (
        PeriodicTask.objects.filter(name=connection.beat_name, enabled=True)
        .select_related("interval")
        .first()
    )
    if task is None or task.interval is None:
        return None
    last = task.last_run_at or connection.created_at
    return last + task.interval.schedule.run_every


def crm_link_url(link) -> str:
    """Where a manager opens the registration's CRM record ('' when unknown)."""
    connection = link.connection
    if connection.vendor == Vendor.SALESFORCE and connection.instance_url:
        return f"{connection.instance_url.rstrip('/')}/lightning/r/{link.object_type}/{link.crm_id}/view"
    if connection.vendor == Vendor.HUBSPOT:
        host = connection.auth_url.rstrip("/")
        if "api.hubapi.com" in host:
            return f"https://app.hubspot.com/contacts/_/record/0-3/{link.crm_id}"
        return f"{host}/contacts/_/record/0-3/{link.crm_id}"
    return ""
