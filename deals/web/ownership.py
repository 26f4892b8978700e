"""Owners and watchers in the pages (issue 17 §3): reassign one registration (partner admins
on the portal, managers on the review page), reassign many (the portal list), follow and
unfollow, and the partner admin's handover page before deactivating a colleague.

Thin like the rest of deals.web: scope through deals.access / the selectors, write through
deals.registrations.ownership (and partners.services for the deactivation itself)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from deals import access
from deals.registrations import ownership
from deals.web.common import domain_errors, error_text, partner_required
from partners.roles import is_manager, is_partner_admin, partner_of
from partners.selectors import partner_members
from prm.exceptions import DomainError, NotFound, ValidationFailed
from prm.lib.ids import parse_id


def _detail_url(user, registration) -> str:
    name = "manage_registration" if is_manager(user) else "registration_detail"
    return reverse(name, args=[registration.pk])


@login_required
@domain_errors(back="registration_detail")
@require_POST
def registration_reassign(request, pk):
    """A partner admin (portal) or a manager (review page) sets a registration's owner."""
    registration = access.access_registration_for_user(request.user, pk)
    owner_id = parse_id(request.POST.get("owner"))
    try:
        ownership.registration_reassign(
            registration=registration, actor=request.user, owner_id=owner_id
        )
    except ValidationFailed as exc:
        messages.error(request, error_text(exc))
        return redirect(_detail_url(request.user, registration))
    registration = access.access_registration_for_user(request.user, pk)
    messages.success(
        request, f"{registration.reference} is now owned by {registration.owner.get_full_name()}."
    )
    return redirect(_detail_url(request.user, registration))


@partner_required
@require_POST
def registrations_bulk_reassign(request):
    """The portal list: a partner admin reassigns the selected registrations to one owner."""
    if not is_partner_admin(request.user):
        raise PermissionDenied("Only your company's partner admins can reassign registrations.")
    back = reverse("registration_list")
    query = request.POST.get("query") or ""
    if query:
        back += "?" + query
    registrations = []
    for raw_id in request.POST.getlist("ids")[:200]:
        try:
            registrations.append(access.access_registration_for_user(request.user, raw_id))
        except NotFound:
            raise Http404 from None
    try:
        changed = ownership.registrations_reassign(
            registrations=registrations,
            actor=request.user,
            owner_id=parse_id(request.POST.get("owner")),
        )
    except DomainError as exc:
        messages.error(request, error_text(exc))
        return redirect(back)
    messages.success(
        request,
        f"Reassigned {changed} registration{'s' if changed != 1 else ''}."
        if changed
        else "Nothing changed: they already had that owner.",
    )
    return redirect(back)


@partner_required
@domain_errors(back="registration_detail")
@require_POST
def registration_watch(request, pk):
    """Follow (`action=watch`) or unfollow (`action=unwatch`) a registration of the company."""
    registration = access.access_registration_for_user(request.user, pk)
    action = request.POST.get("action")
    if action == "unwatch":
        ownership.registration_unwatch(registration=registration, actor=request.user)
        messages.success(request, f"You no longer follow {registration.reference}.")
    elif action == "watch":
        ownership.registration_watch(registration=registration, actor=request.user)
        messages.success(
            request, f"You follow {registration.reference}: you hear what its owner hears."
        )
    else:
        messages.error(request, "Choose to follow or to stop following.")
    return redirect("registration_detail", pk=registration.pk)


def _member_or_404(partner, pk):
    user_id = parse_id(pk)
    membership = partner_members(partner).filter(user_id=user_id).first() if user_id else None
    if membership is None:
        raise Http404
    return membership


@partner_required
@require_GET
def company_user_handover(request, pk):
    """Before deactivating a colleague: their open registrations and who takes them over.
    The form posts to partners' deactivation (partners.views.company_user_deactivate) with
    `new_owner`; the handover happens in that transaction (deals.registrations.ownership)."""
    if not is_partner_admin(request.user):
        raise PermissionDenied("Only your company's partner admins can manage users.")
    partner = partner_of(request.user)
    membership = _member_or_404(partner, pk)
    if not membership.user.is_active or membership.user_id == request.user.pk:
        messages.error(request, "This user cannot be deactivated here.")
        return redirect("company_users")
    open_registrations = list(
        ownership.open_registrations_owned_by(membership.user, partner.pk).order_by(
            "-created_at", "-id"
        )
    )
    candidates = [u for u in ownership.owner_candidates(partner.pk) if u.pk != membership.user_id]
    return render(
        request,
        "partners/handover.html",
        {
            "member": membership,
            "open_registrations": open_registrations,
            "candidates": candidates,
            "section": "company",
        },
    )
