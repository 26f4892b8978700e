"""Direct opportunities (the vendor's own pipeline): cleaning, upsert, bulk import, delete, and their entries in the conflict index."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction

from conflicts import engine
from conflicts import services as conflict_services
from conflicts.index import index_deactivate, index_upsert, lock_identity
from conflicts.models import Conflict, RecordKind
from conflicts.scoring import Identity
from deals.catalog import _clean_products
from deals.events import _registration_event, event_record
from deals.identity import _opportunity_identity, _product_lines
from deals.models import (
    DealRegistration,
    DirectOpportunity,
    EventAction,
    OpportunityStatus,
    RulesOfEngagement,
)
from deals.policy import _engine_policy, policy_current
from deals.registrations.services import _locked
from prm.exceptions import (
    ValidationFailed,
)
from prm.lib.time import timezone_now
from prm.lib.validation import (
    Errors,
    check_country,
    check_currency,
    check_date,
    check_domain,
    check_email,
    check_money,
    check_text,
)

# --- Direct opportunities -----------------------------------------------------------------------

OPPORTUNITY_FIELDS = (
    "external_id",
    "account_name",
    "account_domain",
    "country",
    "owner_email",
    "products",
    "amount",
    "currency",
    "stage",
    "close_date",
    "status",
)


def opportunity_clean(data: dict, *, partial: bool = False) -> tuple[dict, Errors]:
    """Validate one opportunity row (API, bulk, CSV and admin share this)."""
    errors = Errors()
    cleaned: dict[str, Any] = {}
    if not isinstance(data, dict):
        errors.add("non_field_errors", "Each row must be an object.")
        return cleaned, errors
    for name in sorted(set(data) - set(OPPORTUNITY_FIELDS)):
        errors.add(name, "Unknown field.")

    def present(name):
        return name in data or not partial

    if present("external_id"):
        cleaned["external_id"] = check_text(
            errors, "external_id", data.get("external_id"), 100, required=True
        )
    if present("account_name"):
        cleaned["account_name"] = check_text(
            errors, "account_name", data.get("account_name"), 200, required=True
        )
    if present("account_domain"):
        cleaned["account_domain"] = check_domain(
            errors, "account_domain", data.get("account_domain")
        )
    if present("country"):
        cleaned["country"] = check_country(errors, "country", data.get("country"))
    if present("owner_email"):
        cleaned["owner_email"] = check_email(errors, "owner_email", data.get("owner_email"))
    if present("amount"):
        cleaned["amount"] = check_money(errors, "amount", data.get("amount"))
    if present("currency"):
        cleaned["currency"] = check_currency(errors, "currency", data.get("currency"))
    if present("stage"):
        cleaned["stage"] = check_text(errors, "stage", data.get("stage"), 60)
    if present("close_date"):
        cleaned["close_date"] = check_date(
            errors, "close_date", data.get("close_date"), required=False
        )
    if present("status"):
        status = data.get("status") or OpportunityStatus.OPEN
        if status not in OpportunityStatus.values:
            errors.add("status", "Choose open, won or lost.")
        cleaned["status"] = status
    if present("products"):
        cleaned["products"] = _clean_products(errors, data.get("products") or [])
    return cleaned, errors


def _index_opportunity(opportunity: DirectOpportunity, policy: RulesOfEngagement) -> None:
    """Open opportunities protect; won ones protect for the policy's look-back; lost don't."""
    active_until = None
    active = opportunity.status == OpportunityStatus.OPEN
    if opportunity.status == OpportunityStatus.WON:
        won_at = opportunity.won_at or timezone_now()
        active_until = won_at + dt.timedelta(days=policy.direct_won_lookback_days)
        active = active_until > timezone_now()
    if not active:
        index_deactivate(kind=RecordKind.DIRECT_OPPORTUNITY, record_id=opportunity.pk)
        return
    index_upsert(
        kind=RecordKind.DIRECT_OPPORTUNITY,
        record_id=opportunity.pk,
        partner_id=None,
        label=f"{opportunity.external_id} · {opportunity.account_name}",
        identity=_opportunity_identity(opportunity),
        name_raw=opportunity.account_name,
        product_lines=_product_lines(opportunity.products.select_related("product_line")),
        active=True,
        since=opportunity.created_at,
        active_until=active_until,
    )
    # A CRM sync that lands after a registration still creates the conflict, on the
    # registration's record, so a manager sees it (CONC-04).
    outcome = engine.check(
        _opportunity_identity(opportunity),
        _product_lines(opportunity.products.select_related("product_line")),
        policy=_engine_policy(policy),
        exclude=(RecordKind.DIRECT_OPPORTUNITY, opportunity.pk),
        kinds=[RecordKind.REGISTRATION],
    )
    for match in outcome.matches:
        already = Conflict.objects.filter(
            registration_id=match.record_id,
            kind=RecordKind.DIRECT_OPPORTUNITY,
            other_id=opportunity.pk,
        ).exists()
        conflict_services.conflicts_record(
            registration_id=match.record_id,
            registration_partner_id=match.partner_id,
            matches=[
                engine.Match(
                    kind=RecordKind.DIRECT_OPPORTUNITY,
                    record_id=opportunity.pk,
                    partner_id=None,
                    label=f"{opportunity.external_id} · {opportunity.account_name}",
                    score=match.score,
                    reasons=match.reasons,
                    severity=match.severity,
                    since=opportunity.created_at,
                )
            ],
            policy_version=policy.version,
        )
        if not already:
            # The sync landed after the registration: managers and the rep hear about it too.
            registration = _locked(DealRegistration(pk=match.record_id))
            _registration_event(
                registration,
                None,
                EventAction.CONFLICT_DETECTED,
                from_status=registration.status,
                to_status=registration.status,
                internal=True,
                policy_version=policy.version,
                details={
                    "conflict_status": match.severity,
                    "matches": [
                        {
                            "kind": RecordKind.DIRECT_OPPORTUNITY,
                            "id": opportunity.pk,
                            "score": match.score,
                            "reasons": list(match.reasons),
                        }
                    ],
                },
            )


def _opportunity_write(
    cleaned: dict, *, instance: DirectOpportunity | None, policy
) -> tuple[DirectOpportunity, bool]:
    lock_identity(
        Identity.from_raw(
            name=cleaned.get("account_name", instance.account_name if instance else ""),
            domain=cleaned.get("account_domain", instance.account_domain if instance else ""),
            country=cleaned.get("country", instance.country if instance else ""),
        )
    )
    created = instance is None
    opportunity = instance or DirectOpportunity()
    products = cleaned.pop("products", None)
    previous_status = None if created else opportunity.status
    for name, value in cleaned.items():
        setattr(opportunity, name, value)
    if opportunity.status == OpportunityStatus.WON and previous_status != OpportunityStatus.WON:
        opportunity.won_at = timezone_now()
    opportunity.save()
    if products is not None:
        opportunity.products.set(products)
    _index_opportunity(opportunity, policy)
    return opportunity, created


def opportunity_upsert(*, data: dict, actor=None) -> tuple[DirectOpportunity, bool]:
    """Create or update one direct opportunity by external_id."""
    cleaned, errors = opportunity_clean(data)
    errors.raise_if_any()
    with transaction.atomic(durable=True):
        instance = (
            DirectOpportunity.objects.select_for_update()
            .filter(external_id=cleaned["external_id"])
            .first()
        )
        return _opportunity_write(cleaned, instance=instance, policy=policy_current())


def opportunity_update(
    *, opportunity: DirectOpportunity, data: dict, actor=None
) -> DirectOpportunity:
    cleaned, errors = opportunity_clean(data, partial=True)
    if "external_id" in cleaned and cleaned["external_id"] != opportunity.external_id:
        if DirectOpportunity.objects.filter(external_id=cleaned["external_id"]).exists():
            errors.add("external_id", "Another opportunity has this external id.")
    errors.raise_if_any()
    with transaction.atomic(durable=True):
        instance = DirectOpportunity.objects.select_for_update().get(pk=opportunity.pk)
        opportunity, _ = _opportunity_write(cleaned, instance=instance, policy=policy_current())
    return opportunity


MAX_BULK_ROWS = 1000


def opportunities_bulk_upsert(
    *, rows: list, actor=None, max_rows: int = MAX_BULK_ROWS
) -> dict[str, int]:
    """Upsert up to `max_rows` (1,000 for the API) opportunities by external_id, all or
    nothing. Raises ValidationFailed(code invalid_rows) with per-row errors keyed by index."""
    if not isinstance(rows, list):
        raise ValidationFailed("Send a list of opportunities.", rows={})
    if len(rows) > max_rows:
        raise ValidationFailed(
            f"At most {max_rows} opportunities per call.",
            rows={str(max_rows): {"non_field_errors": ["Too many rows."]}},
        )
    row_errors: dict[str, dict] = {}
    cleaned_rows = []
    seen: dict[str, int] = {}
    for index, row in enumerate(rows):
        cleaned, errors = opportunity_clean(row)
        external_id = cleaned.get("external_id")
        if external_id and external_id in seen:
            errors.add("external_id", f"Duplicate of row {seen[external_id]}.")
        elif external_id:
            seen[external_id] = index
        if errors:
            row_errors[str(index)] = dict(errors)
        cleaned_rows.append(cleaned)
    if row_errors:
        raise ValidationFailed("Some rows are not valid; nothing was written.", rows=row_errors)
    counts = {"created": 0, "updated": 0}
    with transaction.atomic(durable=True):
        policy = policy_current()
        existing = {
            o.external_id: o
            for o in DirectOpportunity.objects.select_for_update().filter(
                external_id__in=list(seen)
            )
        }
        for cleaned in cleaned_rows:
            _, created = _opportunity_write(
                cleaned, instance=existing.get(cleaned["external_id"]), policy=policy
            )
            counts["created" if created else "updated"] += 1
    return counts


def opportunity_delete(*, opportunity: DirectOpportunity, actor) -> None:
    """Delete an opportunity, leaving a snapshot event; conflicts that reference it keep their
    label so managers can still read them."""
    with transaction.atomic(durable=True):
        opportunity = DirectOpportunity.objects.select_for_update().get(pk=opportunity.pk)
        snapshot = {
            "external_id": opportunity.external_id,
            "account_name": opportunity.account_name,
            "account_domain": opportunity.account_domain,
            "country": opportunity.country,
            "owner_email": opportunity.owner_email,
            "amount": str(opportunity.amount),
            "currency": opportunity.currency,
            "status": opportunity.status,
            "products": list(opportunity.products.values_list("code", flat=True)),
        }
        event_record(
            chain=f"o:{opportunity.pk}",
            registration=None,
            actor=actor,
            action=EventAction.OPPORTUNITY_DELETED,
            details=snapshot,
            internal=True,
            notify=False,
        )
        from conflicts.index import index_remove

        index_remove(kind=RecordKind.DIRECT_OPPORTUNITY, record_id=opportunity.pk)
        opportunity.delete()
