"""The rules of engagement: the policy in force (`policy_current`) and its history, publishing a
new version (`policy_publish`; versions are never edited), the values a decision takes from it
(protection days, extensions, holidays, the engine's thresholds), and the what-if preview.

What-if thresholds (docs/product.md "Rules of engagement"): before an administrator saves new
match thresholds or a new conflict scope, show how many recent submissions would come out
differently.

Each of the last N submitted registrations is checked once against today's identity index with
the loosest of the two policies (lower review threshold, any product), excluding itself and
keeping only records that were already protecting when it was submitted (first come, first
served). The matches are then classified under the current and under the proposed policy with
the engine's own rule, so the figures show the effect of the policy change alone, not the
drift of the index since the submission. The stored verdict is reported next to both.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, cast

from django.db import transaction
from django.db.models import QuerySet

from conflicts import engine
from conflicts.models import RecordKind
from deals import customfields
from deals.identity import registration_identity
from deals.models import BenefitKind, DealRegistration, IncentiveRule, Product, RulesOfEngagement
from partners.models import Partner
from prm.exceptions import ValidationFailed
from prm.lib import hotcache

WHAT_IF_FIELDS = ("review_threshold", "certain_threshold", "conflict_scope")
MAX_EXAMPLES = 20


def _policy_from(values: dict[str, Any]) -> engine.Policy:
    return engine.Policy(
        review=int(values["review_threshold"]),
        certain=int(values["certain_threshold"]),
        scope=values["conflict_scope"],
    )


def classify(matches: list[engine.Match], policy: engine.Policy, *, partner_id: int | None) -> str:
    """The verdict `engine.check` gives for these matches under `policy` (same rule as the
    engine: a certain match with another partner's registration or a direct opportunity is a
    conflict, any other match in band a potential conflict)."""
    kept = []
    for match in matches:
        if match.score < policy.review:
            continue
        if policy.scope != "any_product" and "product_overlap" not in match.reasons:
            continue
        severity = engine.CONFLICT if match.score >= policy.certain else engine.POTENTIAL
        kept.append(replace(match, severity=severity))
    if not kept:
        return engine.CLEAR
    certain_foreign = any(
        m.severity == engine.CONFLICT
        and not (m.kind == RecordKind.REGISTRATION and m.partner_id == partner_id)
        for m in kept
    )
    return engine.CONFLICT if certain_foreign else engine.POTENTIAL


def policy_what_if(changes: dict[str, Any], last_n: int = 200) -> dict[str, Any]:
    """How many of the last `last_n` submissions would change outcome under `changes`.

    Returns {"evaluated", "changed", "transitions": {"clear→conflict": n, ...},
    "examples": [{"id", "reference", "customer_name", "stored", "current", "proposed"}],
    "current": {...}, "proposed": {...}}.
    """
    current_policy = policy_current()
    current_values = {name: getattr(current_policy, name) for name in WHAT_IF_FIELDS}
    proposed_values = {
        **current_values,
        **{k: v for k, v in changes.items() if k in WHAT_IF_FIELDS and v not in (None, "")},
    }
    current = _policy_from(current_values)
    proposed = _policy_from(proposed_values)
    loosest = engine.Policy(
        review=min(current.review, proposed.review), certain=100, scope="any_product"
    )

    registrations = list(
        DealRegistration.objects.filter(submitted_at__isnull=False)
        .order_by("-submitted_at", "-id")
        .prefetch_related("products")[: max(0, int(last_n))]
    )
    lines_by_product = dict(Product.objects.values_list("pk", "product_line__code"))

    changed = 0
    transitions: dict[str, int] = {}
    examples: list[dict[str, Any]] = []
    for registration in registrations:
        lines = sorted({lines_by_product[p.pk] for p in registration.products.all()})
        outcome = engine.check(
            registration_identity(registration),
            lines,
            policy=loosest,
            partner_id=registration.partner_id,
            exclude=(RecordKind.REGISTRATION, registration.pk),
        )
        submitted_at = cast(dt.datetime, registration.submitted_at)  # filtered on above
        earlier = [m for m in outcome.matches if m.since <= submitted_at]
        before = classify(earlier, current, partner_id=registration.partner_id)
        after = classify(earlier, proposed, partner_id=registration.partner_id)
        if before != after:
            changed += 1
            key = f"{before}→{after}"
            transitions[key] = transitions.get(key, 0) + 1
            if len(examples) < MAX_EXAMPLES:
                examples.append(
                    {
                        "id": registration.pk,
                        "reference": registration.reference,
                        "customer_name": registration.customer_name,
                        "stored": registration.conflict_status,
                        "current": before,
                        "proposed": after,
                    }
                )
    return {
        "evaluated": len(registrations),
        "changed": changed,
        "transitions": transitions,
        "examples": examples,
        "current": current_values,
        "proposed": proposed_values,
    }


# --- Policy -------------------------------------------------------------------------------------

POLICY_FIELDS = (
    "protection_days",
    "extension_days",
    "max_extensions",
    "reminder_days",
    "sla_business_days",
    "holidays",
    "min_deal_values",
    "required_fields",
    "conflict_scope",
    "review_threshold",
    "certain_threshold",
    "direct_won_lookback_days",
    "reveal_conflict_kind",
    "auto_approve_enabled",
)


def policy_publish(
    *,
    actor,
    change_note: str = "",
    incentive_rules: list[dict[str, Any]] | None = None,
    **changes: Any,
) -> RulesOfEngagement:
    """Create the next version of the rules of engagement from the current one plus `changes`.

    Versions are never edited, so any past decision can be replayed with the rules it used.
    `incentive_rules` ({"tier_id", "product_line_id", "kind", "value", "currency"} each) is
    the new version's incentive set; None carries the current version's set forward.
    """
    unknown = set(changes) - set(POLICY_FIELDS)
    if unknown:
        raise ValidationFailed(
            "Unknown policy fields.", fields={k: ["Unknown field."] for k in unknown}
        )
    with transaction.atomic():
        current = policy_current()
        values = {name: getattr(current, name) for name in POLICY_FIELDS}
        values.update(changes)
        policy = RulesOfEngagement(
            version=current.version + 1, created_by=actor, change_note=change_note, **values
        )
        try:
            policy.full_clean(exclude=["version"])
        except Exception as exc:  # django ValidationError
            fields = getattr(exc, "message_dict", {"__all__": [str(exc)]})
            raise ValidationFailed("The policy is not valid.", fields=fields) from None
        policy.save()
        # The incentive rules are part of the version: carried forward unchanged unless the
        # caller gives the new version's set (the admin's inline does).
        rules = (
            [
                {
                    "tier_id": r.tier_id,
                    "product_line_id": r.product_line_id,
                    "kind": r.kind,
                    "value": r.value,
                    "currency": r.currency,
                }
                for r in IncentiveRule.objects.filter(policy_version=current.version)
            ]
            if incentive_rules is None
            else incentive_rules
        )
        IncentiveRule.objects.bulk_create(
            IncentiveRule(policy_version=policy.version, **rule) for rule in rules
        )
        policy_forget()
        return policy


def _engine_policy(policy: RulesOfEngagement) -> engine.Policy:
    return engine.Policy(
        review=policy.review_threshold,
        certain=policy.certain_threshold,
        scope=policy.conflict_scope,
        version=policy.version,
    )


def protection_days_for(partner: Partner, policy: RulesOfEngagement) -> int:
    return partner.tier.protection_days or policy.protection_days


def max_extensions_for(partner: Partner, policy: RulesOfEngagement) -> int:
    tier_value = partner.tier.max_extensions
    return policy.max_extensions if tier_value is None else tier_value


@dataclass(frozen=True)
class Benefit:
    kind: str
    value: Decimal
    currency: str  # "" for percentages
    policy_version: int


def benefit_for(
    partner: Partner, product_line_ids: list[int], policy: RulesOfEngagement
) -> Benefit | None:
    """The registered-deal benefit a registration earns when approved under `policy`: the
    policy version's incentive rule for the partner's tier and one of the registration's
    product lines (a line-specific rule before the tier-wide one; among several lines, the
    line ordered first by name), else the tier's registered-deal discount, else none."""
    rules = list(
        IncentiveRule.objects.filter(policy_version=policy.version, tier_id=partner.tier_id)
        .select_related("product_line")
        .order_by("product_line__name", "id")
    )
    specific = [r for r in rules if r.product_line_id in set(product_line_ids)]
    general = [r for r in rules if r.product_line_id is None]
    chosen = specific or general
    if chosen:
        rule = chosen[0]
        currency = rule.currency if rule.kind == BenefitKind.FIXED else ""
        return Benefit(rule.kind, rule.value, currency, policy.version)
    discount = partner.tier.discount_percent
    if discount and discount > 0:
        return Benefit(BenefitKind.DISCOUNT_PERCENT, discount, "", policy.version)
    return None


def _holidays(policy: RulesOfEngagement) -> list[dt.date]:
    days = []
    for value in policy.holidays or []:
        try:
            days.append(dt.date.fromisoformat(str(value)))
        except ValueError:
            continue
    return days


# --- Policy -------------------------------------------------------------------------------------


POLICY_KEY = "prm:policy-current"


def policy_current() -> RulesOfEngagement:
    """The latest version of the rules of engagement (created on first use if none exists).
    Cached (prm.lib.hotcache); policy_publish forgets it, and versions are never edited."""
    policy = hotcache.read(
        POLICY_KEY, lambda: RulesOfEngagement.objects.order_by("-version").first()
    )
    if policy is None:
        policy, _ = RulesOfEngagement.objects.get_or_create(
            version=1, defaults={"change_note": "Default policy"}
        )
    return policy


def policy_forget() -> None:
    hotcache.forget([POLICY_KEY])


def policy_history() -> QuerySet[RulesOfEngagement]:
    return RulesOfEngagement.objects.order_by("-version").select_related("created_by")


# --- The program's rules as partners read them ------------------------------------------------


@dataclass(frozen=True)
class ProgramRules:
    """The rules of engagement that apply to one partner, from the policy in force: what
    GET /api/v1/program/, the portal's "Program rules" page, the registration form and the home
    page state, and the same figures the services enforce (protection_days_for,
    max_extensions_for, RulesOfEngagement.min_deal_value, required_fields)."""

    policy_version: int
    tier_code: str
    tier_name: str
    protection_days: int
    extension_days: int
    max_extensions: int
    review_sla_business_days: int
    min_deal_values: dict[str, Decimal]
    required_fields: list[str]
    conflict_scope: str
    # The custom fields of the partner's tier (deals.customfields); the required ones that
    # apply to every deal are also in required_fields as `custom.<key>`.
    custom_fields: tuple[customfields.FieldDef, ...] = ()


def program_rules(partner: Partner, policy: RulesOfEngagement | None = None) -> ProgramRules:
    policy = policy or policy_current()
    custom = customfields.form_current().for_tier(partner.tier_id)
    minimums = {}
    for currency in sorted(policy.min_deal_values or {}):
        value = policy.min_deal_value(currency)
        if value is not None:
            minimums[currency] = value.quantize(Decimal("0.01"))
    return ProgramRules(
        policy_version=policy.version,
        tier_code=partner.tier.code,
        tier_name=partner.tier.name,
        protection_days=protection_days_for(partner, policy),
        extension_days=policy.extension_days,
        max_extensions=max_extensions_for(partner, policy),
        review_sla_business_days=policy.sla_business_days,
        min_deal_values=minimums,
        required_fields=list(policy.required_fields or [])
        + [f.name for f in custom if f.always_required],
        conflict_scope=policy.conflict_scope,
        custom_fields=tuple(custom),
    )
