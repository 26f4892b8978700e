"""Direct opportunities (the vendor's own pipeline): cleaning, upsert, bulk import, delete, and their entries in the conflict index."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction

from conflicts import engine
from conflicts import services as conflict_services
from conflicts.index import (
    IndexItem,
    index_deactivate_many,
    index_upsert_many,
    lock_for_bulk,
    lock_identity,
)
from conflicts.models import Conflict, RecordKind
from conflicts.scoring import Identity
from deals.catalog import _clean_products, active_catalogue
from deals.events import _registration_event, event_record
from deals.identity import _opportunity_identity
from deals.models import (
    DealRegistration,
    DirectOpportunity,
    EventAction,
    OpportunityStatus,
    Product,
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


def opportunity_clean(
    data: dict, *, partial: bool = False, catalogue: dict[str, Product] | None = None
) -> tuple[dict, Errors]:
    """Validate one opportunity row (API, bulk, CSV and admin share this). `catalogue`: the
    active products (deals.catalog.active_catalogue), read once by a caller of many rows."""
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
        cleaned["products"] = _clean_products(errors, data.get("products") or [], catalogue)
    return cleaned, errors


def _opportunity_lines(opportunities: list[DirectOpportunity]) -> dict[int, list[str]]:
    """Each opportunity's product lines, in one query."""
    through = DirectOpportunity.products.through
    lines: dict[int, set[str]] = {o.pk: set() for o in opportunities}
    rows = through.objects.filter(directopportunity_id__in=list(lines)).values_list(
        "directopportunity_id", "product__product_line__code"
    )
    for opportunity_id, code in rows:
        lines[opportunity_id].add(code)
    return {pk: sorted(codes) for pk, codes in lines.items()}


def _index_opportunities(opportunities: list[DirectOpportunity], policy: RulesOfEngagement) -> None:
    """Keep the opportunities' index entries in step, in a fixed number of statements whatever
    the count (the conflict checks aside, which run only for opportunities near a registration).
    Open opportunities protect; won ones protect for the policy's look-back; lost don't."""
    now = timezone_now()
    lines = _opportunity_lines(opportunities)
    protecting: list[tuple[DirectOpportunity, dt.datetime | None]] = []
    lapsed: list[int] = []
    for opportunity in opportunities:
        active_until = None
        active = opportunity.status == OpportunityStatus.OPEN
        if opportunity.status == OpportunityStatus.WON:
            won_at = opportunity.won_at or now
            active_until = won_at + dt.timedelta(days=policy.direct_won_lookback_days)
            active = active_until > now
        if active:
            protecting.append((opportunity, active_until))
        else:
            lapsed.append(opportunity.pk)
    index_deactivate_many(kind=RecordKind.DIRECT_OPPORTUNITY, record_ids=lapsed)
    items = [
        IndexItem(
            kind=RecordKind.DIRECT_OPPORTUNITY,
            record_id=opportunity.pk,
            partner_id=None,
            label=f"{opportunity.external_id} · {opportunity.account_name}",
            identity=_opportunity_identity(opportunity),
            name_raw=opportunity.account_name,
            product_lines=lines[opportunity.pk],
            active=True,
            since=opportunity.created_at,
            active_until=active_until,
        )
        for opportunity, active_until in protecting
    ]
    index_upsert_many(items)
    # A CRM sync that lands after a registration still creates the conflict, on the
    # registration's record, so a manager sees it (CONC-04).
    outcomes = engine.check_many(
        [(item.identity, item.product_lines, (item.kind, item.record_id)) for item in items],
        policy=_engine_policy(policy),
        kinds=[RecordKind.REGISTRATION],
        now=now,
    )
    for (opportunity, _), outcome in zip(protecting, outcomes, strict=True):
        if outcome.matches:
            _record_opportunity_conflicts(opportunity, outcome, policy)


def _record_opportunity_conflicts(
    opportunity: DirectOpportunity, outcome: engine.Outcome, policy: RulesOfEngagement
) -> None:
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


def _write_opportunities(
    writes: list[tuple[dict, DirectOpportunity | None]], policy: RulesOfEngagement
) -> list[tuple[DirectOpportunity, bool]]:
    """Create or update opportunities from cleaned rows (each with its locked instance, None
    to create) and re-index them, in a fixed number of statements whatever the count: every
    way in (API, bulk, CSV, CRM pull, admin) writes through here. The caller holds the
    transaction and the identity lock (lock_identity, or lock_for_bulk for a batch)."""
    now = timezone_now()
    written: list[tuple[DirectOpportunity, bool]] = []
    products_of: list[tuple[DirectOpportunity, list]] = []
    created: list[DirectOpportunity] = []
    changed: list[DirectOpportunity] = []
    columns = {"won_at", "updated_at"}
    for cleaned, instance in writes:
        values = dict(cleaned)
        products = values.pop("products", None)
        opportunity = instance or DirectOpportunity()
        previous_status = None if instance is None else opportunity.status
        for name, value in values.items():
            setattr(opportunity, name, value)
        if opportunity.status == OpportunityStatus.WON and previous_status != OpportunityStatus.WON:
            opportunity.won_at = now
        if instance is None:
            created.append(opportunity)
        else:
            opportunity.updated_at = now
            columns.update(values)
            changed.append(opportunity)
        if products is not None:
            products_of.append((opportunity, products))
        written.append((opportunity, instance is None))
    if created:
        DirectOpportunity.objects.bulk_create(created)
    if changed:
        DirectOpportunity.objects.bulk_update(changed, sorted(columns))
    if products_of:
        _set_products(products_of)
    _index_opportunities([opportunity for opportunity, _ in written], policy)
    return written


def _set_products(products_of: list[tuple[DirectOpportunity, list]]) -> None:
    """opportunity.products.set(products) for many opportunities: one read, one delete, one
    insert."""
    through = DirectOpportunity.products.through
    wanted = {o.pk: {p.pk for p in products} for o, products in products_of}
    held: dict[int, dict[int, int]] = {pk: {} for pk in wanted}
    rows = through.objects.filter(directopportunity_id__in=list(wanted)).values_list(
        "id", "directopportunity_id", "product_id"
    )
    for link_id, opportunity_id, product_id in rows:
        held[opportunity_id][product_id] = link_id
    removed = [
        link_id
        for pk, links in held.items()
        for product_id, link_id in links.items()
        if product_id not in wanted[pk]
    ]
    added = [
        through(directopportunity_id=pk, product_id=product_id)
        for pk, product_ids in wanted.items()
        for product_id in sorted(product_ids - set(held[pk]))
    ]
    if removed:
        through.objects.filter(id__in=removed).delete()
    if added:
        through.objects.bulk_create(added)


def _lock_opportunity(cleaned: dict, instance: DirectOpportunity | None) -> None:
    """lock_identity for the identity one write gives the opportunity."""
    lock_identity(
        Identity.from_raw(
            name=cleaned.get("account_name", instance.account_name if instance else ""),
            domain=cleaned.get("account_domain", instance.account_domain if instance else ""),
            country=cleaned.get("country", instance.country if instance else ""),
        )
    )


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
        _lock_opportunity(cleaned, instance)
        return _write_opportunities([(cleaned, instance)], policy_current())[0]


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
        _lock_opportunity(cleaned, instance)
        ((opportunity, _),) = _write_opportunities([(cleaned, instance)], policy_current())
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
    catalogue = active_catalogue()
    for index, row in enumerate(rows):
        cleaned, errors = opportunity_clean(row, catalogue=catalogue)
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
        lock_for_bulk()
        policy = policy_current()
        existing = {
            o.external_id: o
            for o in DirectOpportunity.objects.select_for_update().filter(
                external_id__in=list(seen)
            )
        }
        written = _write_opportunities(
            [(cleaned, existing.get(cleaned["external_id"])) for cleaned in cleaned_rows], policy
        )
        for _, created in written:
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
