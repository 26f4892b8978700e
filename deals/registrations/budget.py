"""The availability budget and the check log, shared by the availability check
(deals.registrations.availability) and the submissions (deals.registrations.services): a
submission or re-submission tells the partner the same verdict as a check, so it spends the
same per-user and per-partner budget (CONFLICT_CHECK_RATE_USER / CONFLICT_CHECK_RATE_PARTNER,
the atomic limiter in prm.ratelimit) and is logged in the same ConflictCheckLog. Managers and
integrations have their own limit (CONFLICT_CHECK_RATE_MANAGER). A refusal says when to retry
(RateLimited.retry_after: the API's Retry-After header, the portal's panel)."""

from __future__ import annotations

import hashlib
import logging

from django.conf import settings

from conflicts.scoring import Identity
from deals.models import ConflictCheckLog
from partners.models import Partner
from partners.roles import is_manager
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


def _limits(actor, partner: Partner | None) -> list[tuple[str, str]]:
    """(counter key, rate) pairs one check spends. Partner users: per user and per partner
    (enumeration of competitors' customers is what the limits are for). Channel managers and
    integrations (manager accounts and their API tokens) see every match anyway: their own,
    much higher limit, only against runaway scripts."""
    if partner is None and is_manager(actor):
        return [(f"conflict-check:manager:{actor.pk}", settings.CONFLICT_CHECK_RATE_MANAGER)]
    limits = [(f"conflict-check:user:{actor.pk}", settings.CONFLICT_CHECK_RATE_USER)]
    if partner is not None:
        limits.append(
            (f"conflict-check:partner:{partner.pk}", settings.CONFLICT_CHECK_RATE_PARTNER)
        )
    return limits


def _refused_for(actor, partner: Partner | None) -> int | None:
    """None while within every limit, else the seconds until the spent limit's window ends."""
    for key, rate in _limits(actor, partner):
        limit, window = ratelimit.parse_rate(rate)
        if not ratelimit.hit(key, limit, window):
            return ratelimit.seconds_left(key, window)
    return None


def check_budget_spend(
    *, actor, partner: Partner | None, identity: Identity, source: str, message: str = ""
) -> str:
    """Spend one check of the user's and the partner's availability budget; returns the
    customer key hash for the log. A spent budget logs "throttled" and raises RateLimited
    (429). Submissions and re-submissions spend the same budget, so registering and
    withdrawing is no way around the limit."""
    key_hash = customer_key_hash(identity)
    retry_after = _refused_for(actor, partner)
    if retry_after is not None:
        check_log(actor, partner, key_hash, "throttled", source)
        raise ratelimit.RateLimited(
            message or f"Too many availability checks; try again in {_wait_text(retry_after)}.",
            retry_after=retry_after,
        )
    return key_hash


def _wait_text(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = -(-seconds // 60)
    if minutes < 120:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    hours = -(-minutes // 60)
    return f"{hours} hours"
