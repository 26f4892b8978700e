"""The identity index and conflict records. This app never imports deals or partners: an
entry says which record it stands for by kind + id, and which partner owns it by id."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import models
from django.db.models import Q

from prm.lib.fields import UpdatedAtField
from prm.lib.time import timezone_now


class RecordKind(models.TextChoices):
    REGISTRATION = "registration", "Partner registration"
    DIRECT_OPPORTUNITY = "direct_opportunity", "Direct opportunity"


class IdentityEntry(models.Model):
    """One customer identity in the index: a registration or a direct opportunity.

    `active_until` lets approved registrations and recently won direct deals stop protecting
    by themselves, without a write at the moment they lapse.
    """

    kind = models.CharField(max_length=20, choices=RecordKind.choices)
    record_id = models.BigIntegerField()
    partner_id = models.BigIntegerField(null=True, blank=True)
    label = models.CharField(max_length=300)
    name_raw = models.CharField(max_length=300)
    name_norm = models.CharField(max_length=300)
    # B-tree only (docs/matching.md, "The index"): with a trigram index on the same column the
    # planner chose it for `=` lookups, about 100x slower.
    name_key = models.CharField(max_length=300, db_index=True)
    domain = models.CharField(max_length=253, blank=True, db_index=True)
    email_domain = models.CharField(max_length=253, blank=True, db_index=True)
    country = models.CharField(max_length=2, blank=True)
    # A location split off the name ("…, Utrecht, NL", conflicts.normalize.name_location):
    # supports a match, never decides one.
    location = models.CharField(max_length=100, blank=True, default="", db_default="")
    # conflicts.normalize.NORMALIZER_VERSION the entry's name, keys and location were built
    # with; after a migration, entries of another version are rebuilt (deals.apps).
    normalizer_version = models.PositiveSmallIntegerField(default=0, db_default=0)
    product_lines = models.CharField(
        max_length=500, blank=True, help_text="Product line codes, |-separated and |-wrapped."
    )
    active = models.BooleanField(default=True)
    active_until = models.DateTimeField(null=True, blank=True)
    since = models.DateTimeField(help_text="When the record started to protect (FCFS order).")
    updated_at = UpdatedAtField()

    class Meta:
        verbose_name_plural = "identity entries"
        constraints = [
            models.UniqueConstraint(fields=["kind", "record_id"], name="identity_entry_record"),
        ]
        indexes = [models.Index(fields=["active", "kind"], name="identity_active_kind")]

    def __str__(self) -> str:
        return f"{self.kind}#{self.record_id} {self.label}"

    @property
    def lines(self) -> set[str]:
        return {p for p in self.product_lines.split("|") if p}


class CandidateKey(models.Model):
    """A blocking key of an entry's name. (key, entry) is the posting list."""

    key = models.CharField(max_length=200)
    entry = models.ForeignKey(IdentityEntry, on_delete=models.CASCADE, related_name="keys")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["key", "entry"], name="candidate_key_entry"),
        ]

    def __str__(self) -> str:
        return self.key


class KeyFrequency(models.Model):
    """How many entries carry a key (df), kept in the same transaction as the key rows."""

    key = models.CharField(max_length=200, primary_key=True)
    df = models.IntegerField(default=0)

    class Meta:
        verbose_name_plural = "key frequencies"

    def __str__(self) -> str:
        return f"{self.key} ({self.df})"


class Conflict(models.Model):
    """A collision between a registration and another record (registration or opportunity).

    For two registrations, `registration_id` is the later one and `other_id` the earlier one;
    the conflict belongs to both records (`touching`)."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"
        # Moot: a registration on either side left the active states (rejected, withdrawn,
        # expired, revoked, closed); it can no longer be resolved.
        CLOSED = "closed", "Closed"

    class Resolution(models.TextChoices):
        FIRST_REGISTRATION_WINS = "first_registration_wins", "First registration wins"
        PARTNER_WINS = "partner_wins", "Partner wins"
        DIRECT_WINS = "direct_wins", "Direct wins"
        CO_SELL = "co_sell", "Co-sell"
        NOT_A_CONFLICT = "not_a_conflict", "Not a conflict"
        DUPLICATE = "duplicate", "Duplicate"

    registration_id = models.BigIntegerField(db_index=True)
    registration_partner_id = models.BigIntegerField(null=True, blank=True)
    kind = models.CharField(max_length=20, choices=RecordKind.choices)
    other_id = models.BigIntegerField()
    other_partner_id = models.BigIntegerField(null=True, blank=True)
    other_label = models.CharField(max_length=300)
    score = models.PositiveSmallIntegerField()
    reasons = models.JSONField(default=list)
    severity = models.CharField(max_length=20, default="conflict")
    policy_version = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    resolution = models.CharField(max_length=30, choices=Resolution.choices, blank=True)
    resolution_note = models.TextField(blank=True)
    resolved_by_id = models.BigIntegerField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone_now, editable=False, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["registration_id", "kind", "other_id"], name="conflict_pair_unique"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["open", "resolved", "closed"]),
                name="conflict_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(score__gte=0) & Q(score__lte=100), name="conflict_score_range"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "-created_at"], name="conflict_status_created"),
            # The other side of a registration-to-registration conflict (conflicts on both
            # records: the earlier registration finds its conflicts by other_id).
            models.Index(fields=["other_id", "kind"], name="conflict_other"),
        ]

    def __str__(self) -> str:
        return f"Conflict #{self.pk} reg {self.registration_id} vs {self.kind} {self.other_id}"


def touching(kind: str, record_id: int) -> Q:
    """Conflicts that involve the record on either side."""
    if kind == RecordKind.REGISTRATION:
        return Q(registration_id=record_id) | Q(kind=RecordKind.REGISTRATION, other_id=record_id)
    return Q(kind=kind, other_id=record_id)


def touching_any(registration_ids: Iterable[int]) -> Q:
    """Conflicts that involve any of the registrations on either side."""
    ids = list(registration_ids)
    return Q(registration_id__in=ids) | Q(kind=RecordKind.REGISTRATION, other_id__in=ids)


class IgnoredPair(models.Model):
    """A pair a manager resolved as not_a_conflict: it never flags again."""

    kind_a = models.CharField(max_length=20, choices=RecordKind.choices)
    id_a = models.BigIntegerField()
    kind_b = models.CharField(max_length=20, choices=RecordKind.choices)
    id_b = models.BigIntegerField()
    created_at = models.DateTimeField(default=timezone_now, editable=False, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["kind_a", "id_a", "kind_b", "id_b"], name="ignored_pair_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind_a}#{self.id_a} ≠ {self.kind_b}#{self.id_b}"
