"""Owners and watchers of registrations (issue 17 §3).

- Every registration has a partner-side owner: the submitter at creation
  (services.registration_create). A partner admin of that partner, or a channel manager,
  reassigns one (`registration_reassign`) or many (`registrations_reassign`); each change is
  one REASSIGNED event on the registration's chain, and the new owner is notified through the
  outbox in the same transaction (deals.notifications.outbox).
- Deactivating a user hands their open registrations over (`registrations_hand_over`): to the
  new owner the partner admin chose in the portal, else to a partner admin (the acting one,
  or the company's first active admin). partners.services.partner_user_deactivate sends
  partners.dispatch.user_deactivating inside its transaction; deals.apps connects
  `on_user_deactivating` to it, so a refused handover rolls the deactivation back.
- Watchers: colleagues of the same company follow a registration and hear what its owner
  hears (`registration_watch`, `registration_unwatch`).
"""

from __future__ import annotations

from django.db import IntegrityError, transaction

from deals import lifecycle
from deals.events import _registration_event
from deals.models import DealRegistration, EventAction, RegistrationWatcher
from deals.permissions import _require_partner_user
from partners.models import Membership, Partner, User
from partners.roles import is_manager, is_partner_admin, partner_of
from prm.exceptions import PermissionDeniedError, ValidationFailed
from prm.lib.time import timezone_now

OPEN_STATUSES = sorted(lifecycle.OPEN_STATUSES)


def can_reassign(actor, partner_id: int) -> bool:
    """A channel manager, or a partner admin of the registration's (active) partner."""
    if is_manager(actor):
        return True
    own = partner_of(actor)
    return (
        own is not None
        and own.pk == partner_id
        and own.status == Partner.Status.ACTIVE
        and is_partner_admin(actor)
    )


def _require_reassigner(actor, partner_id: int) -> None:
    if not can_reassign(actor, partner_id):
        raise PermissionDeniedError(
            "Only your company's partner admins and channel managers can reassign registrations."
        )


def owner_candidates(partner_id: int):
    """The users a registration of `partner_id` can be assigned to: its active members."""
    return (
        User.objects.filter(membership__partner_id=partner_id, is_active=True, is_integration=False)
        .only("id", "email", "name")
        .order_by("name", "email", "id")
    )


def _owner_for(
    partner_id: int,
    owner_id,
    *,
    field: str = "owner_id",
    detail: str = "Choose an active user of the registration's partner as the owner.",
) -> User:
    """The active member of `partner_id` with id `owner_id`, or ValidationFailed (400): a user
    of another company, an inactive one or an unknown id are refused alike."""
    owner = None
    if isinstance(owner_id, int) and not isinstance(owner_id, bool):
        owner = owner_candidates(partner_id).filter(pk=owner_id).first()
    if owner is None:
        raise ValidationFailed(detail, fields={field: ["Not an active user of this partner."]})
    return owner


def _person(user) -> dict:
    return {"id": user.pk, "email": user.email}


def _reassign_locked(registration: DealRegistration, actor, owner: User, *, reason: str) -> bool:
    """Set the owner of a locked registration and record it (no-op for the same owner)."""
    if registration.owner_id == owner.pk:
        return False
    previous = registration.owner
    now = timezone_now()
    DealRegistration.objects.filter(pk=registration.pk).update(owner=owner, updated_at=now)
    registration.owner = owner
    registration.updated_at = now
    _registration_event(
        registration,
        actor,
        EventAction.REASSIGNED,
        from_status=registration.status,
        to_status=registration.status,
        details={"from": _person(previous), "to": _person(owner), "reason": reason},
    )
    return True


def _locked(pk: int) -> DealRegistration:
    return (
        DealRegistration.objects.select_for_update(of=("self",))
        .select_related("partner", "submitted_by", "owner")
        .get(pk=pk)
    )


def registration_reassign(*, registration: DealRegistration, actor, owner_id) -> DealRegistration:
    """Make `owner_id` (an active user of the registration's partner) its owner."""
    _require_reassigner(actor, registration.partner_id)
    owner = _owner_for(registration.partner_id, owner_id)
    with transaction.atomic(durable=True):
        registration = _locked(registration.pk)
        _reassign_locked(registration, actor, owner, reason="reassigned")
    return registration


def registrations_reassign(*, registrations, actor, owner_id) -> int:
    """Reassign several registrations (already fetched through the caller's scope) to one
    owner, all or nothing; they must all belong to one partner. Returns how many changed."""
    registrations = list(registrations)
    if not registrations:
        raise ValidationFailed(
            "Select the registrations to reassign.", fields={"ids": ["Select at least one."]}
        )
    partner_ids = {r.partner_id for r in registrations}
    if len(partner_ids) != 1:
        raise ValidationFailed(
            "Reassign the registrations of one partner at a time.",
            fields={"ids": ["Select registrations of one partner."]},
        )
    (partner_id,) = partner_ids
    _require_reassigner(actor, partner_id)
    owner = _owner_for(partner_id, owner_id)
    changed = 0
    with transaction.atomic(durable=True):
        for pk in sorted({r.pk for r in registrations}):
            changed += _reassign_locked(_locked(pk), actor, owner, reason="reassigned")
    return changed


def open_registrations_owned_by(user, partner_id: int):
    """The open registrations (draft, submitted, info requested, approved) `user` owns."""
    return DealRegistration.objects.filter(
        partner_id=partner_id, owner_id=user.pk, status__in=OPEN_STATUSES
    )


def _fallback_owner(partner_id: int, user, actor) -> User | None:
    """Who takes over when nobody was named: the acting partner admin, else the company's
    first active admin (never the user leaving); None when the company has none."""
    admins = owner_candidates(partner_id).filter(membership__role=Membership.Role.ADMIN)
    admins = admins.exclude(pk=user.pk).order_by("membership__created_at", "id")
    if actor is not None and not is_manager(actor):
        own = admins.filter(pk=actor.pk).first()
        if own is not None:
            return own
    return admins.first()


def registrations_hand_over(*, user, partner_id: int, actor, new_owner_id=None) -> int:
    """Reassign every open registration `user` owns at `partner_id`, inside the caller's
    transaction (the deactivation's): to `new_owner_id` when given (an active member other
    than `user`, else 400), else to a partner admin. With nobody to take over they keep
    their owner, and the outbox falls back to the partner's admins (nothing is orphaned)."""
    owner: User | None
    if new_owner_id is not None:
        owner = _owner_for(
            partner_id,
            new_owner_id,
            field="new_owner",
            detail="Choose an active colleague to take over the open registrations.",
        )
        if owner.pk == user.pk:
            raise ValidationFailed(
                "Choose someone else as the new owner.",
                fields={"new_owner": ["The user being deactivated cannot keep them."]},
            )
    else:
        owner = _fallback_owner(partner_id, user, actor)
    ids = list(
        open_registrations_owned_by(user, partner_id).order_by("pk").values_list("pk", flat=True)
    )
    if owner is None or not ids:
        return 0
    changed = 0
    with transaction.atomic():
        for pk in ids:
            changed += _reassign_locked(_locked(pk), actor, owner, reason="user_deactivated")
    return changed


def on_user_deactivating(sender, user, partner, actor=None, new_owner_id=None, **kwargs) -> None:
    """Receiver of partners.dispatch.user_deactivating (connected in deals.apps)."""
    registrations_hand_over(
        user=user, partner_id=partner.pk, actor=actor, new_owner_id=new_owner_id
    )


# --- Watchers -----------------------------------------------------------------------------------


def registration_watch(*, registration: DealRegistration, actor) -> bool:
    """A user of the registration's partner follows it. True when newly followed."""
    _require_partner_user(actor, registration.partner)
    if RegistrationWatcher.objects.filter(registration=registration, user=actor).exists():
        return False
    try:
        with transaction.atomic():
            RegistrationWatcher.objects.create(registration=registration, user=actor)
    except IntegrityError:  # a concurrent follow won: the same outcome
        return False
    return True


def registration_unwatch(*, registration: DealRegistration, actor) -> bool:
    """Stop following. True when the user was following it."""
    _require_partner_user(actor, registration.partner)
    deleted, _ = RegistrationWatcher.objects.filter(registration=registration, user=actor).delete()
    return bool(deleted)


def is_watching(user, registration_id: int) -> bool:
    return RegistrationWatcher.objects.filter(registration_id=registration_id, user=user).exists()


def watcher_count(registration_id: int) -> int:
    return RegistrationWatcher.objects.filter(registration_id=registration_id).count()
