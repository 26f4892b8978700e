"""CRM connections, their field maps, the registrations they hold, runs and failed records."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from prm.lib.fields import UpdatedAtField
from prm.lib.time import timezone_now

# The direct-opportunity fields a CRM record is mapped onto (deals.opportunities.services).
TARGET_FIELDS = (
    ("external_id", "External id (the CRM id by default)"),
    ("account_name", "Account name"),
    ("account_domain", "Website / domain"),
    ("country", "Country (ISO 3166 code or name)"),
    ("owner_email", "Owner e-mail"),
    ("products", "Products (codes, ';' or ',' separated)"),
    ("amount", "Amount"),
    ("currency", "Currency (ISO 4217)"),
    ("stage", "Stage"),
    ("close_date", "Close date"),
    ("status", "Open / won / lost"),
)


class Vendor(models.TextChoices):
    SALESFORCE = "salesforce", "Salesforce"
    HUBSPOT = "hubspot", "HubSpot"


class AuthMethod(models.TextChoices):
    SF_WEB_SERVER = "sf_oauth", "Salesforce OAuth 2.0 web-server flow (refresh token)"
    SF_JWT = "sf_jwt", "Salesforce OAuth 2.0 JWT bearer (server to server)"
    HS_PRIVATE_APP = "hs_private_app", "HubSpot private-app token"
    HS_OAUTH = "hs_oauth", "HubSpot OAuth (refresh token)"


class PushObject(models.TextChoices):
    LEAD = "Lead", "Salesforce Lead"
    OPPORTUNITY = "Opportunity", "Salesforce Opportunity"
    DEAL = "deal", "HubSpot deal"


class ConnectionStatus(models.TextChoices):
    NEW = "new", "Not connected yet"
    CONNECTED = "connected", "Connected"
    RECONNECT = "reconnect", "Reconnect needed"


class CrmConnection(models.Model):
    name = models.CharField(max_length=100, unique=True)
    vendor = models.CharField(max_length=12, choices=Vendor.choices)
    auth_method = models.CharField(max_length=20, choices=AuthMethod.choices)
    # Salesforce: the login host (https://login.salesforce.com, https://test.salesforce.com, or
    # a My Domain). HubSpot: the API host (https://api.hubapi.com).
    auth_url = models.URLField(max_length=300)
    client_id = models.CharField(
        max_length=300, blank=True, help_text="OAuth client id / consumer key (not secret)."
    )
    username = models.CharField(
        max_length=254, blank=True, help_text="Salesforce JWT bearer: the integration user."
    )
    # Fernet token of a JSON dict (client_secret, refresh_token, private_key, access_token,
    # token): write-only in the admin, never logged (integrations.crm.credentials).
    credentials = models.TextField(blank=True, editable=False)
    instance_url = models.URLField(max_length=300, blank=True, editable=False)
    status = models.CharField(
        max_length=12, choices=ConnectionStatus.choices, default=ConnectionStatus.NEW
    )
    status_message = models.CharField(max_length=500, blank=True)
    active = models.BooleanField(default=True, help_text="Off: no pull and no push.")
    pull_enabled = models.BooleanField(default=True)
    push_enabled = models.BooleanField(default=True)
    push_object = models.CharField(
        max_length=20, choices=PushObject.choices, help_text="What a registration becomes."
    )
    pull_every_minutes = models.PositiveIntegerField(default=15)
    id_prefix = models.CharField(
        max_length=20,
        blank=True,
        help_text="Put before the CRM id to make the opportunity's external id (e.g. 'sf:').",
    )
    api_version = models.CharField(max_length=10, default="59.0", blank=True)
    # Incremental pull: the last stored change (modification time, then CRM id for ties) and
    # the end of the last deletion window read.
    watermark_at = models.DateTimeField(null=True, blank=True)
    watermark_id = models.CharField(max_length=40, blank=True)
    deleted_watermark_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    # The connector's own service user (an integration user with a manager's reach): the actor
    # of everything the sync does, so the events say "the CRM did it".
    service_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone_now, editable=False, blank=True)
    updated_at = UpdatedAtField()

    class Meta:
        ordering = ["name"]
        verbose_name = "CRM connection"

    def __str__(self) -> str:
        return f"{self.name} ({self.get_vendor_display()})"

    @property
    def beat_name(self) -> str:
        return f"crm-pull-{self.pk}"


class CrmFieldMap(models.Model):
    """One target field of the direct opportunity and where it comes from in the CRM record.

    `source` is a CRM field name (Salesforce relationship paths such as `Account.Name` work);
    `value_map` translates values (e.g. {"Closed Won": "won"} for the status, CRM product names
    to product codes); `default` is used when the CRM value is empty."""

    connection = models.ForeignKey(CrmConnection, on_delete=models.CASCADE, related_name="fields")
    target = models.CharField(max_length=20, choices=TARGET_FIELDS)
    source = models.CharField(max_length=200, blank=True)
    value_map = models.JSONField(default=dict, blank=True)
    default = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["connection", "id"]
        verbose_name = "field mapping"
        constraints = [
            models.UniqueConstraint(fields=["connection", "target"], name="crm_field_once")
        ]

    def __str__(self) -> str:
        return f"{self.target} ← {self.source or self.default!r}"


class CrmLink(models.Model):
    """A registration's record in one CRM (what a push created), and whether the CRM closed it."""

    connection = models.ForeignKey(CrmConnection, on_delete=models.CASCADE, related_name="links")
    registration = models.ForeignKey(
        "deals.DealRegistration", on_delete=models.CASCADE, related_name="+"
    )
    object_type = models.CharField(max_length=20)
    crm_id = models.CharField(max_length=40)
    last_pushed_at = models.DateTimeField(null=True, blank=True)
    last_pushed_status = models.CharField(max_length=20, blank=True)
    closed_by_crm_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone_now, editable=False, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "CRM link"
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "registration"], name="crm_link_once_per_registration"
            )
        ]
        indexes = [models.Index(fields=["connection", "crm_id"], name="crm_link_crm_id")]

    def __str__(self) -> str:
        return f"{self.object_type} {self.crm_id}"


class CrmPush(models.Model):
    """Outbox row: registration `registration` changed (event `event_id`) and `connection` must
    hear of it. Written in the event's transaction; pushed after commit; drained periodically."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    connection = models.ForeignKey(CrmConnection, on_delete=models.CASCADE, related_name="pushes")
    registration = models.ForeignKey(
        "deals.DealRegistration", on_delete=models.CASCADE, related_name="+"
    )
    event_id = models.BigIntegerField()
    action = models.CharField(max_length=30)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone_now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone_now, editable=False, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "CRM push"
        constraints = [
            models.UniqueConstraint(fields=["connection", "event_id"], name="crm_push_once")
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="crm_push_due")]

    def __str__(self) -> str:
        return f"{self.action} #{self.registration_id} → {self.connection_id} ({self.status})"


class SyncRun(models.Model):
    class Kind(models.TextChoices):
        PULL = "pull", "Pull"
        PUSH = "push", "Push"
        RETRY = "retry", "Retry"

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        PARTIAL = "partial", "Succeeded with failed records"
        FAILED = "failed", "Failed"

    connection = models.ForeignKey(CrmConnection, on_delete=models.CASCADE, related_name="runs")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField(default=timezone_now)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    fetched = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    deleted = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    closed = models.PositiveIntegerField(
        default=0, help_text="Registrations closed because their CRM record closed."
    )
    pushed = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    watermark_before = models.DateTimeField(null=True, blank=True)
    watermark_after = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = "sync run"
        indexes = [models.Index(fields=["connection", "-started_at"], name="crm_run_recent")]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.status})"


class RecordError(models.Model):
    """One CRM record (pull) or registration (push) that a run could not store; retried from
    the admin (or by the next push drain for pushes)."""

    class Direction(models.TextChoices):
        PULL = "pull", "Pull"
        PUSH = "push", "Push"

    run = models.ForeignKey(SyncRun, on_delete=models.CASCADE, related_name="errors")
    connection = models.ForeignKey(
        CrmConnection, on_delete=models.CASCADE, related_name="record_errors"
    )
    direction = models.CharField(max_length=5, choices=Direction.choices)
    crm_id = models.CharField(max_length=40, blank=True)
    registration = models.ForeignKey(
        "deals.DealRegistration", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    message = models.TextField()
    record = models.JSONField(default=dict, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    retries = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone_now, editable=False, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "failed record"
        indexes = [
            models.Index(fields=["connection", "resolved_at"], name="crm_error_open"),
        ]

    def __str__(self) -> str:
        return f"{self.direction} {self.crm_id or self.registration_id}: {self.message[:60]}"
