"""The availability check ("is this customer already engaged?") for the API and the portal's
live check. It is an oracle about competitors (OWASP API6, docs/reliability.md decision 9), so:

- every call is rate-limited per user and per partner with the atomic limiter (prm.ratelimit;
  CONFLICT_CHECK_RATE_USER / CONFLICT_CHECK_RATE_PARTNER), refused calls answer 429;
- every call is logged (ConflictCheckLog: user, partner, SHA-256 of the normalised customer
  key, verdict), refused ones with the verdict "throttled";
- a submission or re-submission tells the same verdict, so it spends the same budget and is
  logged the same way (deals.registrations.budget, source "submit"/"resubmit"); a partner
  that withdraws registrations after conflicts at an unusual rate is flagged to its managers
  (deals.registrations.services.registration_withdraw);
- a partner learns the verdict and the same neutral sentence whoever the other party is
  (deals.registrations.services.conflict_message, ISO-04); only managers see the matches.
"""

from __future__ import annotations

import dataclasses

from conflicts import engine
from conflicts.scoring import Identity
from deals.catalog import _clean_products
from deals.identity import _product_lines
from deals.policy import _engine_policy, policy_current
from deals.registrations.budget import check_budget_spend, check_log, customer_key_hash
from deals.registrations.services import conflict_message
from partners.roles import is_manager, partner_of
from prm.exceptions import PermissionDeniedError
from prm.lib.validation import Errors, check_country, check_domain, check_text

__all__ = ["availability_check", "check_budget_spend", "check_log", "customer_key_hash"]


def _clean(data) -> dict:
    errors = Errors()
    if not isinstance(data, dict):
        errors.add("non_field_errors", "Send an object.")
        errors.raise_if_any()
    cleaned = {
        "customer_name": check_text(
            errors, "customer_name", data.get("customer_name"), 200, required=True
        ),
        "customer_domain": check_domain(errors, "customer_domain", data.get("customer_domain")),
        "customer_country": check_country(errors, "customer_country", data.get("customer_country")),
        "products": _clean_products(errors, data.get("products") or []),
    }
    errors.raise_if_any()
    return cleaned


def availability_check(*, actor, data: dict, source: str = "api") -> dict:
    """Is the customer in `data` ({customer_name, customer_domain?, customer_country,
    products?}) already engaged? Returns {"status", "available", "message"} plus "matches"
    for managers. Raises ValidationFailed (400), PermissionDeniedError (403) and
    prm.ratelimit.RateLimited (429)."""
    manager = is_manager(actor)
    partner = None if manager else partner_of(actor)
    if not manager and (partner is None or not partner.is_active):
        raise PermissionDeniedError("Only partner users and channel managers can check.")
    cleaned = _clean(data)
    identity = Identity.from_raw(
        name=cleaned["customer_name"],
        domain=cleaned["customer_domain"],
        country=cleaned["customer_country"],
    )
    key_hash = check_budget_spend(actor=actor, partner=partner, identity=identity, source=source)

    policy = policy_current()
    engine_policy = _engine_policy(policy)
    products = cleaned["products"]
    if not products:
        # Without products there is no product line to compare: check against every record.
        engine_policy = dataclasses.replace(engine_policy, scope="any_product")
    outcome = engine.check(
        identity,
        _product_lines(products),
        policy=engine_policy,
        partner_id=partner.pk if partner else None,
    )
    check_log(actor, partner, key_hash, outcome.status, source)
    result = {
        "status": outcome.status,
        "available": outcome.status == engine.CLEAR,
        "message": conflict_message(outcome, policy),
    }
    if manager:
        result["matches"] = [
            {
                "kind": m.kind,
                "id": m.record_id,
                "label": m.label,
                "score": m.score,
                "reasons": list(m.reasons),
            }
            for m in outcome.matches
        ]
    return result
