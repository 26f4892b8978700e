"""The availability budget and the check log, shared by the availability check
(deals.registrations.availability) and the submissions (deals.registrations.services): a
submission or re-submission tells the partner the same verdict as a check, so it spends the
same per-user and per-partner budget (CONFLICT_CHECK_RATE_USER / CONFLICT_CHECK_RATE_PARTNER,
the atomic limiter in prm.ratelimit) and is logged in the same ConflictCheckLog."""

from __future__ import annotations

import hashlib
import logging

from django.conf import settings

from conflicts.scoring import Identity
from deals.models import ConflictCheckLog
from partners.models import Partner
from prm import ratelimit

logger = logging.getLogger("prm.conflict_check")


def customer_key_hash(identity: Identity) -> str:
    key = f"{identity.name}|{identity.domain}|{identity.country}"
    return hashlib.sha256(key.encode()).hexdigest()


def check_log(actor, partner: Partner | None, key_hash: str, verdict: str, source: str) -> None:
    ConflictCheckLog.objects.create(
        user=actor,
        partner_id=partner.pk if partner else None,
        customer_key_hash=key_hash,
        verdict=verdict,
        source=source[:10],
    )
    logger.info(
        "conflict_check user=%s partner=%s key=%s verdict=%s source=%s",
        actor.pk,
        partner.pk if partner else None,
        key_hash[:16],
        verdict,
        source,
    )


def _within_limits(actor, partner: Partner | None) -> bool:
    limit, window = ratelimit.parse_rate(settings.CONFLICT_CHECK_RATE_USER)
    if not ratelimit.hit(f"conflict-check:user:{actor.pk}", limit, window):
        return False
    if partner is not None:
        limit, window = ratelimit.parse_rate(settings.CONFLICT_CHECK_RATE_PARTNER)
        if not ratelimit.hit(f"conflict-check:partner:{partner.pk}", limit, window):
            return False
    return True


def check_budget_spend(
    *, actor, partner: Partner | None, identity: Identity, source: str, message: str = ""
) -> str:
    """Spend one check of the user's and the partner's availability budget; returns the
    customer key hash for the log. A spent budget logs "throttled" and raises RateLimited
    (429). Submissions and re-submissions spend the same budget, so registering and
    withdrawing is no way around the limit."""
    key_hash = customer_key_hash(identity)
    if not _within_limits(actor, partner):
        check_log(actor, partner, key_hash, "throttled", source)
        raise ratelimit.RateLimited(message or "Too many availability checks; try again later.")
    return key_hash
