"""What every page view shares: the role decorators, domain errors as messages, pagination and the timeline's wording."""

from __future__ import annotations

import functools

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect

from conflicts.models import Conflict
from deals.models import (
    PARTNER_REASON_LABELS,
    RegistrationStatus,
    RejectionReason,
)
from partners.roles import is_manager, partner_of
from prm.exceptions import (
    DomainError,
    DuplicateRegistration,
    InvalidTransition,
    NotFound,
    PermissionDeniedError,
    StateConflict,
    ValidationFailed,
)
from prm.ratelimit import RateLimited

PAGE_SIZE = 25
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


ECHO_SESSION_KEY = "form_echo"


def _echo_store(request, exc: ValidationFailed) -> None:
    """Keep a refused form's input and field errors for the page the refusal returns to
    (post/redirect/get), so what was typed is shown again with the errors beside the fields."""
    match = getattr(request, "resolver_match", None)
    if match is None or request.method != "POST":
        return
    data = {
        key: value[:5000]
        for key, value in request.POST.items()
        if key != "csrfmiddlewaretoken" and isinstance(value, str)
    }
    fields = {
        str(name): [str(m) for m in (msgs if isinstance(msgs, list) else [msgs])]
        for name, msgs in (exc.fields or {}).items()
    }
    request.session[ECHO_SESSION_KEY] = {
        "view": match.url_name,
        "data": data,
        "fields": fields,
        "detail": str(exc.detail),
    }


def echoed_forms(request, forms: dict):
    """The forms of a page, {view name: (form class, initial)} → {view name: form}: the one
    whose submission was just refused comes back bound to what was typed, with its errors (read
    once from the session); the others fresh."""
    echo = request.session.pop(ECHO_SESSION_KEY, None) if hasattr(request, "session") else None
    result = {}
    for view_name, (form_class, initial) in forms.items():
        if isinstance(echo, dict) and echo.get("view") == view_name:
            form = form_class(data=echo.get("data") or {})
            form.apply_errors(
                ValidationFailed(echo.get("detail") or "", fields=echo.get("fields") or None)
            )
        else:
            form = form_class(initial=initial)
        result[view_name] = form
    return result


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
                RateLimited,
            ) as exc:
                if back is None:
                    raise
                messages.error(request, error_text(exc))
                if isinstance(exc, ValidationFailed):
                    _echo_store(request, exc)
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


def _assignee_names(events):
    """A function naming the assignee in an ASSIGNED or STEP_APPROVED event's details: two
    queries at most for the whole timeline (none without such events)."""
    from deals.models import ApprovalTeam
    from partners.models import User

    targets = [
        (e.details or {}).get("to") or {}
        for e in events
        if e.action in ("assigned", "step_approved")
    ]
    user_ids = {t.get("manager") for t in targets if t.get("manager")}
    team_ids = {t.get("team") for t in targets if t.get("team")}
    users = (
        {u.pk: u.get_full_name() or u.email for u in User.objects.filter(pk__in=user_ids)}
        if user_ids
        else {}
    )
    teams = (
        dict(ApprovalTeam.objects.filter(pk__in=team_ids).values_list("pk", "name"))
        if team_ids
        else {}
    )

    def name(details) -> str:
        target = details.get("to") or {}
        if target.get("manager"):
            who = users.get(target["manager"], "a former manager")
            return f"{who} ({teams[target['team']]})" if target.get("team") in teams else who
        if target.get("team"):
            return f"the team {teams.get(target['team'], '(removed)')}"
        return "nobody (unassigned)"

    return name


def describe_events(events, *, partner: bool = False) -> list:
    """Attach a readable `summary` and status labels to timeline events (what the template
    shows). `partner`: reasons in the partner's words (a conflict reason never says who the
    other party is, ISO-04)."""
    reason_labels = {**REJECTION_LABELS, **PARTNER_REASON_LABELS} if partner else REJECTION_LABELS
    assignee = _assignee_names(events)
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
        elif action == "approval_override":
            summary = f"Approved over {len(details.get('conflicts') or [])} open conflict(s)"
            if details.get("override_reason"):
                summary += f": “{details['override_reason']}”"
        elif action == "assigned":
            how = {"routed": "Routed", "claimed": "Claimed", "reassigned": "Reassigned"}
            summary = f"{how.get(details.get('how', ''), 'Assigned')} to {assignee(details)}"
            if details.get("rule_name"):
                summary += f" by the rule “{details['rule_name']}”"
            summary += "."
        elif action == "step_approved":
            summary = (
                f"Step {details.get('step')} of {details.get('steps')} approved; next approver: "
                f"{assignee(details)}."
            )
            if details.get("note"):
                summary += f" “{details['note']}”"
        elif action == "conflict_closed":
            summary = "Open conflicts closed: a registration left the active states."
        elif action in ("rejected", "revoked"):
            summary = reason_labels.get(details.get("reason", ""), "")
            if details.get("note"):
                summary += f" — “{details['note']}”"
        elif action == "info_requested":
            summary = details.get("message", "")
        elif action == "withdrawn" and details.get("deleted_draft"):
            summary = "Draft deleted (it was never submitted)."
        elif action == "edited" and details.get("fields"):
            summary = "Changed " + ", ".join(f.replace("_", " ") for f in details["fields"]) + "."
        elif action in ("extension_requested",):
            summary = details.get("reason", "")
        elif action in ("extension_approved", "extension_rejected") and details.get("note"):
            summary = f"“{details['note']}”"
        elif action in ("closed_won", "closed_lost"):
            summary = details.get("lost_reason") or ""
            if details.get("late"):
                summary = "Reported after the protection lapsed: flagged for review."
        elif action == "win_verified":
            summary = (
                "Verified by the CRM's closed-won."
                if details.get("source") == "crm"
                else "Verified by a channel manager."
            )
        elif action in ("accrual_approved", "accrual_paid"):
            amount = f"{details.get('amount', '')} {details.get('currency', '')}".strip()
            summary = f"Incentive of {amount} {'paid' if action == 'accrual_paid' else 'approved'}"
            summary += f" (reference {details['reference']})." if details.get("reference") else "."
        elif action == "conflict_resolved":
            summary = RESOLUTION_LABELS.get(details.get("resolution", ""), "")
            if details.get("note"):
                summary += f" — “{details['note']}”"
        elif action == "conflict_detected":
            matches = details.get("matches") or []
            summary = f"{len(matches)} match{'es' if len(matches) != 1 else ''}" + (
                f", best score {max(m.get('score', 0) for m in matches)}." if matches else "."
            )
        elif action in ("co_sell_proposed", "co_sell_accepted"):
            summary = f"Conflict #{details.get('conflict')}"
            if details.get("note"):
                summary += f" — “{details['note']}”"
        elif action == "reassigned":
            before = (details.get("from") or {}).get("email") or "—"
            after = (details.get("to") or {}).get("email") or "—"
            summary = f"Owner: {before} → {after}."
            if details.get("reason") == "user_deactivated":
                summary += f" {before} no longer has access."
        elif action in ("attachment_added", "attachment_deleted"):
            verb = "Attached" if action == "attachment_added" else "Removed"
            summary = f"{verb} {details.get('name', 'a file')}"
            if details.get("sha256"):
                summary += f" (SHA-256 {str(details['sha256'])[:16]}…)"
            summary += "."
        elif action == "activity_logged" and details.get("kind"):
            summary = f"{details['kind'].capitalize()} recorded."
        event.summary = summary.strip()
        event.actor_name = _actor_name(event)
    return events


def _actor_name(event) -> str:
    """Who acted, as people read it: their name (the e-mail address only when they have none),
    "Dealbridge" for the system. The stored actor_label (an e-mail) stays the audit record."""
    actor = getattr(event, "actor", None)
    if actor is not None and actor.name:
        return actor.name
    if event.actor_label == "system":
        return "Dealbridge"
    return event.actor_label


def custom_filter_choices(fields, current) -> list[dict]:
    """The list filters on custom fields (`custom.<key>`): one select per yes/no and choice
    field of `fields` (deals.customfields.FieldDef), with the value in `current` selected."""
    filters = []
    for field in fields:
        if field.type == "boolean":
            options = [("true", "Yes"), ("false", "No")]
        elif field.type in ("choice", "multi_choice"):
            options = [(c, c) for c in field.choices]
        else:
            continue
        filters.append(
            {
                "name": field.name,
                "id": f"f-custom-{field.key}",
                "label": field.label,
                "options": options,
                "value": current.get(field.name, ""),
            }
        )
    return filters
