"""Input and output serializers of the deals API. Inputs parse and type-check only (the rules
live in the services); outputs are plain read-only shapes. The partner representation of a
registration is an allow-list (PARTNER_REGISTRATION_FIELDS, ISO-06): manager-only keys are
removed, never just left empty."""

from __future__ import annotations

from dataclasses import dataclass

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from conflicts.models import Conflict, RecordKind
from deals.models import (
    BenefitKind,
    ConflictStatus,
    CustomFieldType,
    ExtensionStatus,
    OpportunityStatus,
    Outcome,
    RegistrationStatus,
    RejectionReason,
    Stage,
)
from deals.registrations.validation import PARTNER_EDITABLE_FIELDS
from prm.api import OptionalKeysSerializer, PartnerRefSerializer, StrictInputSerializer

MONEY = {"max_digits": 14, "decimal_places": 2}


def product_codes(obj) -> list[str]:
    return [p.code for p in obj.products.all()]


# --- Products -----------------------------------------------------------------------------------


class ProductSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    product_line = serializers.CharField(source="product_line.code")
    product_line_name = serializers.CharField(source="product_line.name")
    active = serializers.BooleanField()


class ProductInputSerializer(StrictInputSerializer):
    code = serializers.SlugField(max_length=40)
    name = serializers.CharField(max_length=120)
    product_line = serializers.SlugField(
        max_length=40, help_text="Product line code; created when it does not exist."
    )
    product_line_name = serializers.CharField(max_length=100, required=False, allow_blank=True)


class BlankAsNullField(serializers.CharField):
    """A text value that is absent answers null (docs/api.md: unset values are null)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("allow_null", True)
        kwargs.setdefault("allow_blank", True)
        super().__init__(**kwargs)

    def to_representation(self, value):
        return value or None


# --- Registrations ------------------------------------------------------------------------------


CUSTOM_VALUE_SCHEMA = {
    "oneOf": [
        {"type": "string"},
        {"type": "number"},
        {"type": "boolean"},
        {"type": "array", "items": {"type": "string"}},
    ]
}


@extend_schema_field(
    {"type": "object", "additionalProperties": CUSTOM_VALUE_SCHEMA},
)
class CustomValuesField(serializers.DictField):
    """`{"<key>": value}`: text, choice and date (`YYYY-MM-DD`) as strings, numbers, yes/no as
    booleans, multi-choice as a list of strings. Checked by the service (unknown key, wrong
    type, value outside the choices → 400 under `custom.<key>`)."""

    def __init__(self, **kwargs):
        # null (on input) clears a value.
        kwargs.setdefault("child", serializers.JSONField(allow_null=True))
        super().__init__(**kwargs)


class RegistrationConflictSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=RecordKind.choices)
    other_id = serializers.IntegerField()
    other_label = serializers.CharField()
    score = serializers.IntegerField()
    reasons = serializers.ListField(child=serializers.CharField())
    status = serializers.ChoiceField(choices=Conflict.Status.choices)
    resolution = BlankAsNullField()


PARTNER_REGISTRATION_FIELDS = (
    "id",
    "reference",
    "status",
    "conflict_status",
    "conflict_message",
    "partner",
    "submitted_by",
    "owner",
    *PARTNER_EDITABLE_FIELDS,
    "submitted_at",
    "decided_at",
    "approved_at",
    "expires_at",
    "revoked_at",
    "extensions_used",
    "rejection_reason",
    "decision_note",
    "outcome",
    "actual_value",
    "close_date",
    "lost_reason",
    "created_at",
    "updated_at",
    "benefit",
    "win_verified_at",
)
MANAGER_REGISTRATION_FIELDS = (
    "conflicts",
    "overdue",
    "sla_due_at",
    "co_sell",
    "decided_by",
    "win_late",
    "approval",
)


class BenefitSerializer(serializers.Serializer):
    """The registered-deal benefit frozen at approval, with the policy version it came from."""

    kind = serializers.ChoiceField(choices=BenefitKind.choices)
    value = serializers.DecimalField(
        **MONEY, help_text="A percentage for discount_percent and percent_of_won, else money."
    )
    currency = serializers.CharField(allow_null=True, help_text="ISO 4217 for fixed, else null.")
    policy_version = serializers.IntegerField()


def benefit_representation(registration) -> dict | None:
    if not registration.benefit_kind:
        return None
    return {
        "kind": registration.benefit_kind,
        "value": _money(registration.benefit_value),
        "currency": registration.benefit_currency or None,
        "policy_version": registration.benefit_policy_version,
    }


class OwnerSerializer(serializers.Serializer):
    """The registration's partner-side owner (the submitter unless reassigned)."""

    id = serializers.IntegerField()
    email = serializers.EmailField()
    name = serializers.CharField(allow_blank=True)


def owner_representation(user) -> dict | None:
    if user is None:
        return None
    return {"id": user.id, "email": _text(user.email), "name": _text(user.name or "")}


class ApprovalSerializer(serializers.Serializer):
    """Approval routing (managers only): the step awaited (1 of 1, 1 of 2, 2 of 2) and who
    reviews it (a manager's id, a team's id, or both null: unassigned)."""

    step = serializers.IntegerField()
    steps = serializers.IntegerField()
    assigned_manager_id = serializers.IntegerField(allow_null=True)
    assigned_team_id = serializers.IntegerField(allow_null=True)


def approval_representation(registration) -> dict:
    return {
        "step": registration.approval_step,
        "steps": registration.approval_steps,
        "assigned_manager_id": registration.assigned_manager_id,
        "assigned_team_id": registration.assigned_team_id,
    }


class RegistrationSerializer(OptionalKeysSerializer):
    """A deal registration. `conflicts`, `overdue`, `sla_due_at`, `co_sell` and `decided_by`
    are present for managers only. Context: `manager` (bool) and, for managers, `conflicts`
    ({registration id: [Conflict]}) fetched once per page."""

    optional_keys = MANAGER_REGISTRATION_FIELDS

    id = serializers.IntegerField()
    reference = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=RegistrationStatus.choices)
    conflict_status = serializers.ChoiceField(
        choices=ConflictStatus.choices, allow_null=True, help_text="null for drafts."
    )
    conflict_message = serializers.CharField(allow_blank=True)
    partner = PartnerRefSerializer()
    submitted_by = serializers.EmailField(source="submitted_by.email")
    owner = serializers.SerializerMethodField(
        help_text="The partner-side owner: the submitter unless reassigned."
    )
    customer_name = serializers.CharField()
    customer_domain = serializers.CharField(allow_blank=True)
    customer_country = serializers.CharField()
    customer_address = serializers.CharField(allow_blank=True)
    contact_name = serializers.CharField(allow_blank=True)
    contact_email = serializers.CharField(allow_blank=True)
    contact_phone = serializers.CharField(allow_blank=True)
    products = serializers.SerializerMethodField()
    estimated_value = serializers.DecimalField(**MONEY)
    currency = serializers.CharField()
    expected_close_date = serializers.DateField()
    stage = serializers.ChoiceField(choices=Stage.choices)
    description = serializers.CharField(allow_blank=True)
    competitors = serializers.CharField(allow_blank=True)
    custom = CustomValuesField(
        help_text="Custom field values by key (GET /api/v1/registration-fields/)."
    )
    submitted_at = serializers.DateTimeField(allow_null=True)
    decided_at = serializers.DateTimeField(allow_null=True)
    approved_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(
        allow_null=True,
        help_text="When a manager revoked the protection (reason in rejection_reason).",
    )
    extensions_used = serializers.IntegerField()
    rejection_reason = BlankAsNullField()
    decision_note = serializers.CharField(allow_blank=True)
    outcome = serializers.ChoiceField(choices=Outcome.choices, allow_null=True)
    actual_value = serializers.DecimalField(**MONEY, allow_null=True)
    close_date = serializers.DateField(allow_null=True)
    lost_reason = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    benefit = serializers.SerializerMethodField(
        help_text="The registered-deal benefit frozen at approval; null when none applies."
    )
    win_verified_at = serializers.DateTimeField(
        allow_null=True,
        help_text="When a manager or the CRM's closed-won verified the win (null until then).",
    )
    # Managers only (not required in the schema; absent for partners).
    conflicts = serializers.SerializerMethodField(required=False)
    overdue = serializers.SerializerMethodField(required=False)
    sla_due_at = serializers.DateTimeField(allow_null=True, required=False)
    co_sell = serializers.BooleanField(required=False)
    decided_by = serializers.SerializerMethodField(required=False)
    win_late = serializers.BooleanField(
        required=False, help_text="Reported won after the protection lapsed (for review)."
    )
    approval = serializers.SerializerMethodField(
        required=False, help_text="Approval step and assignee (issue 17 §4)."
    )

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_products(self, obj) -> list[str]:
        return product_codes(obj)

    @extend_schema_field(OwnerSerializer())
    def get_owner(self, obj):
        return owner_representation(obj.owner)

    @extend_schema_field(BenefitSerializer(allow_null=True))
    def get_benefit(self, obj):
        return benefit_representation(obj)

    @extend_schema_field(RegistrationConflictSerializer(many=True))
    def get_conflicts(self, obj):
        conflicts = (self.context.get("conflicts") or {}).get(obj.pk, [])
        return RegistrationConflictSerializer(conflicts, many=True).data

    @extend_schema_field(serializers.BooleanField())
    def get_overdue(self, obj) -> bool:
        return obj.is_overdue

    @extend_schema_field(ApprovalSerializer())
    def get_approval(self, obj):
        return approval_representation(obj)

    @extend_schema_field(serializers.EmailField(allow_null=True))
    def get_decided_by(self, obj):
        return obj.decided_by.email if obj.decided_by_id and obj.decided_by else None

    def to_representation(self, instance):
        manager = self.context.get("manager", False)
        if not manager:
            # Never evaluate manager-only fields for partners.
            fields = self.fields
            for name in MANAGER_REGISTRATION_FIELDS:
                fields.pop(name, None)
        data = super().to_representation(instance)
        if not manager:
            data = {key: data[key] for key in PARTNER_REGISTRATION_FIELDS if key in data}
        return data


# --- The registration representation without DRF's field machinery ------------------------------
#
# RegistrationSerializer documents the shape (drf-spectacular) and is the reference;
# registration_representation() builds the same dict, key for key, value for value, for the hot
# paths (detail, list, transitions): a serializer instance deep-copies ~40 field objects and
# walks them per call, which was a quarter of a detail GET. Dates, datetimes and money are
# formatted by DRF's own field objects (created once here), so their formats cannot drift; the
# equality is tested in tests/api/test_hot_paths.py.

_MONEY_FORMAT = serializers.DecimalField(**MONEY, allow_null=True)
_DATETIME_FORMAT = serializers.DateTimeField(allow_null=True)
_DATE_FORMAT = serializers.DateField(allow_null=True)


def _datetime(value):
    return None if value is None else _DATETIME_FORMAT.to_representation(value)


def _date(value):
    return None if value is None else _DATE_FORMAT.to_representation(value)


def _money(value):
    return None if value is None else _MONEY_FORMAT.to_representation(value)


def _text(value):
    return None if value is None else str(value)


def _conflict_representation(conflict) -> dict:
    return {
        "id": conflict.id,
        "kind": conflict.kind,
        "other_id": conflict.other_id,
        "other_label": _text(conflict.other_label),
        "score": conflict.score,
        "reasons": [None if reason is None else str(reason) for reason in conflict.reasons],
        "status": conflict.status,
        "resolution": conflict.resolution or None,
    }


@dataclass(frozen=True)
class ConflictView:
    """A conflict as seen from the earlier registration of a pair (the later one is `other`)."""

    id: int
    kind: str
    other_id: int
    other_label: str
    score: int
    reasons: list
    severity: str
    status: str
    resolution: str


def registration_representation(
    registration,
    *,
    manager: bool = False,
    conflicts: list | None = None,
    products: list[str] | None = None,
    conflict_status: str | None = None,
) -> dict:
    """RegistrationSerializer's output for one registration, built directly. `conflicts`: the
    registration's Conflict rows (managers only), already ordered; `products`: its product
    codes in the serializer's order when the caller fetched them (else read from the
    relation)."""
    r = registration
    partner = r.partner
    submitted_by = r.submitted_by
    data = {
        "id": r.id,
        "reference": _text(r.reference),
        "status": r.status,
        "conflict_status": r.conflict_status,
        "conflict_message": _text(r.conflict_message),
        "partner": None if partner is None else {"id": partner.id, "name": _text(partner.name)},
        "submitted_by": None if submitted_by is None else _text(submitted_by.email),
        "owner": owner_representation(r.owner),
        "customer_name": _text(r.customer_name),
        "customer_domain": _text(r.customer_domain),
        "customer_country": _text(r.customer_country),
        "customer_address": _text(r.customer_address),
        "contact_name": _text(r.contact_name),
        "contact_email": _text(r.contact_email),
        "contact_phone": _text(r.contact_phone),
        "products": product_codes(r) if products is None else list(products),
        "estimated_value": _money(r.estimated_value),
        "currency": _text(r.currency),
        "expected_close_date": _date(r.expected_close_date),
        "stage": r.stage,
        "description": _text(r.description),
        "competitors": _text(r.competitors),
        "custom": dict(r.custom or {}),
        "submitted_at": _datetime(r.submitted_at),
        "decided_at": _datetime(r.decided_at),
        "approved_at": _datetime(r.approved_at),
        "expires_at": _datetime(r.expires_at),
        "revoked_at": _datetime(r.revoked_at),
        "extensions_used": r.extensions_used,
        "rejection_reason": r.rejection_reason or None,
        "decision_note": _text(r.decision_note),
        "outcome": r.outcome,
        "actual_value": _money(r.actual_value),
        "close_date": _date(r.close_date),
        "lost_reason": _text(r.lost_reason),
        "created_at": _datetime(r.created_at),
        "updated_at": _datetime(r.updated_at),
        "benefit": benefit_representation(r),
        "win_verified_at": _datetime(r.win_verified_at),
    }
    if manager:
        # Managers: the worst open conflict on either side (the earlier registration too).
        if conflict_status is not None:
            data["conflict_status"] = conflict_status
        data["conflicts"] = [_conflict_representation(c) for c in conflicts or ()]
        data["overdue"] = r.is_overdue
        data["sla_due_at"] = _datetime(r.sla_due_at)
        data["co_sell"] = r.co_sell
        data["decided_by"] = r.decided_by.email if r.decided_by_id and r.decided_by else None
        data["win_late"] = r.win_late
        data["approval"] = approval_representation(r)
    return data


class RegistrationInputSerializer(StrictInputSerializer):
    customer_name = serializers.CharField(max_length=200)
    customer_domain = serializers.CharField(
        max_length=253, required=False, allow_blank=True, allow_null=True
    )
    customer_country = serializers.CharField(max_length=2, help_text="ISO 3166-1 alpha-2.")
    customer_address = serializers.CharField(
        max_length=500, required=False, allow_blank=True, allow_null=True
    )
    contact_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    contact_email = serializers.CharField(max_length=254, required=False, allow_blank=True)
    contact_phone = serializers.CharField(
        max_length=40, required=False, allow_blank=True, allow_null=True
    )
    products = serializers.ListField(
        child=serializers.CharField(max_length=40), max_length=50, required=False
    )
    estimated_value = serializers.DecimalField(**MONEY, min_value=0)
    currency = serializers.CharField(max_length=3, help_text="ISO 4217.")
    expected_close_date = serializers.DateField()
    stage = serializers.ChoiceField(choices=Stage.choices, required=False)
    description = serializers.CharField(
        max_length=5000, required=False, allow_blank=True, allow_null=True
    )
    competitors = serializers.CharField(
        max_length=500, required=False, allow_blank=True, allow_null=True
    )
    custom = CustomValuesField(
        required=False,
        help_text="Custom field values by key; on PATCH only the keys sent change (null "
        "clears one). Required custom fields are checked at submission.",
    )
    draft = serializers.BooleanField(
        required=False, default=False, help_text="true: keep as a draft (not submitted)."
    )


class RegistrationUpdateInputSerializer(RegistrationInputSerializer):
    draft = None


class ApproveInputSerializer(StrictInputSerializer):
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    protection_days = serializers.IntegerField(
        min_value=1, max_value=3650, required=False, allow_null=True
    )
    override_reason = serializers.CharField(
        max_length=2000,
        required=False,
        allow_blank=True,
        help_text="Approve over an open conflict with another partner's approved registration "
        "or an open direct opportunity (else 409 `unresolved_conflict`); recorded as an event.",
    )


class RevokeInputSerializer(StrictInputSerializer):
    reason = serializers.ChoiceField(choices=RejectionReason.choices)
    note = serializers.CharField(
        max_length=2000, required=False, allow_blank=True, help_text="Required for `other`."
    )


class RejectInputSerializer(StrictInputSerializer):
    reason = serializers.ChoiceField(choices=RejectionReason.choices)
    note = serializers.CharField(
        max_length=2000, required=False, allow_blank=True, help_text="Required for `other`."
    )


class RequestInfoInputSerializer(StrictInputSerializer):
    message = serializers.CharField(max_length=2000)


class CloseInputSerializer(StrictInputSerializer):
    outcome = serializers.ChoiceField(choices=Outcome.choices)
    close_date = serializers.DateField()
    actual_value = serializers.DecimalField(**MONEY, min_value=0, required=False, allow_null=True)
    lost_reason = serializers.CharField(max_length=500, required=False, allow_blank=True)


class EmptyInputSerializer(StrictInputSerializer):
    pass


# --- Extension requests, comments, history ----------------------------------------------------


class ExtensionRequestSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    registration_id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=ExtensionStatus.choices)
    reason = serializers.CharField()
    requested_by = serializers.EmailField(source="requested_by.email")
    created_at = serializers.DateTimeField()
    decided_at = serializers.DateTimeField(allow_null=True)
    decision_note = serializers.CharField(allow_blank=True)
    previous_expires_at = serializers.DateTimeField(allow_null=True)
    new_expires_at = serializers.DateTimeField(allow_null=True)


class ExtensionRequestInputSerializer(StrictInputSerializer):
    reason = serializers.CharField(max_length=2000)


class DecisionInputSerializer(StrictInputSerializer):
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True)


class CommentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    registration_id = serializers.IntegerField()
    author = serializers.EmailField(source="author.email")
    author_name = serializers.CharField(source="author.name", allow_blank=True)
    body = serializers.CharField()
    internal = serializers.BooleanField()
    created_at = serializers.DateTimeField()


class CommentInputSerializer(StrictInputSerializer):
    body = serializers.CharField(max_length=5000)
    internal = serializers.BooleanField(
        required=False, default=False, help_text="Managers only: a note partners never see."
    )


# Event detail keys a partner may see; everything else (conflict ids, matches, the other
# party) is dropped from their history.
PARTNER_EVENT_DETAIL_KEYS = frozenset(
    {
        "reference",
        "fields",
        "conflict_status",
        "protection_days",
        "expires_at",
        "note",
        "reason",
        "message",
        "actual_value",
        "close_date",
        "lost_reason",
        "extension_request",
        "comment",
        "activity",
        "kind",
        # Evidence: the file's id, name, size, type and hash (issue 17 §2).
        "attachment",
        "name",
        "size",
        "content_type",
        "sha256",
    }
)


class HistoryEntrySerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    actor = serializers.CharField(source="actor_label")
    action = serializers.CharField()
    from_status = BlankAsNullField()
    to_status = serializers.CharField(allow_blank=True)
    details = serializers.SerializerMethodField()

    @extend_schema_field(serializers.DictField())
    def get_details(self, event) -> dict:
        details = event.details if isinstance(event.details, dict) else {}
        if self.context.get("manager"):
            return details
        return {k: v for k, v in details.items() if k in PARTNER_EVENT_DETAIL_KEYS}


# --- Availability check -----------------------------------------------------------------------


class AvailabilityInputSerializer(StrictInputSerializer):
    customer_name = serializers.CharField(max_length=200)
    customer_domain = serializers.CharField(
        max_length=253, required=False, allow_blank=True, allow_null=True
    )
    customer_country = serializers.CharField(max_length=2)
    products = serializers.ListField(
        child=serializers.CharField(max_length=40), max_length=50, required=False
    )


class AvailabilityMatchSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=RecordKind.choices)
    id = serializers.IntegerField()
    label = serializers.CharField()
    score = serializers.IntegerField()
    reasons = serializers.ListField(child=serializers.CharField())


class AvailabilitySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=ConflictStatus.choices)
    available = serializers.BooleanField()
    message = serializers.CharField()
    matches = AvailabilityMatchSerializer(many=True, required=False, help_text="Managers only.")


# --- Conflicts ----------------------------------------------------------------------------------


class RecordSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=RecordKind.choices)
    label = serializers.CharField()
    status = serializers.CharField()
    partner = PartnerRefSerializer(allow_null=True)


class CoSellConfirmationSerializer(serializers.Serializer):
    by = serializers.EmailField()
    role = serializers.CharField()
    at = serializers.DateTimeField()


class CoSellSerializer(serializers.Serializer):
    lead = serializers.ChoiceField(choices=[("partner", "partner"), ("direct", "direct")])
    partner_credit_percent = serializers.IntegerField(min_value=0, max_value=100)
    rep_credit_percent = serializers.IntegerField(min_value=0, max_value=100)
    confirmations = CoSellConfirmationSerializer(many=True)


def co_sell_representation(agreement) -> dict | None:
    if agreement is None:
        return None
    return {
        "lead": agreement.lead,
        "partner_credit_percent": agreement.partner_credit_percent,
        "rep_credit_percent": agreement.rep_credit_percent,
        "confirmations": list(agreement.confirmations or []),
    }


class ConflictSerializer(serializers.Serializer):
    """Context: `records` {(kind, id): summary dict} and `co_sell` {conflict id: agreement},
    fetched once per page."""

    id = serializers.IntegerField()
    registration_id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=RecordKind.choices)
    other_id = serializers.IntegerField()
    other_label = serializers.CharField()
    score = serializers.IntegerField()
    severity = serializers.CharField()
    reasons = serializers.ListField(child=serializers.CharField())
    status = serializers.ChoiceField(choices=Conflict.Status.choices)
    resolution = BlankAsNullField()
    resolution_note = serializers.CharField(allow_blank=True)
    resolved_at = serializers.DateTimeField(allow_null=True)
    registration = serializers.SerializerMethodField()
    other = serializers.SerializerMethodField()
    co_sell = serializers.SerializerMethodField(
        help_text="The co-sell agreement of a conflict resolved as co_sell, else null."
    )
    created_at = serializers.DateTimeField()

    @extend_schema_field(RecordSummarySerializer(allow_null=True))
    def get_registration(self, conflict):
        return (self.context.get("records") or {}).get(
            (RecordKind.REGISTRATION, conflict.registration_id)
        )

    @extend_schema_field(RecordSummarySerializer(allow_null=True))
    def get_other(self, conflict):
        return (self.context.get("records") or {}).get((conflict.kind, conflict.other_id))

    @extend_schema_field(CoSellSerializer(allow_null=True))
    def get_co_sell(self, conflict):
        return co_sell_representation((self.context.get("co_sell") or {}).get(conflict.id))


class CoSellTermsInputSerializer(StrictInputSerializer):
    lead = serializers.ChoiceField(choices=[("partner", "partner"), ("direct", "direct")])
    partner_credit_percent = serializers.IntegerField(min_value=0, max_value=100, required=False)
    rep_credit_percent = serializers.IntegerField(min_value=0, max_value=100, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["lead"].required = False


class ConflictResolveInputSerializer(StrictInputSerializer):
    resolution = serializers.ChoiceField(choices=Conflict.Resolution.choices)
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    co_sell = CoSellTermsInputSerializer(
        required=False,
        help_text="Only with `co_sell`: who leads and the credits in percent (default 100 each).",
    )


class ConflictCoSellInputSerializer(StrictInputSerializer):
    action = serializers.ChoiceField(choices=[("propose", "propose"), ("accept", "accept")])
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True)


# --- Opportunities ------------------------------------------------------------------------------


class OpportunitySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    external_id = serializers.CharField()
    account_name = serializers.CharField()
    account_domain = serializers.CharField(allow_blank=True)
    country = serializers.CharField()
    owner_email = serializers.CharField(allow_blank=True)
    products = serializers.SerializerMethodField()
    amount = serializers.DecimalField(**MONEY)
    currency = serializers.CharField()
    stage = serializers.CharField(allow_blank=True)
    close_date = serializers.DateField(allow_null=True)
    status = serializers.ChoiceField(choices=OpportunityStatus.choices)
    won_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_products(self, obj) -> list[str]:
        return product_codes(obj)


class OpportunityInputSerializer(StrictInputSerializer):
    external_id = serializers.CharField(max_length=100)
    account_name = serializers.CharField(max_length=200)
    account_domain = serializers.CharField(max_length=253, required=False, allow_blank=True)
    country = serializers.CharField(max_length=2)
    owner_email = serializers.CharField(max_length=254, required=False, allow_blank=True)
    products = serializers.ListField(
        child=serializers.CharField(max_length=40), max_length=50, required=False
    )
    amount = serializers.DecimalField(**MONEY, min_value=0)
    currency = serializers.CharField(max_length=3)
    stage = serializers.CharField(max_length=60, required=False, allow_blank=True)
    close_date = serializers.DateField(required=False, allow_null=True)
    status = serializers.ChoiceField(choices=OpportunityStatus.choices, required=False)


class OpportunityBulkInputSerializer(StrictInputSerializer):
    opportunities = serializers.ListField(
        child=serializers.DictField(),
        help_text="Up to 1,000 rows, each shaped like OpportunityRequest; validated per row.",
    )


class OpportunityBulkResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()


class OpportunityImportInputSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text="UTF-8 CSV (BOM allowed), at most 5 MB, header row with the opportunity "
        "columns; `products` as a ;-separated list of codes."
    )


# --- Notifications ----------------------------------------------------------------------------


class NotificationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    title = serializers.CharField()
    body = serializers.CharField(allow_blank=True)
    url = serializers.CharField(allow_blank=True)
    registration_id = serializers.IntegerField(allow_null=True)
    read = serializers.SerializerMethodField()
    read_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()

    @extend_schema_field(serializers.BooleanField())
    def get_read(self, obj) -> bool:
        return obj.read_at is not None


class ReadAllResultSerializer(serializers.Serializer):
    updated = serializers.IntegerField()


# --- Custom registration fields -------------------------------------------------------------------


class RegistrationFieldSerializer(OptionalKeysSerializer):
    """A custom registration field. `tiers`, `auto_approve_values` are for managers only."""

    optional_keys = ("tiers", "auto_approve_values")

    key = serializers.CharField()
    label = serializers.CharField()
    type = serializers.ChoiceField(choices=CustomFieldType.choices)
    required = serializers.BooleanField(
        help_text="Required at submission (for a field with product_lines: only for deals "
        "with one of them)."
    )
    choices = serializers.ListField(
        child=serializers.CharField(), allow_null=True, help_text="null unless a choice type."
    )
    help = serializers.CharField(allow_blank=True)
    order = serializers.IntegerField()
    product_lines = serializers.ListField(
        child=serializers.CharField(), help_text="Product line codes; empty: every deal."
    )
    tiers = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="Tier codes; empty: all."
    )
    auto_approve_values = serializers.ListField(
        child=serializers.JSONField(),
        required=False,
        help_text="Auto-approve only registrations whose value is one of these.",
    )


def registration_field_representation(field, *, manager: bool) -> dict:
    """A field as GET /api/v1/registration-fields/ shows it, from a form snapshot
    (deals.customfields.FieldDef)."""
    data = {
        "key": field.key,
        "label": field.label,
        "type": field.type,
        "required": field.required,
        "choices": list(field.choices) if field.type in ("choice", "multi_choice") else None,
        "help": field.help,
        "order": field.order,
        "product_lines": list(field.product_line_codes),
    }
    if manager:
        data["tiers"] = list(field.tier_codes)
        data["auto_approve_values"] = list(field.auto_approve_values)
    return data


class RegistrationFieldInputSerializer(StrictInputSerializer):
    key = serializers.CharField(
        max_length=40, help_text="Lower-case letters, digits and _; starts with a letter."
    )
    label = serializers.CharField(max_length=100)
    type = serializers.ChoiceField(choices=CustomFieldType.choices)
    required = serializers.BooleanField(required=False, default=False)
    choices = serializers.ListField(
        child=serializers.CharField(max_length=200),
        max_length=100,
        required=False,
        allow_null=True,
        help_text="Required for choice and multi_choice; refused for other types.",
    )
    help = serializers.CharField(max_length=300, required=False, allow_blank=True)
    order = serializers.IntegerField(min_value=0, max_value=32767, required=False)
    tiers = serializers.ListField(
        child=serializers.CharField(max_length=40),
        max_length=50,
        required=False,
        help_text="Tier codes the field applies to; empty: every partner.",
    )
    product_lines = serializers.ListField(
        child=serializers.CharField(max_length=40),
        max_length=50,
        required=False,
        help_text="Product line codes; empty: every deal. Else required only for those deals.",
    )
    auto_approve_values = serializers.ListField(
        child=serializers.JSONField(),
        max_length=100,
        required=False,
        help_text="boolean and choice fields: auto-approve only with one of these values.",
    )


class RegistrationFieldUpdateInputSerializer(RegistrationFieldInputSerializer):
    """Every key optional; `key` and `type` never change."""

    key = None
    type = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = False
