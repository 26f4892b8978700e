"""Browser pages: the partner portal and the manager workspace.

Thin like the API: read through deals.registrations.selectors / deals.web.selectors / deals.access, write
through the services (deals.registrations, deals.opportunities), and map domain errors the same way everywhere (`domain_errors`):
NotFound → 404, PermissionDeniedError → 403, InvalidTransition / StateConflict → a message and
a redirect back. Every form is a POST with CSRF and works without JavaScript; htmx only adds
the live availability verdict.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from deals import access, customfields, lifecycle
from deals.catalog import products_active
from deals.models import (
    ConflictStatus,
    ExtensionStatus,
    RegistrationStatus,
)
from deals.notifications.inbox import notifications_visible_to
from deals.policy import policy_current
from deals.registrations import ownership, selectors, services
from deals.registrations.collaboration import activity_create, comment_create
from deals.registrations.extensions import extension_request_create
from deals.web import selectors as selectors_portal
from deals.web.attachments import activity_attachment_choices, evidence_context
from deals.web.common import (
    PARTNER_ACTIONS,
    _page,
    custom_filter_choices,
    describe_events,
    domain_errors,
    echoed_forms,
    error_text,
    partner_required,
)
from deals.web.forms import (
    ActivityForm,
    AttachmentForm,
    CloseForm,
    CommentForm,
    ExtensionForm,
    RegistrationForm,
)
from partners.roles import is_manager, is_sales_rep, partner_of
from prm.exceptions import (
    DomainError,
    DuplicateRegistration,
    InvalidTransition,
    NotFound,
    ValidationFailed,
)
from prm.ratelimit import RateLimited


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
    if is_sales_rep(request.user):
        return redirect("rep_workspace")
    dashboard = selectors_portal.partner_dashboard(request.user)
    return render(
        request,
        "home.html",
        {"dashboard": dashboard, "section": "home", "partner": partner_of(request.user)},
    )


@partner_required
@require_GET
def program_rules_page(request):
    """The program's rules in plain words (the figures come from the context processor's
    program_rules, the same as GET /api/v1/program/)."""
    return render(request, "portal/program.html", {"section": "program"})


@login_required
@require_GET
def registration_list(request):
    user = request.user
    try:
        queryset = selectors.registrations_filter(
            selectors.registrations_visible_to(user), params=request.GET, user=user
        )
    except ValidationFailed:
        return render(request, "errors/400.html", status=400)
    queryset = selectors.without_deleted_drafts(queryset)
    page, query = _page(request, queryset)
    keys = ("status", "conflict_status", "search", "owner")
    custom = {name: request.GET.get(name, "") for name in customfields.filter_names(request.GET)}
    filtered = any(request.GET.get(k) for k in keys) or any(custom.values())
    partner = partner_of(user)
    # Partner admins reassign from the list (issue 17 §3): the company's active users.
    can_reassign = partner is not None and ownership.can_reassign(user, partner.pk)
    custom_fields = (
        customfields.form_current().fields
        if is_manager(user)
        else customfields.fields_for_partner(partner)
    )
    return render(
        request,
        "portal/registration_list.html",
        {
            "page": page,
            "query": query,
            "filtered": filtered,
            "status_choices": RegistrationStatus.choices,
            "conflict_choices": ConflictStatus.choices,
            "current": {k: request.GET.get(k, "") for k in keys},
            "custom_filters": custom_filter_choices(custom_fields, custom),
            "section": "registrations",
            "show_partner": is_manager(user),
            "can_reassign": can_reassign,
            "owner_candidates": list(ownership.owner_candidates(partner.pk))
            if can_reassign
            else [],
        },
    )


def _registration_form(request, *, initial=None):
    products = list(products_active().order_by("product_line__name", "name"))
    required = policy_current().required_fields or []
    custom = customfields.fields_for_partner(partner_of(request.user))
    if request.method == "POST":
        form = RegistrationForm(
            request.POST, products=products, required_fields=required, custom_fields=custom
        )
        form.is_valid()  # binds and strips; the services do the validation
        return form
    return RegistrationForm(
        initial=initial or {"currency": "USD", "stage": "qualification"},
        products=products,
        required_fields=required,
        custom_fields=custom,
    )


def _availability(user, data: dict) -> dict | None:
    """The availability verdict for the customer fields, or None when too little is typed.
    The same function as POST /api/v1/conflict-check/ (deals.registrations.availability)."""
    from deals.registrations.availability import availability_check

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
    except RateLimited as exc:
        return {"status": "unavailable", "message": exc.detail, "retry_after": exc.retry_after}
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
        except RateLimited as exc:
            form.apply_errors(ValidationFailed(exc.detail))
            return render(request, "portal/registration_form.html", context, status=429)
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
    response = render(request, "portal/_availability.html", {"availability": result})
    if result and result.get("retry_after"):
        # Spent budget: 429 with Retry-After; the live check (static/js/app.js) shows the panel
        # and sends nothing more until then.
        response.status_code = 429
        response["Retry-After"] = str(int(result["retry_after"]))
    return response


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
    except RateLimited as exc:
        form.apply_errors(ValidationFailed(exc.detail))
        return render(request, "portal/registration_form.html", context, status=429)
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
    if is_sales_rep(user):
        return redirect("rep_registration", pk=registration.pk)
    actions = set(lifecycle.allowed_actions(registration.status)) & PARTNER_ACTIONS
    extensions = list(
        selectors.extension_requests_visible_to(user).filter(registration=registration)
    )
    pending_extension = any(e.status == ExtensionStatus.PENDING for e in extensions)
    today = timezone.localdate().isoformat()
    forms = echoed_forms(
        request,
        {
            "registration_comment": (CommentForm, None),
            "registration_activity": (ActivityForm, {"occurred_on": today}),
            "registration_extension": (ExtensionForm, None),
            "registration_close": (
                CloseForm,
                {"close_date": today, "actual_value": registration.estimated_value},
            ),
            "registration_attachment_upload": (AttachmentForm, None),
        },
    )
    evidence = evidence_context(registration, partner=True)
    activity_attachment_choices(forms["registration_activity"], evidence["attachments"])
    return render(
        request,
        "portal/registration_detail.html",
        {
            **evidence,
            "attachment_form": forms["registration_attachment_upload"],
            "r": registration,
            "timeline": describe_events(
                list(selectors.registration_timeline(registration, user=user)), partner=True
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
            "comment_form": forms["registration_comment"],
            "activity_form": forms["registration_activity"],
            "extension_form": forms["registration_extension"],
            "close_form": forms["registration_close"],
            "watching": ownership.is_watching(user, registration.pk),
            "can_reassign": ownership.can_reassign(user, registration.partner_id),
            "owner_candidates": list(ownership.owner_candidates(registration.partner_id))
            if ownership.can_reassign(user, registration.partner_id)
            else [],
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
    was_draft = registration.status == RegistrationStatus.DRAFT
    services.registration_withdraw(registration=registration, actor=request.user)
    if was_draft:
        # "Delete draft": the draft leaves the list; its history keeps the deletion.
        messages.success(request, f"Draft {registration.reference} deleted.")
        return redirect("registration_list")
    messages.success(request, f"{registration.reference} withdrawn.")
    return redirect("registration_detail", pk=pk)


@partner_required
@domain_errors(back="registration_detail")
@require_POST
def registration_extension(request, pk):
    registration = access.access_registration_for_user(request.user, pk)
    extension_request_create(
        registration=registration, actor=request.user, reason=request.POST.get("reason", "")
    )
    messages.success(request, "Extension requested. A channel manager will decide.")
    return redirect("registration_detail", pk=pk)


@partner_required
@domain_errors(back="registration_detail")
@require_POST
def registration_close(request, pk):
    registration = access.access_registration_for_user(request.user, pk)
    outcome = request.POST.get("outcome", "")
    if outcome == "won" and request.POST.get("confirm") != "yes":
        # A win is reported once and starts verification and the incentive: show what will be
        # recorded and ask again (issue 18 §6.7). Invalid input goes back to the form.
        closed_on, value, _ = services.registration_close_validate(
            outcome=outcome,
            close_date=request.POST.get("close_date", ""),
            actual_value=request.POST.get("actual_value") or None,
        )
        actions = set(lifecycle.allowed_actions(registration.status)) & PARTNER_ACTIONS
        if "close_won" not in actions:
            raise InvalidTransition(f"A {registration.status} registration cannot be closed.")
        return render(
            request,
            "portal/registration_close_confirm.html",
            {
                "r": registration,
                "close_date": closed_on,
                "value": value if value is not None else registration.estimated_value,
                "value_given": value is not None,
                "posted": {
                    "close_date": request.POST.get("close_date", ""),
                    "actual_value": request.POST.get("actual_value", ""),
                },
                "section": "registrations",
            },
        )
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
    comment_create(registration=registration, actor=request.user, body=request.POST.get("body", ""))
    messages.success(request, "Comment added.")
    if is_manager(request.user):
        return redirect("manage_registration", pk=pk)
    return redirect(reverse("registration_detail", kwargs={"pk": pk}) + "#comments")


@partner_required
@domain_errors(back="registration_detail")
@require_POST
def registration_activity(request, pk):
    registration = access.access_registration_for_user(request.user, pk)
    activity_create(
        registration=registration,
        actor=request.user,
        kind=request.POST.get("kind", ""),
        occurred_on=request.POST.get("occurred_on", ""),
        summary=request.POST.get("summary", ""),
        attachment_id=request.POST.get("attachment") or None,
    )
    messages.success(request, "Activity logged.")
    return redirect(reverse("registration_detail", kwargs={"pk": pk}) + "#activity")


# --- Notifications (every user) -------------------------------------------------------------------


@login_required
@require_GET
def notification_list(request):
    queryset = notifications_visible_to(request.user).select_related("registration")
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
    from deals.notifications.inbox import notifications_mark_read

    return notifications_mark_read(queryset=queryset)


@login_required
@domain_errors()
@require_POST
def notification_read(request, pk):
    notification = access.access_notification_for_user(request.user, pk)
    _notifications_mark_read(notifications_visible_to(request.user).filter(pk=notification.pk))
    target = request.POST.get("next")
    if target == "open":
        return redirect(_notification_target(request.user, notification))
    return redirect("notification_list")


@login_required
@require_POST
def notification_read_all(request):
    count = _notifications_mark_read(notifications_visible_to(request.user))
    messages.success(request, f"{count} notification{'s' if count != 1 else ''} marked as read.")
    return redirect("notification_list")


def _notification_target(user, notification) -> str:
    if notification.registration_id:
        name = (
            "manage_registration"
            if is_manager(user)
            else "rep_registration"
            if is_sales_rep(user)
            else "registration_detail"
        )
        return reverse(name, kwargs={"pk": notification.registration_id})
    if (
        notification.url
        and notification.url.startswith("/")
        and not notification.url.startswith("//")
    ):
        return notification.url
    return reverse("notification_list")
