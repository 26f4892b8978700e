"""Browser pages: the partner portal and the manager workspace.

Thin like the API: read through deals.selectors / selectors_portal / access, write through
deals.services, and map domain errors the same way everywhere (`domain_errors`):
NotFound → 404, PermissionDeniedError → 403, InvalidTransition / StateConflict → a message and
a redirect back. Every form is a POST with CSRF and works without JavaScript; htmx only adds
the live availability verdict.
"""

from __future__ import annotations

import functools

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from conflicts.models import Conflict
from deals import access, lifecycle, selectors, selectors_portal, services
from deals.forms import (
    ActivityForm,
    ApproveForm,
    CloseForm,
    CommentForm,
    ExtensionForm,
    InternalNoteForm,
    OpportunityImportForm,
    RegistrationForm,
    RejectForm,
    RequestInfoForm,
    ResolveForm,
)
from deals.models import (
    ConflictStatus,
    ExtensionStatus,
    OpportunityStatus,
    RegistrationStatus,
    RejectionReason,
)
from partners.models import Partner, Tier
from partners.roles import is_manager, partner_of
from partners.selectors import partner_members
from prm.exceptions import (
    DomainError,
    DuplicateRegistration,
    InvalidTransition,
    NotFound,
    PermissionDeniedError,
    StateConflict,
    ValidationFailed,
)

PAGE_SIZE = 25
QUEUE_PAGE_SIZE = 50
PARTNER_ACTIONS = {"submit", "resubmit", "withdraw", "close_won", "close_lost"}


# --- Plumbing -------------------------------------------------------------------------------------


def error_text(exc: DomainError) -> str:
    """One readable sentence for a domain error, field messages included."""
    if isinstance(exc, ValidationFailed) and exc.fields:
        parts = []
        for name, msgs in exc.fields.items():
            label = "" if name in ("non_field_errors", "__all__") else name.replace("_", " ")
            text = " ".join(str(m) for m in (msgs if isinstance(msgs, list) else [msgs]))
            parts.append(f"{label.capitalize()}: {text}" if label else text)
        return " ".join(parts)
    return exc.detail


def domain_errors(back: str | None = None):
    """Map domain errors for a view. `back` names the URL (same kwargs as the view) that a
    refused action returns to with the error as a message."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            try:
                return view(request, *args, **kwargs)
            except NotFound:
                raise Http404 from None
            except PermissionDeniedError as exc:
                raise PermissionDenied(exc.detail) from None
            except (
                InvalidTransition,
                StateConflict,
                DuplicateRegistration,
                ValidationFailed,
            ) as exc:
                if back is None:
                    raise
                messages.error(request, error_text(exc))
                return redirect(back, *args, **kwargs)

        return wrapper

    return decorate


def manager_required(view):
    """Manager pages: 403 for everyone else (the role, not an object, is refused)."""

    @functools.wraps(view)
    @login_required
    def wrapper(request, *args, **kwargs):
        if not is_manager(request.user):
            raise PermissionDenied("Only channel managers can use the manager workspace.")
        return view(request, *args, **kwargs)

    return wrapper


def partner_required(view):
    """Pages that act for a partner company: 403 for users without one."""

    @functools.wraps(view)
    @login_required
    def wrapper(request, *args, **kwargs):
        if partner_of(request.user) is None or is_manager(request.user):
            raise PermissionDenied("Only partner users can do this.")
        return view(request, *args, **kwargs)

    return wrapper


def _page(request, queryset, size=PAGE_SIZE):
    page = Paginator(queryset, size).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return page, query.urlencode()


STATUS_LABELS = dict(RegistrationStatus.choices)
REJECTION_LABELS = dict(RejectionReason.choices)
RESOLUTION_LABELS = dict(Conflict.Resolution.choices)
CONFLICT_LABELS = {
    "clear": "clear",
    "potential_conflict": "needs review",
    "conflict": "already engaged",
}


def describe_events(events) -> list:
    """Attach a readable `summary` and status labels to timeline events (what the template shows)."""
    for event in events:
        details = event.details or {}
        event.from_label = STATUS_LABELS.get(event.from_status, "")
        event.to_label = STATUS_LABELS.get(event.to_status, "")
        summary = ""
        action = event.action
        if action in ("submitted", "resubmitted") and details.get("conflict_status"):
            summary = f"Availability: {CONFLICT_LABELS.get(details['conflict_status'], '')}."
        elif action in ("approved", "auto_approved"):
            days = details.get("protection_days")
            summary = f"Protected for {days} days." if days else ""
            if details.get("note"):
                summary += f" “{details['note']}”"
        elif action == "rejected":
            summary = REJECTION_LABELS.get(details.get("reason", ""), "")
            if details.get("note"):
                summary += f" — “{details['note']}”"
        elif action == "info_requested":
            summary = details.get("message", "")
        elif action == "edited" and details.get("fields"):
            summary = "Changed " + ", ".join(f.replace("_", " ") for f in details["fields"]) + "."
        elif action in ("extension_requested",):
            summary = details.get("reason", "")
        elif action in ("extension_approved", "extension_rejected") and details.get("note"):
            summary = f"“{details['note']}”"
        elif action in ("closed_won", "closed_lost"):
            summary = details.get("lost_reason") or ""
        elif action == "conflict_resolved":
            summary = RESOLUTION_LABELS.get(details.get("resolution", ""), "")
            if details.get("note"):
                summary += f" — “{details['note']}”"
        elif action == "conflict_detected":
            matches = details.get("matches") or []
            summary = f"{len(matches)} match{'es' if len(matches) != 1 else ''}" + (
                f", best score {max(m.get('score', 0) for m in matches)}." if matches else "."
            )
        elif action == "activity_logged" and details.get("kind"):
            summary = f"{details['kind'].capitalize()} recorded."
        event.summary = summary.strip()
    return events


def _existing_link(user, existing_id):
    """The user's own registration a duplicate points to (their own company's, so safe)."""
    try:
        existing = access.access_registration_for_user(user, existing_id)
    except NotFound:
        return None
    return existing


# --- Partner portal -------------------------------------------------------------------------------


@login_required
def home(request):
    if is_manager(request.user):
        return redirect("manage_queue")
    dashboard = selectors_portal.partner_dashboard(request.user)
    return render(
        request,
        "home.html",
        {"dashboard": dashboard, "section": "home", "partner": partner_of(request.user)},
    )


@login_required
@require_GET
def registration_list(request):
    user = request.user
    queryset = selectors.registrations_filter(
        selectors.registrations_visible_to(user), params=request.GET, user=user
    )
    page, query = _page(request, queryset)
    filtered = any(request.GET.get(k) for k in ("status", "conflict_status", "search"))
    return render(
        request,
        "portal/registration_list.html",
        {
            "page": page,
            "query": query,
            "filtered": filtered,
            "status_choices": RegistrationStatus.choices,
            "conflict_choices": ConflictStatus.choices,
            "current": {k: request.GET.get(k, "") for k in ("status", "conflict_status", "search")},
            "section": "registrations",
            "show_partner": is_manager(user),
        },
    )


def _registration_form(request, *, initial=None):
    products = list(selectors.products_active().order_by("product_line__name", "name"))
    required = selectors.policy_current().required_fields or []
    if request.method == "POST":
        form = RegistrationForm(request.POST, products=products, required_fields=required)
        form.is_valid()  # binds and strips; the services do the validation
        return form
    return RegistrationForm(
        initial=initial or {"currency": "USD", "stage": "qualification"},
        products=products,
        required_fields=required,
    )


def _availability(user, data: dict) -> dict | None:
    """The availability verdict for the customer fields, or None when too little is typed.
    The same function as POST /api/v1/conflict-check/ (deals.availability)."""
    from deals.availability import availability_check

    name = (data.get("customer_name") or "").strip()
    if len(name) < 2:
        return None
    payload = {
        "customer_name": name,
        "customer_domain": (data.get("customer_domain") or "").strip(),
        "customer_country": (data.get("customer_country") or "").strip(),
        "products": list(data.get("products") or []),
    }
    try:
        result = availability_check(actor=user, data=payload, source="portal")
    except ValidationFailed as exc:
        fields = exc.fields or {}
        if "customer_country" in fields:
            return {"status": "incomplete", "message": "Choose the customer's country to check."}
        return {"status": "incomplete", "message": error_text(exc)}
    except DomainError as exc:
        return {"status": "unavailable", "message": exc.detail}
    # Never more than the redacted verdict reaches a partner page.
    return {
        "status": result.get("status"),
        "available": result.get("available"),
        "message": result.get("message", ""),
    }


@partner_required
@domain_errors()
@require_http_methods(["GET", "POST"])
def registration_create(request):
    form = _registration_form(request)
    context = {"form": form, "section": "register", "mode": "create"}
    if request.method == "POST":
        intent = request.POST.get("intent", "submit")
        data = form.service_data()
        if intent == "check":
            context["availability"] = _availability(request.user, data)
            return render(request, "portal/registration_form.html", context)
        try:
            registration = services.registration_create(
                actor=request.user, data=data, submit=(intent != "draft")
            )
        except ValidationFailed as exc:
            form.apply_errors(exc)
            return render(request, "portal/registration_form.html", context, status=400)
        except DuplicateRegistration as exc:
            context["duplicate_of"] = _existing_link(request.user, exc.extra.get("existing_id"))
            context["duplicate_message"] = exc.detail
            return render(request, "portal/registration_form.html", context, status=409)
        if registration.status == RegistrationStatus.DRAFT:
            messages.success(request, f"Draft {registration.reference} saved.")
        else:
            messages.success(
                request,
                f"{registration.reference} submitted. A channel manager will review it.",
            )
        return redirect("registration_detail", pk=registration.pk)
    return render(request, "portal/registration_form.html", context)


@partner_required
@require_POST
def registration_availability(request):
    """The live verdict beside the customer fields (htmx partial). Says only clear / needs
    review / already engaged — never who."""
    form = _registration_form(request)
    result = _availability(request.user, form.service_data())
    return render(request, "portal/_availability.html", {"availability": result})


@partner_required
@domain_errors(back="registration_detail")
@require_http_methods(["GET", "POST"])
def registration_edit(request, pk):
    registration = access.access_registration_for_user(request.user, pk)
    if registration.status not in lifecycle.EDITABLE_STATUSES:
        raise InvalidTransition("Only drafts and registrations awaiting information can be edited.")
    if request.method == "GET":
        form = _registration_form(request, initial=RegistrationForm.initial_for(registration))
        return render(
            request,
            "portal/registration_form.html",
            {
                "form": form,
                "registration": registration,
                "mode": "edit",
                "section": "registrations",
            },
        )
    form = _registration_form(request)
    context = {
        "form": form,
        "registration": registration,
        "mode": "edit",
        "section": "registrations",
    }
    intent = request.POST.get("intent", "save")
    data = form.service_data()
    if intent == "check":
        context["availability"] = _availability(request.user, data)
        return render(request, "portal/registration_form.html", context)
    try:
        registration = services.registration_update(
            registration=registration, actor=request.user, data=data
        )
        if intent == "submit":
            registration = services.registration_submit(
                registration=registration, actor=request.user
            )
    except ValidationFailed as exc:
        form.apply_errors(exc)
        return render(request, "portal/registration_form.html", context, status=400)
    except DuplicateRegistration as exc:
        context["duplicate_of"] = _existing_link(request.user, exc.extra.get("existing_id"))
        context["duplicate_message"] = exc.detail
        return render(request, "portal/registration_form.html", context, status=409)
    if intent == "submit":
        messages.success(request, f"{registration.reference} submitted for review.")
    else:
        messages.success(request, "Changes saved.")
    return redirect("registration_detail", pk=registration.pk)


@login_required
@domain_errors()
@require_GET
def registration_detail(request, pk):
    user = request.user
    registration = access.access_registration_for_user(user, pk)
    if is_manager(user):
        return redirect("manage_registration", pk=registration.pk)
    actions = set(lifecycle.allowed_actions(registration.status)) & PARTNER_ACTIONS
    extensions = list(
        selectors.extension_requests_visible_to(user).filter(registration=registration)
    )
    pending_extension = any(e.status == ExtensionStatus.PENDING for e in extensions)
    return render(
        request,
        "portal/registration_detail.html",
        {
            "r": registration,
            "timeline": describe_events(
                list(selectors.registration_timeline(registration, user=user))
            ),
            "comments": list(selectors.comments_visible_to(user, registration)),
            "activities": list(selectors.activities_for(registration)),
            "extensions": extensions,
            "can_edit": registration.status in lifecycle.EDITABLE_STATUSES,
            "protection_total": (registration.expires_at - registration.approved_at).days
            if registration.expires_at and registration.approved_at
            else None,
            "can_submit": bool(actions & {"submit", "resubmit"}),
            "can_withdraw": "withdraw" in actions,
            "can_close": bool(actions & {"close_won", "close_lost"}),
            "can_extend": registration.status == RegistrationStatus.APPROVED
            and not pending_extension,
            "can_log_activity": registration.status not in lifecycle.TERMINAL_STATUSES,
            "comment_form": CommentForm(),
            "activity_form": ActivityForm(
                initial={"occurred_on": timezone.localdate().isoformat()}
            ),
            "extension_form": ExtensionForm(),
            "close_form": CloseForm(initial={"close_date": timezone.localdate().isoformat()}),
            "section": "registrations",
        },
    )


@partner_required
@domain_errors(back="registration_detail")
@require_POST
def registration_submit(request, pk):
    registration = access.access_registration_for_user(request.user, pk)
    try:
        registration = services.registration_submit(registration=registration, actor=request.user)
    except DuplicateRegistration as exc:
        existing = _existing_link(request.user, exc.extra.get("existing_id"))
        suffix = f" See {existing.reference}." if existing else ""
        messages.error(request, exc.detail + suffix)
        return redirect("registration_detail", pk=pk)
    messages.success(request, f"{registration.reference} submitted for review.")
    return redirect("registration_detail", pk=pk)


@partner_required
@domain_errors(back="registration_detail")
@require_POST
def registration_withdraw(request, pk):
    registration = access.access_registration_for_user(request.user, pk)
    services.registration_withdraw(registration=registration, actor=request.user)
    messages.success(request, f"{registration.reference} withdrawn.")
    return redirect("registration_detail", pk=pk)


@partner_required
@domain_errors(back="registration_detail")
@require_POST
def registration_extension(request, pk):
    registration = access.access_registration_for_user(request.user, pk)
    services.extension_request_create(
        registration=registration, actor=request.user, reason=request.POST.get("reason", "")
    )
    messages.success(request, "Extension requested. A channel manager will decide.")
    return redirect("registration_detail", pk=pk)


@partner_required
@domain_errors(back="registration_detail")
@require_POST
def registration_close(request, pk):
    registration = access.access_registration_for_user(request.user, pk)
    registration = services.registration_close(
        registration=registration,
        actor=request.user,
        outcome=request.POST.get("outcome", ""),
        close_date=request.POST.get("close_date", ""),
        actual_value=request.POST.get("actual_value") or None,
        lost_reason=request.POST.get("lost_reason", ""),
    )
    messages.success(request, f"{registration.reference} closed as {registration.outcome}.")
    return redirect("registration_detail", pk=pk)


@login_required
@domain_errors(back="registration_detail")
@require_POST
def registration_comment(request, pk):
    registration = access.access_registration_for_user(request.user, pk)
    services.comment_create(
        registration=registration, actor=request.user, body=request.POST.get("body", "")
    )
    messages.success(request, "Comment added.")
    if is_manager(request.user):
        return redirect("manage_registration", pk=pk)
    return redirect(reverse("registration_detail", kwargs={"pk": pk}) + "#comments")


@partner_required
@domain_errors(back="registration_detail")
@require_POST
def registration_activity(request, pk):
    registration = access.access_registration_for_user(request.user, pk)
    services.activity_create(
        registration=registration,
        actor=request.user,
        kind=request.POST.get("kind", ""),
        occurred_on=request.POST.get("occurred_on", ""),
        summary=request.POST.get("summary", ""),
    )
    messages.success(request, "Activity logged.")
    return redirect(reverse("registration_detail", kwargs={"pk": pk}) + "#activity")


# --- Notifications (every user) -------------------------------------------------------------------


@login_required
@require_GET
def notification_list(request):
    queryset = selectors.notifications_visible_to(request.user).select_related("registration")
    if request.GET.get("unread") == "true":
        queryset = queryset.filter(read_at__isnull=True)
    page, query = _page(request, queryset.order_by("-created_at", "-id"))
    return render(
        request,
        "portal/notifications.html",
        {
            "page": page,
            "query": query,
            "unread_only": request.GET.get("unread") == "true",
            "section": "notifications",
        },
    )


def _notifications_mark_read(queryset) -> int:
    from deals.notifications import notifications_mark_read

    return notifications_mark_read(queryset=queryset)


@login_required
@domain_errors()
@require_POST
def notification_read(request, pk):
    notification = access.access_notification_for_user(request.user, pk)
    _notifications_mark_read(
        selectors.notifications_visible_to(request.user).filter(pk=notification.pk)
    )
    target = request.POST.get("next")
    if target == "open":
        return redirect(_notification_target(request.user, notification))
    return redirect("notification_list")


@login_required
@require_POST
def notification_read_all(request):
    count = _notifications_mark_read(selectors.notifications_visible_to(request.user))
    messages.success(request, f"{count} notification{'s' if count != 1 else ''} marked as read.")
    return redirect("notification_list")


def _notification_target(user, notification) -> str:
    if notification.registration_id:
        name = "manage_registration" if is_manager(user) else "registration_detail"
        return reverse(name, kwargs={"pk": notification.registration_id})
    if (
        notification.url
        and notification.url.startswith("/")
        and not notification.url.startswith("//")
    ):
        return notification.url
    return reverse("notification_list")


# --- Manager workspace ----------------------------------------------------------------------------


@manager_required
@require_GET
def manage_queue(request):
    params = {
        k: request.GET.get(k, "") for k in ("partner", "tier", "conflict_status", "product_line")
    }
    queryset = selectors.review_queue(
        partner_id=int(params["partner"]) if params["partner"].isdigit() else None,
        tier=params["tier"] or None,
        conflict_status=params["conflict_status"] or None,
        product_line=params["product_line"] or None,
    )
    page, query = _page(request, queryset, QUEUE_PAGE_SIZE)
    rows = list(page.object_list)
    counts = selectors_portal.open_conflict_counts([r.pk for r in rows])
    for row in rows:
        row.open_conflicts = counts.get(row.pk, 0)
    return render(
        request,
        "manage/queue.html",
        {
            "page": page,
            "rows": rows,
            "query": query,
            "current": params,
            "filtered": any(params.values()),
            "partners": list(Partner.objects.order_by("name").values_list("pk", "name")),
            "tiers": list(Tier.objects.order_by("rank", "code").values_list("code", "name")),
            "product_lines": selectors_portal.product_lines_in_use(),
            "conflict_choices": ConflictStatus.choices,
            "overdue_count": sum(1 for r in rows if r.is_overdue),
            "section": "queue",
        },
    )


@manager_required
@require_POST
def manage_bulk_approve(request):
    """Approve each selected registration that is clear, one service call each; report."""
    approved, skipped = [], []
    for raw_id in request.POST.getlist("ids"):
        try:
            registration = access.access_registration_for_user(request.user, raw_id)
        except NotFound:
            skipped.append(f"#{raw_id}: not found")
            continue
        if registration.conflict_status != ConflictStatus.CLEAR:
            skipped.append(f"{registration.reference}: not clear, review it first")
            continue
        try:
            services.registration_approve(registration=registration, actor=request.user)
        except DomainError as exc:
            skipped.append(f"{registration.reference}: {error_text(exc)}")
            continue
        approved.append(registration.reference)
    if approved:
        messages.success(request, f"Approved {len(approved)}: {', '.join(approved)}.")
    if skipped:
        messages.warning(request, f"Not approved {len(skipped)}: {'; '.join(skipped)}.")
    if not approved and not skipped:
        messages.info(request, "Select the clear registrations to approve first.")
    return redirect(
        reverse("manage_queue") + ("?" + request.POST["query"] if request.POST.get("query") else "")
    )


@manager_required
@domain_errors()
@require_GET
def manage_registration(request, pk):
    user = request.user
    registration = access.access_registration_for_user(user, pk)
    sides = selectors_portal.conflict_sides(registration, user=user)
    extensions = list(
        selectors.extension_requests_visible_to(user).filter(registration=registration)
    )
    awaiting = registration.status in (
        RegistrationStatus.SUBMITTED,
        RegistrationStatus.INFO_REQUESTED,
    )
    return render(
        request,
        "manage/registration.html",
        {
            "r": registration,
            "sides": sides,
            "open_conflicts": [s for s in sides if s.conflict.status == "open"],
            "timeline": describe_events(
                list(selectors.registration_timeline(registration, user=user))
            ),
            "comments": list(selectors.comments_visible_to(user, registration)),
            "activities": list(selectors.activities_for(registration)),
            "extensions": extensions,
            "policy": selectors.policy_current(),
            "can_approve": lifecycle.can("approve", registration.status),
            "can_reject": lifecycle.can("reject", registration.status),
            "can_request_info": lifecycle.can("request_info", registration.status),
            "awaiting": awaiting,
            "approve_form": ApproveForm(),
            "reject_form": RejectForm(),
            "request_info_form": RequestInfoForm(),
            "note_form": InternalNoteForm(),
            "resolve_form": ResolveForm(),
            "section": "queue",
        },
    )


@manager_required
@domain_errors(back="manage_registration")
@require_POST
def manage_approve(request, pk):
    registration = access.access_registration_for_user(request.user, pk)
    raw_days = (request.POST.get("protection_days") or "").strip()
    if raw_days and not raw_days.isdigit():
        raise ValidationFailed(
            "Invalid protection days.",
            fields={"protection_days": ["Enter a whole number of days."]},
        )
    registration = services.registration_approve(
        registration=registration,
        actor=request.user,
        note=request.POST.get("note", ""),
        protection_days=int(raw_days) if raw_days else None,
    )
    messages.success(
        request,
        f"{registration.reference} approved; protected until {registration.expires_at:%d %b %Y}.",
    )
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
    services.comment_create(
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
    back = reverse("manage_registration", kwargs={"pk": conflict.registration_id})
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
    approve = request.POST.get("decision") == "approve"
    try:
        services.extension_request_decide(
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
        {"page": page, "query": query, "search": search, "section": "partners"},
    )


@manager_required
@require_GET
def manage_partner_detail(request, pk):
    partner = (
        selectors_portal.partners_with_figures().filter(pk=pk).first()
        if str(pk).isdigit()
        else None
    )
    if partner is None:
        raise Http404
    registrations = selectors.registrations_visible_to(request.user).filter(partner_id=partner.pk)
    return render(
        request,
        "manage/partner_detail.html",
        {
            "partner": partner,
            "members": list(partner_members(partner)),
            "registrations": list(registrations.order_by("-created_at", "-id")[:20]),
            "registration_total": registrations.count(),
            "scorecard": selectors_portal.scorecard_figures(registrations),
            "section": "partners",
        },
    )


@manager_required
@require_GET
def manage_opportunity_list(request):
    queryset = selectors.opportunities_visible_to(request.user)
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
    """CSV import, all or nothing, with a per-row error report (deals.csv_import)."""
    context = {"section": "opportunities"}
    if request.method == "GET":
        context["form"] = OpportunityImportForm()
        return render(request, "manage/opportunity_import.html", context)
    form = OpportunityImportForm(request.POST, request.FILES)
    context["form"] = form
    if not form.is_valid():
        return render(request, "manage/opportunity_import.html", context, status=400)
    from deals.csv_import import opportunities_import_csv

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
