"""Each user's notification preferences: e-mail on or off per kind (in-app always stays on)
the time zone pages show times in, and the language of pages and e-mails. The outbox reads the opt-outs when it writes e-mails
(deals.notifications.outbox); the preferences page (deals.web.preferences) writes them here."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext

from deals.models import NotificationKind, NotificationPreference
from partners import services as partner_services
from partners.roles import is_manager, is_sales_rep
from prm.exceptions import ValidationFailed

K = NotificationKind
# What each kind of user can receive (account e-mails — invitations and the notice about an
# invitation to an existing account — are not optional and are not listed).
PARTNER_KINDS = (
    K.SUBMISSION_RECEIVED,
    K.APPROVED,
    K.REJECTED,
    K.INFO_REQUESTED,
    K.COMMENT,
    K.CONFLICT_DETECTED,
    K.CONFLICT_RESOLVED,
    K.EXTENSION_DECIDED,
    K.EXPIRY_REMINDER,
    K.EXPIRED,
    K.REVOKED,
    K.WIN_VERIFIED,
    K.REASSIGNED,
)
MANAGER_KINDS = (
    K.SUBMISSION_RECEIVED,
    K.RESUBMITTED,
    K.APPROVAL_NEEDED,
    K.COMMENT,
    K.CONFLICT_DETECTED,
    K.CONFLICT_RESOLVED,
    K.EXTENSION_REQUESTED,
    K.SLA_OVERDUE,
    K.CLOSED,
    K.WITHDRAWALS_FLAGGED,
    K.CO_SELL_PROPOSED,
    K.CO_SELL_ACCEPTED,
    K.WEBHOOK_DISABLED,
)
REP_KINDS = (K.CONFLICT_DETECTED, K.CONFLICT_RESOLVED, K.CO_SELL_PROPOSED, K.CO_SELL_ACCEPTED)


def kinds_for(user) -> tuple[NotificationKind, ...]:
    if is_manager(user):
        return MANAGER_KINDS
    if is_sales_rep(user):
        return REP_KINDS
    return PARTNER_KINDS


def email_preferences(user) -> dict[str, bool]:
    """{kind: e-mail on?} for the kinds `user` can receive (on unless they turned it off)."""
    off = set(
        NotificationPreference.objects.filter(user=user, email_enabled=False).values_list(
            "kind", flat=True
        )
    )
    return {kind.value: kind.value not in off for kind in kinds_for(user)}


def preferences_save(*, user, email_on: object, time_zone: object, language: object = None) -> None:
    """Save the e-mail switches (`email_on`: the kinds to e-mail; every other listed kind is
    turned off), the time zone and (when given) the language, in one transaction. An unknown
    kind, zone or language → 400."""
    allowed = {kind.value for kind in kinds_for(user)}
    wanted = set(email_on) if isinstance(email_on, list | tuple | set) else None
    if wanted is None or not wanted <= allowed:
        raise ValidationFailed(
            gettext("Unknown notification kind."),
            fields={"email": [gettext("Choose from the listed kinds.")]},
        )
    with transaction.atomic():
        partner_services.user_time_zone_set(user=user, time_zone=time_zone)
        if language is not None:
            partner_services.user_language_set(user=user, language=language)
        for kind in sorted(allowed):
            NotificationPreference.objects.update_or_create(
                user=user, kind=kind, defaults={"email_enabled": kind in wanted}
            )
