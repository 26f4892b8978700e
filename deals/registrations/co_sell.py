"""A direct sales rep's part in co-sell (docs/product.md "Direct sales reps and co-sell
agreements"): the rep proposes co-sell on an open conflict with an opportunity they own, or
accepts the co-sell a manager agreed; the manager decides (services.conflict_resolve).

Each step is a confirmation {"by", "role": "sales_rep", "at"}: recorded as an internal event on
the registration's chain (partners never learn of direct sales), and kept on the co-sell
agreement (an acceptance at once; a proposal when the manager resolves the conflict as
co_sell). The managers hear of it through the outbox, after commit.
"""

from __future__ import annotations

from django.db import transaction

from conflicts.models import Conflict, RecordKind
from deals.events import _registration_event
from deals.models import CoSellAgreement, DealRegistration, EventAction, RegistrationEvent
from deals.registrations import selectors
from deals.registrations.validation import _clean_note
from partners.roles import is_sales_rep
from prm.exceptions import InvalidTransition, PermissionDeniedError, ValidationFailed
from prm.lib.time import timezone_now

CO_SELL_ACTIONS = ("propose", "accept")
SALES_REP_ROLE = "sales_rep"


def _require_own_conflict(actor, conflict: Conflict) -> None:
    if not is_sales_rep(actor):
        raise PermissionDeniedError("Only the sales rep who owns the opportunity can do this.")
    if not selectors.conflicts_of_rep(actor.email).filter(pk=conflict.pk).exists():
        raise PermissionDeniedError("This conflict is not with an opportunity you own.")


def _confirmation(actor) -> dict:
    return {"by": actor.email, "role": SALES_REP_ROLE, "at": timezone_now().isoformat()}


def co_sell_proposals(conflict_ids) -> dict[int, list[dict]]:
    """{conflict id: the reps' proposal confirmations, oldest first}, read from the events
    (one query)."""
    wanted = {int(pk) for pk in conflict_ids}
    if not wanted:
        return {}
    registration_ids = Conflict.objects.filter(pk__in=wanted).values("registration_id")
    found: dict[int, list[dict]] = {}
    events = RegistrationEvent.objects.filter(
        registration_id__in=registration_ids, action=EventAction.CO_SELL_PROPOSED
    ).order_by("at", "seq")
    for event in events:
        details = event.details or {}
        if details.get("conflict") in wanted and details.get("confirmation"):
            found.setdefault(details["conflict"], []).append(details["confirmation"])
    return found


def conflict_co_sell_by_rep(*, conflict: Conflict, actor, action: object, note: object = ""):
    """The rep's co-sell step on their own conflict, as a confirmation with role sales_rep.

    - propose: on an open conflict (else InvalidTransition); once per rep and conflict;
    - accept: on a conflict a manager resolved as co_sell (else InvalidTransition); the rep's
      confirmation joins the agreement's; once per rep.

    Returns the conflict as it is now."""
    if action not in CO_SELL_ACTIONS:
        raise ValidationFailed(
            "Choose propose or accept.", fields={"action": ["Choose propose or accept."]}
        )
    _require_own_conflict(actor, conflict)
    note = _clean_note(note, "note")
    with transaction.atomic(durable=True):
        registration = (
            DealRegistration.objects.select_for_update(of=("self",))
            .filter(pk=conflict.registration_id)
            .first()
        )
        if registration is None:
            raise InvalidTransition("The registration of this conflict no longer exists.")
        conflict = Conflict.objects.get(pk=conflict.pk)
        confirmation = _confirmation(actor)
        if action == "propose":
            if conflict.status != Conflict.Status.OPEN:
                raise InvalidTransition(
                    "Co-sell can be proposed on an open conflict only; this one is "
                    f"{conflict.status}."
                )
            proposals = co_sell_proposals([conflict.pk]).get(conflict.pk, [])
            if any(c.get("by") == actor.email for c in proposals):
                raise InvalidTransition("You already proposed co-sell on this conflict.")
            event_action = EventAction.CO_SELL_PROPOSED
        else:
            agreement = (
                CoSellAgreement.objects.select_for_update().filter(conflict_id=conflict.pk).first()
            )
            if agreement is None:
                raise InvalidTransition(
                    "There is no co-sell agreement to accept yet: propose co-sell instead."
                )
            if any(
                c.get("role") == SALES_REP_ROLE and c.get("by") == actor.email
                for c in agreement.confirmations or []
            ):
                raise InvalidTransition("You already confirmed this co-sell agreement.")
            agreement.confirmations = [*(agreement.confirmations or []), confirmation]
            agreement.save(update_fields=["confirmations"])
            event_action = EventAction.CO_SELL_ACCEPTED
        _registration_event(
            registration,
            actor,
            event_action,
            from_status=registration.status,
            to_status=registration.status,
            details={
                "conflict": conflict.pk,
                "other_kind": RecordKind.DIRECT_OPPORTUNITY,
                "other_id": conflict.other_id,
                "note": note,
                "confirmation": confirmation,
            },
            internal=True,
        )
    return conflict
