"""The sales rep workspace: the conflicts touching the rep's own direct opportunities and,
read-only, the registrations involved (customer, partner, value, dates, the partner's activity
log and public comments; never internal notes). The one write is a co-sell proposal or
acceptance. What a rep sees comes from deals.registrations.selectors (conflicts_of_rep), the
same definition the API uses; anything else answers 404."""

from __future__ import annotations

import functools

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from deals import access
from deals.registrations import selectors
from deals.registrations.co_sell import conflict_co_sell_by_rep
from deals.web import selectors as selectors_portal
from deals.web.attachments import evidence_context
from deals.web.common import _page, describe_events, domain_errors, error_text
from partners.roles import is_sales_rep
from prm.exceptions import InvalidTransition, ValidationFailed

REP_PAGE_SIZE = 25


def sales_rep_required(view):
    """Rep pages: 403 for everyone but sales reps (the role, not an object, is refused)."""

    @functools.wraps(view)
    @login_required
    def wrapper(request, *args, **kwargs):
        if not is_sales_rep(request.user):
            raise PermissionDenied("Only sales reps can use the rep workspace.")
        return view(request, *args, **kwargs)

    return wrapper


@sales_rep_required
@require_GET
def rep_workspace(request):
    page, query = _page(request, selectors_portal.rep_conflicts(request.user), REP_PAGE_SIZE)
    items = selectors_portal.rep_items(list(page.object_list), user=request.user)
    return render(
        request,
        "rep/workspace.html",
        {"page": page, "items": items, "query": query, "section": "rep"},
    )


@sales_rep_required
@domain_errors()
@require_GET
def rep_registration(request, pk):
    user = request.user
    registration = access.access_registration_for_user(user, pk)
    conflicts = list(selectors_portal.rep_conflicts(user, registration_id=registration.pk))
    return render(
        request,
        "rep/registration.html",
        {
            **evidence_context(registration, partner=False),
            "r": registration,
            "items": selectors_portal.rep_items(conflicts, user=user),
            "timeline": describe_events(
                list(selectors.registration_timeline(registration, user=user)), partner=True
            ),
            "comments": list(selectors.comments_visible_to(user, registration)),
            "activities": list(selectors.activities_for(registration)),
            "section": "rep",
        },
    )


@sales_rep_required
@domain_errors()
@require_POST
def rep_co_sell(request, pk):
    conflict = access.access_conflict_for_user(request.user, pk)
    action = request.POST.get("action", "")
    try:
        conflict_co_sell_by_rep(
            conflict=conflict, actor=request.user, action=action, note=request.POST.get("note", "")
        )
    except (InvalidTransition, ValidationFailed) as exc:
        messages.error(request, error_text(exc))
    else:
        done = "Co-sell proposed: a channel manager decides." if action == "propose" else None
        messages.success(request, done or "Co-sell accepted.")
    return redirect("rep_registration", pk=conflict.registration_id)
