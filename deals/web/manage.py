"""The manager workspace: the review queue, a registration's review page and decisions, conflicts, extensions, partners and the direct pipeline."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from deals import access, customfields, lifecycle
from deals.models import (
    ConflictStatus,
    OpportunityStatus,
    RegistrationStatus,
)
from deals.opportunities.selectors import opportunities_visible_to
from deals.policy import policy_current
from deals.registrations import ownership, routing, selectors, services
from deals.registrations.collaboration import comment_create
from deals.registrations.extensions import extension_request_decide
from deals.web import selectors as selectors_portal
from deals.web.attachments import evidence_context
from deals.web.common import (
    _page,
    custom_filter_choices,
    describe_events,
    domain_errors,
    echoed_forms,
    error_text,
    manager_required,
)
from deals.web.forms import (
    ApproveForm,
    InternalNoteForm,
    OpportunityImportForm,
    RejectForm,
    RequestInfoForm,
    ResolveForm,
    RevokeForm,
)
from partners.models import Partner, Tier
from partners.selectors import partner_members
from prm.exceptions import (
    DomainError,
    InvalidTransition,
    NotFound,
    StateConflict,
    ValidationFailed,
)
from prm.lib.ids import parse_id

QUEUE_PAGE_SIZE = 50


# --- Manager workspace ----------------------------------------------------------------------------


QUEUE_VIEW_CHOICES = (
    ("decide", "Awaiting decision"),
    ("partner", "Awaiting partner"),
    ("extensions", "Extension requests"),
)


def _queue_tabs(current: str) -> dict:
    """The queue's views with their counts (issue 17 §5): a constant number of queries."""
    counts = selectors.queue_counts()
    return {
        "views": [
            {"key": "decide", "label": "Awaiting decision", "count": counts["decide"]},
            {"key": "partner", "label": "Awaiting partner", "count": counts["partner"]},
            {
                "key": "extensions",
                "label": "Extension requests",
                "count": selectors.pending_extension_requests().count(),
            },
        ],
        "conflict_count": selectors_portal.open_conflict_total(),
        "view": current,
    }


@manager_required
@require_GET
def manage_queue(request):
    view = request.GET.get("view") or "decide"
    if view not in dict(QUEUE_VIEW_CHOICES):
        return render(request, "errors/400.html", status=400)
    if view == "extensions":
        return _extension_queue(request)
    params = {
        k: request.GET.get(k, "") for k in ("partner", "tier", "conflict_status", "product_line")
    }
    assignment = request.GET.get("assigned") or "all"
    if assignment not in selectors.ASSIGNMENT_FILTERS:
        return render(request, "errors/400.html", status=400)
    scope = selectors.assignment_scope(request.user)
    partner_id = parse_id(params["partner"])
    if params["partner"] and partner_id is None:
        # Not a 64-bit id (20 digits, "²"...): a bad filter, never a query that overflows.
        return render(request, "errors/400.html", status=400)
    custom = {name: request.GET.get(name, "") for name in customfields.filter_names(request.GET)}
    try:
        queryset = selectors.review_queue(
            partner_id=partner_id,
            tier=params["tier"] or None,
            conflict_status=params["conflict_status"] or None,
            product_line=params["product_line"] or None,
            custom=custom,
            view=view,
            assignment=assignment,
            scope=scope,
        )
    except ValidationFailed:
        return render(request, "errors/400.html", status=400)
    page, query = _page(request, queryset, QUEUE_PAGE_SIZE)
    rows = list(page.object_list)
    counts = selectors_portal.open_conflict_counts([r.pk for r in rows])
    for row in rows:
        row.open_conflicts = counts.get(row.pk, 0)
        # "Select all clear" picks only what a manager can approve now: submitted (not
        # awaiting the partner) with no open conflict on either side.
        row.approvable_now = (
            lifecycle.can("approve", row.status)
            and row.manager_conflict_status == ConflictStatus.CLEAR
            # A later approval step is its approver's (or their team's, or a delegate's).
            and (
                row.approval_step <= 1
                or row.assigned_manager_id in scope[0]
                or (row.assigned_manager_id is None and row.assigned_team_id in scope[1])
            )
        )
        # Claim: nobody has it personally, and (for a team's item) the user is on the team.
        row.claimable = row.assigned_manager_id is None and (
            row.assigned_team_id is None or row.assigned_team_id in scope[1]
        )
    counts = selectors.assignment_counts(view, scope)
    assignment_tabs = [
        {"key": key, "label": label, "count": counts[key]}
        for key, label in (
            ("mine", "Mine"),
            ("team", "My team"),
            ("unassigned", "Unassigned"),
            ("all", "All"),
        )
    ]
    return render(
        request,
        "manage/queue.html",
        {
            **_queue_tabs(view),
            "page": page,
            "rows": rows,
            "query": query,
            "current": params,
            "filtered": any(params.values()) or any(custom.values()),
            "partners": list(Partner.objects.order_by("name").values_list("pk", "name")),
            "tiers": list(Tier.objects.order_by("rank", "code").values_list("code", "name")),
            "product_lines": selectors_portal.product_lines_in_use(),
            "conflict_choices": ConflictStatus.choices,
            "custom_filters": custom_filter_choices(customfields.form_current().fields, custom),
            "overdue_count": sum(1 for r in rows if r.is_overdue),
            "assignment": assignment,
            "assignment_tabs": assignment_tabs,
            "section": "queue",
        },
    )


def _extension_queue(request):
    """Pending extension requests, oldest first, decided from here or the review page."""
    page, query = _page(request, selectors.pending_extension_requests(), QUEUE_PAGE_SIZE)
    return render(
        request,
        "manage/extensions.html",
        {
            **_queue_tabs("extensions"),
            "page": page,
            "extensions": list(page.object_list),
            "query": query,
            "section": "queue",
        },
    )


CONFLICT_PAGE_SIZE = 50
AGE_CHOICES = (
    ("", "Any age"),
    ("1", "1 day or more"),
    ("3", "3 days or more"),
    ("7", "a week or more"),
)


@manager_required
@require_GET
def manage_conflicts(request):
    """Every open conflict, post-approval ones included, oldest first, with its own SLA;
    filters by kind, partner (either side), rep and age."""
    params = {k: (request.GET.get(k) or "").strip() for k in ("kind", "partner", "rep", "age")}
    partner_id = parse_id(params["partner"])
    if (params["partner"] and partner_id is None) or params["age"] not in dict(AGE_CHOICES):
        return render(request, "errors/400.html", status=400)
    queryset = selectors_portal.open_conflicts_worklist(
        kind=params["kind"],
        partner_id=partner_id,
        rep_email=params["rep"][:254],
        min_age_days=params["age"] or None,
    )
    page, query = _page(request, queryset, CONFLICT_PAGE_SIZE)
    items = selectors_portal.worklist_items(
        list(page.object_list), user=request.user, policy=policy_current()
    )
    return render(
        request,
        "manage/conflicts.html",
        {
            "page": page,
            "items": items,
            "query": query,
            "current": params,
            "filtered": any(params.values()),
            "partners": list(Partner.objects.order_by("name").values_list("pk", "name")),
            "reps": selectors_portal.opportunity_owners(),
            "age_choices": AGE_CHOICES,
            "section": "conflicts",
        },
    )


@manager_required
@require_POST
def manage_bulk_approve(request):
    """Approve each selected registration that is clear, one service call each; report."""
    approved, skipped, stepped = [], [], []
    for raw_id in request.POST.getlist("ids"):
        try:
            registration = access.access_registration_for_user(
                request.user, raw_id, shape=selectors.with_manager_conflict_status
            )
        except NotFound:
            skipped.append(f"#{raw_id}: not found")
            continue
        # Open conflicts on either side count: the earlier registration is not clear either.
        if getattr(registration, "manager_conflict_status", None) != ConflictStatus.CLEAR:
            skipped.append(f"{registration.reference}: not clear, review it first")
            continue
        if not _approvable_now(registration):
            skipped.append(f"{registration.reference}: awaiting the partner, not a decision")
            continue
        try:
            result = services.registration_approve(registration=registration, actor=request.user)
        except DomainError as exc:
            skipped.append(f"{registration.reference}: {error_text(exc)}")
            continue
        if result.status == RegistrationStatus.APPROVED:
            approved.append(registration.reference)
        else:
            stepped.append(registration.reference)
    if approved:
        messages.success(request, f"Approved {len(approved)}: {', '.join(approved)}.")
    if stepped:
        messages.success(
            request,
            f"First approval step done for {len(stepped)} (a second approver decides): "
            f"{', '.join(stepped)}.",
        )
    if skipped:
        messages.warning(request, f"Not approved {len(skipped)}: {'; '.join(skipped)}.")
    if not approved and not skipped and not stepped:
        messages.info(request, "Select the clear registrations to approve first.")
    return redirect(
        reverse("manage_queue") + ("?" + request.POST["query"] if request.POST.get("query") else "")
    )


def _approvable_now(registration) -> bool:
    return (
        lifecycle.can("approve", registration.status)
        and getattr(registration, "manager_conflict_status", None) == ConflictStatus.CLEAR
    )


@manager_required
@domain_errors()
@require_GET
def manage_registration(request, pk):
    user = request.user
    registration = access.access_registration_for_user(
        user,
        pk,
        shape=lambda qs: selectors.with_manager_conflict_status(
            qs.select_related("assigned_manager", "assigned_team")
        ),
    )
    # Managers see open conflicts on either side (display only; the partner's verdict stays).
    registration.conflict_status = registration.manager_conflict_status
    sides = selectors_portal.conflict_sides(registration, user=user)
    extensions = list(
        selectors.extension_requests_visible_to(user).filter(registration=registration)
    )
    awaiting = registration.status in (
        RegistrationStatus.SUBMITTED,
        RegistrationStatus.INFO_REQUESTED,
    )
    forms = echoed_forms(
        request,
        {
            "manage_revoke": (RevokeForm, None),
            "manage_approve": (ApproveForm, None),
            "manage_reject": (RejectForm, None),
            "manage_request_info": (RequestInfoForm, None),
            "manage_note": (InternalNoteForm, None),
        },
    )
    return render(
        request,
        "manage/registration.html",
        {
            **evidence_context(registration, partner=False),
            "r": registration,
            "sides": sides,
            "open_conflicts": [s for s in sides if s.conflict.status == "open"],
            "timeline": describe_events(
                list(selectors.registration_timeline(registration, user=user))
            ),
            "comments": list(selectors.comments_visible_to(user, registration)),
            "activities": list(selectors.activities_for(registration)),
            "extensions": extensions,
            "policy": policy_current(),
            "can_approve": lifecycle.can("approve", registration.status),
            "can_reject": lifecycle.can("reject", registration.status),
            "can_request_info": lifecycle.can("request_info", registration.status),
            "can_revoke": lifecycle.can("revoke", registration.status),
            "revoke_form": forms["manage_revoke"],
            "awaiting": awaiting,
            "approve_form": forms["manage_approve"],
            "reject_form": forms["manage_reject"],
            "request_info_form": forms["manage_request_info"],
            "note_form": forms["manage_note"],
            "resolve_form": ResolveForm(),
            "can_reassign": True,
            "owner_candidates": list(ownership.owner_candidates(registration.partner_id)),
            **_routing_context(registration, user),
            "section": "queue",
        },
    )


def _routing_context(registration, user) -> dict:
    """The review page's assignment panel (issue 17 §4): who reviews, the approval step,
    claim and reassign, and whether the user may approve the current step."""
    managers, teams = routing.assignee_choices()
    awaiting = registration.status in routing.AWAITING
    assigned_manager = registration.assigned_manager
    assigned_team = registration.assigned_team
    return {
        "assigned_manager": assigned_manager,
        "assigned_team": assigned_team,
        "assignee_managers": managers,
        "assignee_teams": teams,
        "can_claim": awaiting
        and registration.assigned_manager_id is None
        and (
            registration.assigned_team_id is None
            or user.is_superuser
            or registration.assigned_team_id in selectors.assignment_scope(user)[1]
        ),
        "can_assign": awaiting,
        "can_approve_step": routing.can_approve_step(user, registration),
    }


@manager_required
@domain_errors(back="manage_registration")
@require_POST
def manage_claim(request, pk):
    registration = access.access_registration_for_user(request.user, pk)
    routing.registration_claim(registration=registration, actor=request.user)
    messages.success(request, f"{registration.reference} is yours to review.")
    if request.POST.get("back") == "queue":
        return redirect(reverse("manage_queue") + "?assigned=mine")
    return redirect("manage_registration", pk=pk)


@manager_required
@domain_errors(back="manage_registration")
@require_POST
def manage_assign(request, pk):
    registration = access.access_registration_for_user(request.user, pk)
    manager, team = routing.parse_assignee(request.POST.get("assignee", ""))
    routing.registration_assign(
        registration=registration, actor=request.user, manager=manager, team=team
    )
    who = (manager.get_full_name() or manager.email) if manager else (team.name if team else "")
    messages.success(
        request,
        f"{registration.reference} assigned to {who}."
        if who
        else f"{registration.reference} is unassigned.",
    )
    return redirect("manage_registration", pk=pk)


@manager_required
@domain_errors(back="manage_registration")
@require_POST
def manage_approve(request, pk):
    registration = access.access_registration_for_user(request.user, pk)
    raw_days = (request.POST.get("protection_days") or "").strip()
    if raw_days and not (raw_days.isascii() and raw_days.isdigit() and len(raw_days) <= 6):
        raise ValidationFailed(
            "Invalid protection days.",
            fields={"protection_days": ["Enter a whole number of days."]},
        )
    registration = services.registration_approve(
        registration=registration,
        actor=request.user,
        note=request.POST.get("note", ""),
        protection_days=int(raw_days) if raw_days else None,
        override_reason=request.POST.get("override_reason", ""),
    )
    if registration.status != RegistrationStatus.APPROVED:
        messages.success(
            request,
            f"Step {registration.approval_step - 1} of {registration.approval_steps} approved: "
            f"{registration.reference} now waits for its next approver.",
        )
        return redirect("manage_registration", pk=pk)
    messages.success(
        request,
        f"{registration.reference} approved; protected until {registration.expires_at:%d %b %Y}.",
    )
    return redirect("manage_registration", pk=pk)


@manager_required
@domain_errors(back="manage_registration")
@require_POST
def manage_revoke(request, pk):
    registration = access.access_registration_for_user(request.user, pk)
    services.registration_revoke(
        registration=registration,
        actor=request.user,
        reason=request.POST.get("reason", ""),
        note=request.POST.get("note", ""),
    )
    messages.success(request, f"{registration.reference} revoked; its protection has ended.")
    return redirect("manage_registration", pk=pk)


@manager_required
@domain_errors(back="manage_registration")
@require_POST
def manage_reject(request, pk):
    registration = access.access_registration_for_user(request.user, pk)
    services.registration_reject(
        registration=registration,
        actor=request.user,
        reason=request.POST.get("reason", ""),
        note=request.POST.get("note", ""),
    )
    messages.success(request, f"{registration.reference} rejected.")
    return redirect("manage_registration", pk=pk)


@manager_required
@domain_errors(back="manage_registration")
@require_POST
def manage_request_info(request, pk):
    registration = access.access_registration_for_user(request.user, pk)
    services.registration_request_info(
        registration=registration, actor=request.user, message=request.POST.get("message", "")
    )
    messages.success(request, f"Information requested on {registration.reference}.")
    return redirect("manage_registration", pk=pk)


@manager_required
@domain_errors(back="manage_registration")
@require_POST
def manage_note(request, pk):
    """Internal note (managers only) or, with visibility=partner, a reply the partner sees."""
    registration = access.access_registration_for_user(request.user, pk)
    internal = request.POST.get("visibility", "internal") != "partner"
    comment_create(
        registration=registration,
        actor=request.user,
        body=request.POST.get("body", ""),
        internal=internal,
    )
    messages.success(request, "Internal note added." if internal else "Reply sent to the partner.")
    return redirect(reverse("manage_registration", kwargs={"pk": pk}) + "#conversation")


@manager_required
@domain_errors()
@require_POST
def manage_conflict_resolve(request, pk):
    conflict = access.access_conflict_for_user(request.user, pk)
    # Back to the page it was resolved from: either registration of the pair.
    back_id = parse_id(request.POST.get("back") or "")
    sides = {conflict.registration_id}
    if conflict.kind == "registration":
        sides.add(conflict.other_id)
    back = reverse(
        "manage_registration",
        kwargs={"pk": back_id if back_id in sides else conflict.registration_id},
    )
    try:
        conflict = services.conflict_resolve(
            conflict=conflict,
            actor=request.user,
            resolution=request.POST.get("resolution", ""),
            note=request.POST.get("note", ""),
        )
    except (InvalidTransition, StateConflict, ValidationFailed) as exc:
        messages.error(request, error_text(exc))
        return redirect(back)
    messages.success(request, f"Conflict resolved: {conflict.get_resolution_display()}.")
    return redirect(back)


@manager_required
@domain_errors()
@require_POST
def manage_extension_decide(request, pk):
    extension = access.access_extension_request_for_user(request.user, pk)
    back = reverse("manage_registration", kwargs={"pk": extension.registration_id})
    if request.POST.get("back") == "queue":
        back = reverse("manage_queue") + "?view=extensions"
    approve = request.POST.get("decision") == "approve"
    try:
        extension_request_decide(
            request=extension,
            actor=request.user,
            approve=approve,
            note=request.POST.get("note", ""),
        )
    except (InvalidTransition, StateConflict, ValidationFailed) as exc:
        messages.error(request, error_text(exc))
        return redirect(back)
    messages.success(request, "Extension approved." if approve else "Extension rejected.")
    return redirect(back)


@manager_required
@require_GET
def manage_partner_list(request):
    queryset = selectors_portal.partners_with_figures()
    search = (request.GET.get("search") or "").strip()
    if search:
        queryset = queryset.filter(name__icontains=search)
    page, query = _page(request, queryset)
    return render(
        request,
        "manage/partner_list.html",
        {
            "page": page,
            "query": query,
            "search": search,
            "section": "partners",
            "withdrawal_alert": selectors_portal.withdrawal_alert_limit()[0],
        },
    )


@manager_required
@require_GET
def manage_partner_detail(request, pk):
    partner = (
        selectors_portal.partners_with_figures().filter(pk=parse_id(pk)).first()
        if parse_id(pk)
        else None
    )
    if partner is None:
        raise Http404
    registrations = selectors.registrations_of_partner_visible_to(request.user, partner.pk)
    return render(
        request,
        "manage/partner_detail.html",
        {
            "partner": partner,
            "members": list(partner_members(partner)),
            "registrations": list(registrations.order_by("-created_at", "-id")[:20]),
            "registration_total": registrations.count(),
            "scorecard": selectors_portal.partner_figures(request.user, partner.pk),
            "section": "partners",
        },
    )


def _render_sales_reps(request, form, *, status=200):
    from partners.selectors import sales_reps

    return render(
        request,
        "manage/sales_reps.html",
        {"reps": list(sales_reps()), "form": form, "section": "sales_reps"},
        status=status,
    )


@manager_required
@require_http_methods(["GET", "POST"])
def manage_sales_reps(request):
    """Direct sales reps: the list, and a form to add one (partners.services)."""
    from partners.forms import SalesRepForm
    from partners.services import sales_rep_create

    if request.method == "GET":
        return _render_sales_reps(request, SalesRepForm())
    form = SalesRepForm(request.POST)
    form.is_valid()
    try:
        rep = sales_rep_create(
            actor=request.user,
            email=request.POST.get("email", ""),
            name=request.POST.get("name", ""),
            password=request.POST.get("password") or None,
        )
    except ValidationFailed as exc:
        form.apply_errors(exc)
        return _render_sales_reps(request, form, status=400)
    messages.success(request, f"Sales rep {rep.email} added.")
    return redirect("manage_sales_reps")


@manager_required
@require_GET
def manage_opportunity_list(request):
    queryset = opportunities_visible_to(request.user)
    search = (request.GET.get("search") or "").strip()
    status = request.GET.get("status") or ""
    if search:
        queryset = queryset.filter(
            Q(external_id__icontains=search)
            | Q(account_name__icontains=search)
            | Q(account_domain__icontains=search)
        )
    if status in OpportunityStatus.values:
        queryset = queryset.filter(status=status)
    page, query = _page(request, queryset.order_by("-updated_at", "-id"))
    return render(
        request,
        "manage/opportunity_list.html",
        {
            "page": page,
            "query": query,
            "search": search,
            "status": status,
            "status_choices": OpportunityStatus.choices,
            "filtered": bool(search or status),
            "section": "opportunities",
        },
    )


@manager_required
@require_http_methods(["GET", "POST"])
def manage_opportunity_import(request):
    """CSV import, all or nothing, with a per-row error report (deals.opportunities.csv_import)."""
    context = {"section": "opportunities"}
    if request.method == "GET":
        context["form"] = OpportunityImportForm()
        return render(request, "manage/opportunity_import.html", context)
    form = OpportunityImportForm(request.POST, request.FILES)
    context["form"] = form
    if not form.is_valid():
        return render(request, "manage/opportunity_import.html", context, status=400)
    from deals.opportunities.csv_import import opportunities_import_csv

    try:
        result = opportunities_import_csv(form.cleaned_data["file"])
    except ValidationFailed as exc:
        rows = exc.extra.get("rows") or {}
        context["row_errors"] = _row_report(rows)
        context["error"] = exc.detail if rows else error_text(exc)
        return render(request, "manage/opportunity_import.html", context, status=400)
    except DomainError as exc:
        context["error"] = error_text(exc)
        return render(request, "manage/opportunity_import.html", context, status=400)
    created = result.get("created", 0) if isinstance(result, dict) else 0
    updated = result.get("updated", 0) if isinstance(result, dict) else 0
    messages.success(request, f"Import complete: {created} created, {updated} updated.")
    return redirect("manage_opportunity_list")


def _row_report(rows: dict) -> list[dict]:
    """[{row, line, errors: [(field, message)]}] sorted by row number."""

    def sort_key(item):
        key = str(item[0])
        return (0, int(key)) if key.isdigit() else (1, key)

    report = []
    for key, fields in sorted(rows.items(), key=sort_key):
        errors = []
        if isinstance(fields, dict):
            for name, msgs in fields.items():
                for message in msgs if isinstance(msgs, list) else [msgs]:
                    errors.append((name, str(message)))
        else:
            errors.append(("", str(fields)))
        # Index 0 is the first data row: line 2 of the file, after the header.
        line = int(key) + 2 if str(key).isdigit() else key
        report.append({"row": key, "line": line, "errors": errors})
    return report


# --- Delegation (issue 17 §4) -------------------------------------------------------------------


def _delegation_bounds(start_raw: str, end_raw: str):
    """[start of the first day, start of the day after the last) in the user's time zone."""
    import datetime as dt

    from django.utils import timezone

    errors = {}
    days = {}
    for name, raw in (("starts_on", start_raw), ("ends_on", end_raw)):
        try:
            days[name] = dt.date.fromisoformat((raw or "").strip())
        except ValueError:
            errors[name] = ["Enter a date (YYYY-MM-DD)."]
    if errors:
        raise ValidationFailed("The delegation is not valid.", fields=errors)
    tz = timezone.get_current_timezone()
    starts_at = dt.datetime.combine(days["starts_on"], dt.time.min, tzinfo=tz)
    ends_at = dt.datetime.combine(days["ends_on"] + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    return starts_at, ends_at


@manager_required
@require_http_methods(["GET", "POST"])
def manage_delegation(request):
    """A manager away routes their queue to a colleague for a period (and sees who covers
    whom): the delegate sees the manager's assignments under "Mine" during the period."""
    user = request.user
    errors: dict = {}
    if request.method == "POST":
        from partners.models import User

        delegate = None
        raw = parse_id(request.POST.get("delegate") or "")
        if raw is not None:
            delegate = User.objects.filter(pk=raw, is_active=True).first()
        try:
            starts_at, ends_at = _delegation_bounds(
                request.POST.get("starts_on", ""), request.POST.get("ends_on", "")
            )
            routing.delegation_create(
                actor=user,
                manager=user,
                delegate=delegate,
                starts_at=starts_at,
                ends_at=ends_at,
                note=request.POST.get("note", ""),
            )
        except ValidationFailed as exc:
            errors = exc.fields or {"delegate": [error_text(exc)]}
        else:
            messages.success(request, "Delegation saved: your colleague covers your queue.")
            return redirect("manage_delegation")
    managers, _teams = routing.assignee_choices()
    return render(
        request,
        "manage/delegation.html",
        {
            "delegations": list(routing.delegations_of(user)),
            "colleagues": [m for m in managers if m.pk != user.pk],
            "errors": errors,
            "values": request.POST if request.method == "POST" else {},
            "section": "queue",
        },
        status=400 if errors else 200,
    )


@manager_required
@domain_errors()
@require_POST
def manage_delegation_end(request, pk):
    from deals.models import Delegation

    delegation = Delegation.objects.filter(pk=pk, manager_id=request.user.pk).first()
    if delegation is None:
        raise Http404
    routing.delegation_end(actor=request.user, delegation=delegation)
    messages.success(request, "Delegation ended.")
    return redirect("manage_delegation")
