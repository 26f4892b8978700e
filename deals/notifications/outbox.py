"""The notification outbox: who hears about what. Delivery is in delivery.py, the links a
message carries in links.py, the bell (read state) in inbox.py.

- `notifications_for_event(event)` runs inside the transaction that writes the event (every
  call of deals.events.event_record), decides the recipients per kind and writes one row per
  recipient and channel. A rollback therefore leaves no notification behind (JOB-01).
- After commit, the e-mail rows are published to Celery (`notification_deliver`). Publishing
  never fails or slows the request: errors are logged and the broker is left alone for a
  while; the periodic drain (`notifications_drain`) delivers whatever is still pending, so a
  broker outage or a wiped queue only delays delivery (docs/reliability.md decision 7, JOB-02/03).
- Delivery claims a row with compare-and-set (pending -> sending), sends, then marks it sent.
  A second task, a drain and a redelivered message all race on the same UPDATE; exactly one
  wins. The only duplicate window is a crash between the SMTP server accepting the message and
  the "sent" commit: the row is re-driven after NOTIFICATION_STALE_SECONDS with the same
  Message-ID, so the receiving side can recognise the repeat.
- Reminders and SLA escalations are events too (REMINDER_DUE, SLA_BREACHED), recorded by the
  sweeps (deals/registrations/sweeps.py), so notifications always come from events.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction
from django.db.models import Q
from django.utils import dateformat, formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, pgettext

from deals.models import (
    PARTNER_REASON_LABELS,
    ApprovalTeam,
    Channel,
    DealRegistration,
    Delegation,
    DeliveryStatus,
    DirectOpportunity,
    EventAction,
    ExtensionRequest,
    Notification,
    NotificationKind,
    NotificationPreference,
    RegistrationEvent,
    RegistrationWatcher,
    RejectionReason,
)
from deals.notifications.delivery import notifications_publish
from deals.notifications.links import MANAGER, PARTNER, REP, registration_path
from partners.roles import is_manager, is_sales_rep, membership_of
from prm.lib import hotcache
from prm.lib.i18n import recipient_locale
from prm.lib.tenancy import system_context
from prm.lib.time import timezone_now

logger = logging.getLogger("prm.notifications")

# Event action -> notification kind. Actions not listed notify nobody (created, edited,
# withdrawn, closed, activity, internal notes, conflict resolutions: the resulting
# rejection, if any, is its own REJECTED event).
KIND_FOR_ACTION = {
    EventAction.SUBMITTED: NotificationKind.SUBMISSION_RECEIVED,
    EventAction.RESUBMITTED: NotificationKind.RESUBMITTED,
    EventAction.APPROVED: NotificationKind.APPROVED,
    EventAction.AUTO_APPROVED: NotificationKind.APPROVED,
    EventAction.REJECTED: NotificationKind.REJECTED,
    EventAction.INFO_REQUESTED: NotificationKind.INFO_REQUESTED,
    EventAction.COMMENTED: NotificationKind.COMMENT,
    EventAction.CONFLICT_DETECTED: NotificationKind.CONFLICT_DETECTED,
    EventAction.EXTENSION_REQUESTED: NotificationKind.EXTENSION_REQUESTED,
    EventAction.EXTENSION_APPROVED: NotificationKind.EXTENSION_DECIDED,
    EventAction.EXTENSION_REJECTED: NotificationKind.EXTENSION_DECIDED,
    EventAction.REMINDER_DUE: NotificationKind.EXPIRY_REMINDER,
    EventAction.EXPIRED: NotificationKind.EXPIRED,
    EventAction.SLA_BREACHED: NotificationKind.SLA_OVERDUE,
    EventAction.REVOKED: NotificationKind.REVOKED,
    EventAction.CONFLICT_RESOLVED: NotificationKind.CONFLICT_RESOLVED,
    EventAction.CO_SELL_PROPOSED: NotificationKind.CO_SELL_PROPOSED,
    EventAction.CO_SELL_ACCEPTED: NotificationKind.CO_SELL_ACCEPTED,
    # Issue 19: managers hear of every close (a win waits for their verification); the
    # partner hears when the win is verified.
    EventAction.CLOSED_WON: NotificationKind.CLOSED,
    EventAction.CLOSED_LOST: NotificationKind.CLOSED,
    EventAction.WIN_VERIFIED: NotificationKind.WIN_VERIFIED,
    # Issue 17 §3: the new owner hears that a registration is now theirs.
    EventAction.REASSIGNED: NotificationKind.REASSIGNED,
    # Issue 17 §4: a review assigned (claimed, reassigned) or handed to the next approval step.
    EventAction.ASSIGNED: NotificationKind.APPROVAL_NEEDED,
    EventAction.STEP_APPROVED: NotificationKind.APPROVAL_NEEDED,
}
# Resolutions a direct rep hears about (their opportunity's conflict decided).
REP_RESOLUTIONS = {"partner_wins", "direct_wins", "co_sell", "first_registration_wins"}


# --- Recipients ---------------------------------------------------------------------------------


MANAGERS_KEY = "prm:notification-managers"


def _managers():
    """Every active channel manager (superusers, or staff holding the review permission).
    Cached (prm.lib.hotcache); managers_forget runs on every change of a user, a group or a
    permission assignment (partners.signals)."""
    return hotcache.read(MANAGERS_KEY, lambda: list(_managers_queryset()))


def managers_forget() -> None:
    hotcache.forget([MANAGERS_KEY])


def _managers_queryset():
    from partners.models import User
    from partners.roles import manager_q

    return (
        User.objects.filter(is_active=True)
        .filter(manager_q())
        .distinct()
        .defer("password")  # not kept in the cache
        .order_by("pk")
    )


def _partner_managers(registration: DealRegistration):
    """The partner's channel manager or, when none is assigned (or they lost the role), all."""
    channel_manager = registration.partner.channel_manager
    if channel_manager is not None and is_manager(channel_manager):
        return [channel_manager]
    return _managers()


def _reviewers(registration: DealRegistration):
    """Who must act on a registration awaiting a decision (issue 17 §4): its assigned manager,
    else its assigned team's members, each with whoever covers them now (Delegation); a
    registration no one is assigned goes to the partner's managers as before."""
    from partners.models import User

    if registration.assigned_manager_id is not None:
        ids = [registration.assigned_manager_id]
    elif registration.assigned_team_id is not None:
        ids = list(
            ApprovalTeam.objects.filter(pk=registration.assigned_team_id).values_list(
                "members", flat=True
            )
        )
        ids = [pk for pk in ids if pk is not None]
    else:
        return _partner_managers(registration)
    now = timezone_now()
    ids += list(
        Delegation.objects.filter(
            manager_id__in=ids, starts_at__lte=now, ends_at__gt=now
        ).values_list("delegate_id", flat=True)
    )
    people = User.objects.filter(pk__in=ids, is_active=True).defer("password").order_by("pk")
    reviewers = [u for u in people if is_manager(u)]
    # An assignee who lost the role, or an empty team: the notice must still reach someone.
    return reviewers or _partner_managers(registration)


def _channel_manager(registration: DealRegistration):
    """The partner's own channel manager while they hold the role (no fallback to all)."""
    channel_manager = registration.partner.channel_manager
    if channel_manager is not None and is_manager(channel_manager):
        return [channel_manager]
    return []


def _partner_side(registration: DealRegistration) -> list:
    """Who hears about a registration on the partner's side (issue 17 §3): its owner and its
    watchers. When the owner can no longer act (deactivated, moved to another company) the
    partner's active admins hear instead, so a notice never goes nowhere."""
    from partners.models import User

    owner = registration.owner
    people = []
    if owner is not None and _eligible(owner, PARTNER, registration):
        people.append(owner)
    else:
        people += list(
            User.objects.filter(
                membership__partner_id=registration.partner_id,
                membership__role="admin",
                is_active=True,
            )
            .select_related("membership")
            .order_by("pk")
        )
    people += [
        w.user
        for w in RegistrationWatcher.objects.filter(registration_id=registration.pk)
        .select_related("user", "user__membership")
        .order_by("user_id")
    ]
    return people


def _eligible(user, audience: str, registration: DealRegistration | None) -> bool:
    """The tenant guard: a partner user only ever hears about their own company's
    registrations (a user who moved to another partner stops hearing about the old one)."""
    if user is None or not user.is_active:
        return False
    if audience == PARTNER:
        membership = membership_of(user)
        return (
            registration is not None
            and membership is not None
            and membership.partner_id == registration.partner_id
        )
    if audience == MANAGER:
        # Both sources (_managers, _partner_managers) already checked the review permission;
        # re-checking it here would cost two queries per manager on every event.
        return bool(user.is_superuser or user.is_staff)
    if audience == REP:
        # Vendor staff: a sales rep, or staff who own opportunities; never a partner user.
        return bool(user.is_staff or user.is_sales_rep) and membership_of(user) is None
    return False


def _direct_reps(event: RegistrationEvent):
    """Sales reps (and other staff) owning the direct opportunities a conflict was detected
    against (or, for a resolution, the opportunity of the resolved conflict)."""
    from partners.models import User

    details = event.details or {}
    ids = [m.get("id") for m in details.get("matches", []) if m.get("kind") == "direct_opportunity"]
    if details.get("other_kind") == "direct_opportunity" and details.get("other_id"):
        ids.append(details["other_id"])
    if not ids:
        return []
    emails = {
        e.lower()
        for e in DirectOpportunity.objects.filter(pk__in=ids)
        .exclude(owner_email="")
        .values_list("owner_email", flat=True)
    }
    if not emails:
        return []
    # Never a partner user (a membership), whatever their flags or address: a partner account
    # with a rep's e-mail must not receive the rep's notifications.
    return [
        u
        for u in User.objects.filter(Q(is_staff=True) | Q(is_sales_rep=True))
        .filter(is_active=True, membership__isnull=True)
        .order_by("pk")
        if u.email.lower() in emails
    ]


def _recipients(kind: str, event: RegistrationEvent, registration: DealRegistration):
    """[(user, audience)] for one event. The partner side is the owner and the watchers
    (_partner_side), never a fixed submitter."""
    actor_id = event.actor_id

    def partner_side():
        return [(p, PARTNER) for p in _partner_side(registration)]

    if kind == NotificationKind.SUBMISSION_RECEIVED:
        return partner_side() + [(m, MANAGER) for m in _reviewers(registration)]
    if kind == NotificationKind.RESUBMITTED:
        return [(m, MANAGER) for m in _reviewers(registration)]
    if kind == NotificationKind.EXTENSION_REQUESTED:
        return [(m, MANAGER) for m in _partner_managers(registration)]
    if kind == NotificationKind.APPROVAL_NEEDED:
        # Routing at submission is announced by the SUBMITTED event's notice; claiming
        # something yourself needs no notice either.
        if (event.details or {}).get("how") in ("routed", "claimed"):
            return []
        return [(m, MANAGER) for m in _reviewers(registration) if m.pk != actor_id]
    if kind == NotificationKind.CONFLICT_RESOLVED:
        details = event.details or {}
        resolution = details.get("resolution")
        people = []
        if resolution == "co_sell":  # both partners involved (one event per record) and the rep
            people += partner_side()
        if resolution in REP_RESOLUTIONS and details.get("side") != "earlier":
            people += [(rep, REP) for rep in _direct_reps(event)]
        return people
    if kind == NotificationKind.EXPIRY_REMINDER:
        # The partner's channel manager hears too: an expiring deal may need a nudge.
        return partner_side() + [(m, MANAGER) for m in _channel_manager(registration)]
    if kind in (
        NotificationKind.APPROVED,
        NotificationKind.REJECTED,
        NotificationKind.REVOKED,
        NotificationKind.INFO_REQUESTED,
        NotificationKind.EXPIRED,
        NotificationKind.WIN_VERIFIED,
    ):
        return partner_side()
    if kind == NotificationKind.REASSIGNED:
        owner = registration.owner
        return [(owner, PARTNER)] if owner is not None and owner.pk != actor_id else []
    if kind == NotificationKind.EXTENSION_DECIDED:
        request = (
            ExtensionRequest.objects.select_related("requested_by")
            .filter(pk=(event.details or {}).get("extension_request"))
            .first()
        )
        people = partner_side()
        if request is not None:
            people.insert(0, (request.requested_by, PARTNER))
        return people
    if kind == NotificationKind.COMMENT:
        # The other side hears about it; the author never does. Internal notes never get
        # here (they are INTERNAL_NOTE events, which notify nobody).
        if actor_id is not None and event.actor is not None and is_manager(event.actor):
            people = partner_side()
        else:
            people = [(m, MANAGER) for m in _partner_managers(registration)]
        return [(u, a) for u, a in people if u.pk != actor_id]
    if kind == NotificationKind.CONFLICT_DETECTED:
        return [(m, MANAGER) for m in _partner_managers(registration)] + [
            (rep, REP) for rep in _direct_reps(event)
        ]
    if kind in (NotificationKind.CO_SELL_PROPOSED, NotificationKind.CO_SELL_ACCEPTED):
        return [(m, MANAGER) for m in _partner_managers(registration)]
    if kind == NotificationKind.CLOSED:
        return [(m, MANAGER) for m in _partner_managers(registration) if m.pk != actor_id]
    if kind == NotificationKind.SLA_OVERDUE:
        # An escalation goes wider than the channel manager: every manager, and the step's
        # reviewers (an assignee, a team, a delegate) first.
        return [(m, MANAGER) for m in _reviewers(registration)] + [
            (m, MANAGER) for m in _managers()
        ]
    return []


# --- Content ------------------------------------------------------------------------------------


def _date(value) -> str:
    """A date as the recipient reads it: in their time zone and language (both active while
    the content is written, prm.lib.i18n.recipient_locale)."""
    if not value:
        return ""
    if isinstance(value, str):
        from django.utils.dateparse import parse_datetime

        value = parse_datetime(value) or value
    if not hasattr(value, "strftime"):
        return str(value)
    if isinstance(value, dt.datetime) and timezone.is_aware(value):
        value = timezone.localtime(value)
    # Translators: a date in notification texts (Django date format: 03 Dec 2026).
    return dateformat.format(value, pgettext("notification date", "d M Y"))


def _money(value, currency: str) -> str:
    return f"{formats.number_format(value, 2, force_grouping=True)} {currency}"


def _excerpt(text: str, limit: int = 280) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _content(kind: str, event, registration: DealRegistration, audience: str) -> dict:
    """Title, body and template context for one recipient audience, in the active language
    (the recipient's: the caller wraps this in recipient_locale). Partner-facing content only
    ever names their own registration; conflicts are never described to partners."""
    ref = registration.reference or f"#{registration.pk}"
    customer = registration.customer_name
    partner_name = registration.partner.name
    details = event.details or {}
    ctx: dict = {"reference": ref, "customer_name": customer, "audience": audience}
    names = {"ref": ref, "customer": customer, "partner": partner_name}
    if kind == NotificationKind.SUBMISSION_RECEIVED:
        if audience == PARTNER:
            title = _("Registration %(ref)s received") % names
            body = (
                _(
                    "We received your deal registration for %(customer)s. "
                    "A channel manager will review it."
                )
                % names
            )
        else:
            title = _("New registration %(ref)s from %(partner)s") % names
            body = _(
                "%(partner)s registered %(customer)s (%(value)s). The review is due by %(due)s."
            ) % {
                **names,
                "value": _money(registration.estimated_value, registration.currency),
                "due": _date(registration.sla_due_at),
            }
    elif kind == NotificationKind.APPROVAL_NEEDED:
        step, steps = registration.approval_step, registration.approval_steps
        values = {
            **names,
            "stage": _(" (step %(step)s of %(steps)s)") % {"step": step, "steps": steps}
            if steps > 1
            else "",
            "partner_registration": _partner_registration(partner_name),
            "value": _money(registration.estimated_value, registration.currency),
            "done": details.get("step"),
            "due": _date(registration.sla_due_at),
        }
        if event.action == EventAction.STEP_APPROVED:
            title = _("Approval needed: %(ref)s%(stage)s") % values
            body = (
                _(
                    "%(partner_registration)s for %(customer)s (%(value)s) passed step %(done)s "
                    "and needs your approval by %(due)s."
                )
                % values
            )
        else:
            title = _("Review assigned: %(ref)s%(stage)s") % values
            body = (
                _(
                    "%(partner_registration)s for %(customer)s is assigned to you for review. "
                    "The review is due by %(due)s."
                )
                % values
            )
    elif kind == NotificationKind.RESUBMITTED:
        title = _("%(partner)s resubmitted %(ref)s") % names
        body = (
            _("%(partner)s answered the information request on %(customer)s and resubmitted.")
            % names
        )
    elif kind == NotificationKind.APPROVED:
        auto = event.action == EventAction.AUTO_APPROVED
        title = _("Registration %(ref)s approved") % names
        values = {**names, "until": _date(details.get("expires_at"))}
        body = (
            _(
                "Your registration for %(customer)s is approved automatically. "
                "It is protected until %(until)s."
            )
            if auto
            else _(
                "Your registration for %(customer)s is approved. It is protected until %(until)s."
            )
        ) % values
        ctx.update(decision=_("Approved"), note=details.get("note", ""))
    elif kind == NotificationKind.REVOKED:
        reason = details.get("reason", "")
        label = _reason_label(reason)
        title = _("Registration %(ref)s: protection ended") % names
        body = _(
            "A channel manager reviewed the engagements for %(customer)s and ended the "
            "protection of your registration. Reason: %(reason)s."
        ) % {**names, "reason": label}
        ctx.update(decision=_("Protection ended"), reason=label, note=details.get("note", ""))
    elif kind == NotificationKind.CONFLICT_RESOLVED:
        title, body = _resolution_content(details, ref, customer, partner_name, audience)
        if audience == PARTNER:
            ctx.update(decision=_("Co-sell"))
    elif kind in (NotificationKind.CO_SELL_PROPOSED, NotificationKind.CO_SELL_ACCEPTED):
        rep = (details.get("confirmation") or {}).get("by") or _("The sales rep")
        if kind == NotificationKind.CO_SELL_PROPOSED:
            title = _("Co-sell proposed on %(ref)s") % names
            body = _(
                "%(rep)s proposes co-sell with %(partner)s for %(customer)s. Resolve the "
                "conflict to decide."
            ) % {**names, "rep": rep}
        else:
            title = _("Co-sell accepted on %(ref)s") % names
            body = _("%(rep)s accepted the co-sell with %(partner)s for %(customer)s.") % {
                **names,
                "rep": rep,
            }
        ctx.update(note=details.get("note", ""))
    elif kind == NotificationKind.REJECTED:
        reason = details.get("reason", "")
        label = _reason_label(reason)
        title = _("Registration %(ref)s rejected") % names
        body = _("Your registration for %(customer)s was rejected. Reason: %(reason)s.") % {
            **names,
            "reason": label,
        }
        ctx.update(decision=_("Rejected"), reason=label, note=details.get("note", ""))
    elif kind == NotificationKind.INFO_REQUESTED:
        title = _("Information requested on %(ref)s") % names
        body = (
            _("A channel manager needs more information about %(customer)s before deciding.")
            % names
        )
        ctx.update(decision=_("Information requested"), note=details.get("message", ""))
    elif kind == NotificationKind.COMMENT:
        from deals.models import Comment

        comment = Comment.objects.filter(pk=details.get("comment"), internal=False).first()
        author = event.actor.get_full_name() if event.actor else _("Someone")
        title = _("New comment on %(ref)s") % names
        body = _("%(author)s commented on %(customer)s.") % {**names, "author": author}
        ctx.update(note=_excerpt(comment.body) if comment else "")
    elif kind == NotificationKind.CONFLICT_DETECTED:
        matches = details.get("matches", [])
        verdict = CONFLICT_VERDICTS.get(details.get("conflict_status", "conflict"))
        verdict = str(verdict) if verdict else details.get("conflict_status", "").replace("_", " ")
        title = _("Conflict on %(ref)s: %(verdict)s") % {**names, "verdict": verdict}
        body = ngettext(
            "%(partner_registration)s for %(customer)s matches %(count)d active record "
            "(%(verdict)s).",
            "%(partner_registration)s for %(customer)s matches %(count)d active records "
            "(%(verdict)s).",
            len(matches),
        ) % {
            **names,
            "partner_registration": _partner_registration(partner_name),
            "count": len(matches),
            "verdict": verdict,
        }
        if audience == REP:
            body += " " + _("One of them is a direct opportunity you own.")
    elif kind == NotificationKind.EXTENSION_REQUESTED:
        title = _("%(partner)s asks to extend %(ref)s") % names
        body = _("%(partner)s requested an extension of the protection for %(customer)s.") % names
        ctx.update(note=details.get("reason", ""))
    elif kind == NotificationKind.EXTENSION_DECIDED:
        approved = event.action == EventAction.EXTENSION_APPROVED
        values = {**names, "until": _date(details.get("expires_at"))}
        if approved:
            title = _("Extension approved for %(ref)s") % names
            body = _("Protection for %(customer)s now ends on %(until)s.") % values
        else:
            title = _("Extension declined for %(ref)s") % names
            body = (
                _(
                    "The extension for %(customer)s was declined; protection still ends on "
                    "%(until)s."
                )
                % values
            )
        ctx.update(
            decision=_("Approved") if approved else _("Declined"), note=details.get("note", "")
        )
    elif kind == NotificationKind.EXPIRY_REMINDER:
        days = details.get("days")
        values = {**names, "days": days, "until": _date(details.get("expires_at"))}
        if audience == MANAGER:
            title = _("%(ref)s of %(partner)s expires in %(days)s days") % values
            body = _(
                "The protection of %(partner_registration)s for %(customer)s ends on "
                "%(until)s. The partner has been reminded to report the outcome or request "
                "an extension."
            ) % {**values, "partner_registration": _partner_registration(partner_name)}
        else:
            title = _("%(ref)s expires in %(days)s days") % values
            body = (
                _(
                    "Protection for %(customer)s ends on %(until)s. Report the outcome or "
                    "request an extension before then."
                )
                % values
            )
        ctx.update(days=days)
    elif kind == NotificationKind.REASSIGNED:
        title = _("Registration %(ref)s is now yours") % names
        actor = event.actor
        who = (
            _("A channel manager")
            if actor is not None and is_manager(actor)
            else (actor.get_full_name() if actor is not None else "Dealbridge")
        )
        previous = (details.get("from") or {}).get("email") or _("its previous owner")
        values = {**names, "who": who, "previous": previous}
        if details.get("reason") == "user_deactivated":
            body = (
                _(
                    "You now own the registration for %(customer)s: %(previous)s no longer has "
                    "access, and %(who)s handed their open registrations over."
                )
                % values
            )
        else:
            body = _("%(who)s made you the owner of the registration for %(customer)s.") % values
    elif kind == NotificationKind.EXPIRED:
        title = _("Registration %(ref)s expired") % names
        body = _("Protection for %(customer)s ended on %(until)s.") % {
            **names,
            "until": _date(details.get("expires_at")),
        }
    elif kind == NotificationKind.CLOSED:
        won = event.action == EventAction.CLOSED_WON
        late = bool(details.get("late"))
        if won:
            title = _("%(partner)s closed %(ref)s as won") % names
            values = {
                **names,
                "value": f"{details.get('actual_value') or ''} {registration.currency}",
                "closed": details.get("close_date") or "—",
            }
            body = (
                _(
                    "%(partner)s reported %(customer)s won after its protection lapsed "
                    "(%(value)s, closed %(closed)s). Verify the win to create the partner's "
                    "accrual."
                )
                if late
                else _(
                    "%(partner)s reported %(customer)s won (%(value)s, closed %(closed)s). "
                    "Verify the win to create the partner's accrual."
                )
            ) % values
        else:
            title = _("%(partner)s closed %(ref)s as lost") % names
            body = _("%(partner)s reported %(customer)s lost.") % names
    elif kind == NotificationKind.WIN_VERIFIED:
        title = _("Win verified on %(ref)s") % names
        body = (
            _(
                "Your win on %(customer)s is verified. Any incentive it earned appears on your "
                "Earnings page."
            )
            % names
        )
    elif kind == NotificationKind.SLA_OVERDUE:
        steps = details.get("steps") or 1
        values = {
            **names,
            "stage": _(" (step %(step)s of %(steps)s)")
            % {"step": details.get("step"), "steps": steps}
            if steps > 1
            else "",
            "partner_registration": _partner_registration(partner_name),
            "due": _date(details.get("sla_due_at")),
        }
        title = _("Review overdue: %(ref)s%(stage)s") % values
        body = (
            _("%(partner_registration)s for %(customer)s was due for a decision on %(due)s.")
            % values
        )
    else:  # pragma: no cover - every mapped kind is handled above
        title, body = _("Update on %(ref)s") % names, ""
    ctx.update(title=str(title), body=str(body))
    for key in ("decision", "reason"):
        if key in ctx:
            ctx[key] = str(ctx[key])
    return ctx


# The verdict words of a conflict check as notifications name them.
CONFLICT_VERDICTS = {
    "conflict": gettext_lazy("conflict"),
    "potential_conflict": gettext_lazy("potential conflict"),
    "clear": gettext_lazy("clear"),
}


def _partner_registration(partner_name: str) -> str:
    """ "Acme's registration", but "Northbridge Solutions' registration" in English."""
    if str(partner_name).endswith(("s", "S")):
        return _("%(partner)s' registration") % {"partner": partner_name}
    return _("%(partner)s's registration") % {"partner": partner_name}


def _reason_label(reason: str) -> str:
    """A reason as partners read it (deals.models.PARTNER_REASON_LABELS: the conflict reasons
    never say who the other party is)."""
    if reason in PARTNER_REASON_LABELS:
        return str(PARTNER_REASON_LABELS[reason])
    return str(RejectionReason(reason).label) if reason in RejectionReason.values else reason


REP_OUTCOMES = {
    "partner_wins": gettext_lazy(
        "the partner leads this deal; your opportunity is marked partner-led"
    ),
    "first_registration_wins": gettext_lazy("the earlier record keeps the deal"),
    "direct_wins": gettext_lazy(
        "your opportunity keeps the deal; the registration no longer protects it"
    ),
    "co_sell": gettext_lazy("co-sell: you and the partner work the deal together"),
}


def _resolution_content(details, ref, customer, partner_name, audience) -> tuple[str, str]:
    """A resolution as its audience reads it. Partners hear only of a co-sell, in one sentence
    whoever the other party is (never the rep's or another partner's name)."""
    names = {"ref": ref, "customer": customer, "partner": partner_name}
    if audience == PARTNER:
        return (
            _("Co-sell agreed on %(ref)s") % names,
            _(
                "A channel manager agreed a co-sell for %(customer)s: you work this deal "
                "together with the vendor's team, and your registration stays protected."
            )
            % names,
        )
    outcome = REP_OUTCOMES.get(details.get("resolution", ""), gettext_lazy("resolved"))
    terms = details.get("co_sell") or {}
    body = _(
        "The conflict between %(partner_registration)s for %(customer)s and your opportunity "
        "was resolved: %(outcome)s."
    ) % {
        **names,
        "partner_registration": _partner_registration(partner_name),
        "outcome": outcome,
    }
    if terms:
        body += " " + _(
            "Lead: %(lead)s; partner credit %(partner_credit)s %%, your quota credit "
            "%(rep_credit)s %%."
        ) % {
            "lead": terms.get("lead"),
            "partner_credit": terms.get("partner_credit_percent"),
            "rep_credit": terms.get("rep_credit_percent"),
        }
    return _("Conflict resolved on %(ref)s") % names, body


# --- Writing the outbox -------------------------------------------------------------------------


def _dedupe_key(kind: str, event: RegistrationEvent, recipient_id: int, channel: str) -> str:
    """event × recipient × channel; reminders and SLA breaches use their natural keys so the
    same reminder or breach can never be written twice, whatever the event."""
    natural = (event.details or {}).get("key")
    if kind in (NotificationKind.EXPIRY_REMINDER, NotificationKind.SLA_OVERDUE) and natural:
        return f"{natural}:{recipient_id}:{channel}"
    return f"event:{event.pk}:{recipient_id}:{channel}"


@system_context("notification fan-out")
def notifications_for_event(event: RegistrationEvent) -> None:
    """Write the outbox rows for `event`, inside the caller's transaction.

    In-app rows are the notification itself (marked sent at once, shown in the bell); e-mail
    rows are pending until delivered, unless the recipient opted out of e-mail for the kind.
    """
    kind = KIND_FOR_ACTION.get(event.action)
    if kind is None or event.registration_id is None:
        return
    registration = (
        DealRegistration.objects.select_related(
            "partner", "partner__channel_manager", "submitted_by", "owner__membership"
        )
        .filter(pk=event.registration_id)
        .first()
    )
    if registration is None:
        return
    seen: set[int] = set()
    recipients = []
    for user, audience in _recipients(kind, event, registration):
        if user is None or user.pk in seen or not _eligible(user, audience, registration):
            continue
        seen.add(user.pk)
        recipients.append((user, audience))
    if not recipients:
        return
    opted_out = set(
        NotificationPreference.objects.filter(
            user_id__in=seen, kind=kind, email_enabled=False
        ).values_list("user_id", flat=True)
    )
    now = timezone_now()
    rows = []
    for user, audience in recipients:
        # Written in the recipient's language, dates in their zone: the bell shows this text
        # and the e-mail's subject is its title (the e-mail itself is rendered at send time).
        with recipient_locale(user):
            ctx = _content(kind, event, registration, audience)
        # A sales rep's links open the rep workspace (/manage/ answers 403 to them).
        if audience == REP and is_sales_rep(user):
            path = registration_path(registration.pk, REP)
        else:
            path = registration_path(registration.pk, PARTNER if audience == PARTNER else MANAGER)
        common = {
            "recipient": user,
            "kind": kind,
            "event": event,
            "registration": registration,
            "title": ctx["title"][:300],
            "body": ctx["body"],
            "url": path,
            "context": ctx,
        }
        rows.append(
            Notification(
                channel=Channel.IN_APP,
                dedupe_key=_dedupe_key(kind, event, user.pk, Channel.IN_APP),
                status=DeliveryStatus.SENT,
                sent_at=now,
                **common,
            )
        )
        if user.pk not in opted_out and user.email:
            rows.append(
                Notification(
                    channel=Channel.EMAIL,
                    dedupe_key=_dedupe_key(kind, event, user.pk, Channel.EMAIL),
                    status=DeliveryStatus.PENDING,
                    next_attempt_at=now,
                    **common,
                )
            )
    # ignore_conflicts: a natural key written before (a reminder, a breach) is not an error.
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    email_keys = [r.dedupe_key for r in rows if r.channel == Channel.EMAIL]
    if email_keys:
        ids = list(
            Notification.objects.filter(
                dedupe_key__in=email_keys, status=DeliveryStatus.PENDING
            ).values_list("pk", flat=True)
        )
        if ids:
            transaction.on_commit(lambda: notifications_publish(ids))


def on_invitation_created(sender, invitation, **kwargs) -> None:
    """Receiver of partners.dispatch.invitation_created (connected in deals.apps)."""
    invitation_notify(invitation)


def invitation_notify(invitation) -> Notification:
    """Queue the invitation e-mail of a new partner user, in the caller's transaction.

    The set-password link is made when the e-mail is sent (no reset key is stored), so a
    retry after an SMTP outage still carries a working link."""
    partner = invitation.partner
    inviter = invitation.invited_by
    # Who invited: their name (or e-mail address), so the invitation is not a stranger's link.
    inviter_name = (inviter.get_full_name() or inviter.email) if inviter else ""
    names = {"partner": partner.name, "inviter": inviter_name}
    # A new user has no language yet (the site's default); one set by an admin is honoured.
    with recipient_locale(invitation.user):
        title = _("You're invited to Dealbridge for %(partner)s") % names
        body = (
            _("%(inviter)s invited you to register deals for %(partner)s.")
            if inviter_name
            else _("You have been invited to register deals for %(partner)s.")
        ) % names
    row = Notification.objects.create(
        recipient=invitation.user,
        kind=NotificationKind.USER_INVITED,
        channel=Channel.EMAIL,
        dedupe_key=f"invitation:{invitation.pk}:{invitation.user_id}:email",
        title=title,
        body=body,
        context={
            "invitation": invitation.pk,
            "partner_name": partner.name,
            "invited_by": inviter_name,
        },
    )
    transaction.on_commit(lambda: notifications_publish([row.pk]))
    return row


def on_invitation_withheld(sender, user, partner, invited_by, **kwargs) -> None:
    """Receiver of partners.dispatch.invitation_withheld (connected in deals.apps)."""
    invitation_withheld_notify(user=user, partner=partner, invited_by=invited_by)


@system_context("invitation withheld notice")
def invitation_withheld_notify(*, user, partner, invited_by) -> Notification | None:
    """Tell the holder of an existing account that a partner admin tried to invite their
    address (nothing was created; the partner admin saw the answer of a fresh invitation, so
    only the account holder learns the account exists). One e-mail per partner and account a
    day, whatever the number of tries: the dedupe key names the day."""
    if user is None or not user.is_active:
        return None
    inviter_name = (invited_by.get_full_name() or invited_by.email) if invited_by else ""
    names = {"partner": partner.name, "inviter": inviter_name, "email": user.email}
    with recipient_locale(user):
        who = (
            _("%(inviter)s of %(partner)s") % names
            if inviter_name
            else _("Someone at %(partner)s") % names
        )
        title = _("%(partner)s tried to add you to Dealbridge") % names
        body = _(
            "%(who)s tried to add %(email)s as a user of %(partner)s. This address already "
            "has a Dealbridge account, so no new account was created and your account was not "
            "changed. If you now work for %(partner)s, ask your channel manager to move your "
            "account; otherwise you can ignore this message."
        ) % {**names, "who": who}
    day = timezone_now().date().isoformat()
    row, created = Notification.objects.get_or_create(
        dedupe_key=f"invitation-withheld:{partner.pk}:{user.pk}:{day}:email",
        defaults={
            "recipient": user,
            "kind": NotificationKind.INVITATION_WITHHELD,
            "channel": Channel.EMAIL,
            "title": title,
            "body": body,
            "context": {"partner_name": partner.name, "invited_by": inviter_name},
        },
    )
    if created:
        transaction.on_commit(lambda: notifications_publish([row.pk]))
    return row


def withdrawals_flagged_notify(registration: DealRegistration, *, count: int, window: int, now):
    """Tell the partner's managers that the partner withdrew `count` registrations after a
    (potential) conflict within `window` seconds (deals.registrations.services decides when
    that is unusual), in the caller's transaction. Once per partner and period: the dedupe key
    names the partner and the period, so a later or a concurrent withdrawal writes nothing."""
    partner = registration.partner
    period = int(now.timestamp()) // window
    managers_notify(
        kind=NotificationKind.WITHDRAWALS_FLAGGED,
        key=f"{partner.pk}:{window}:{period}",
        title=f"{partner.name}: unusual withdrawals after conflicts",
        body=(
            f"{partner.name} withdrew {count} registrations after a conflict verdict within "
            f"{_period_text(window)}. Registering and withdrawing can be used to learn who "
            "else is engaged with a customer; review the partner's recent registrations."
        ),
        url=f"/manage/partners/{partner.pk}/",
        recipients=[m for m in _partner_managers(registration) if _eligible(m, MANAGER, None)],
        now=now,
    )


def managers_notify(
    *, kind: str, key: str, title: str, body: str, url: str, recipients=None, now=None
) -> None:
    """A notification for channel managers that belongs to no registration (bell + e-mail,
    e-mail unless they opted out of `kind`), in the caller's transaction; e-mails are
    published after commit. `recipients` defaults to every active manager. `key` names the
    occurrence: the dedupe key is kind × key × manager × channel, so writing the same
    occurrence again (a retry, a concurrent writer) adds nothing."""
    now = now or timezone_now()
    if recipients is None:
        recipients = [m for m in _managers() if _eligible(m, MANAGER, None)]
    opted_out = set(
        NotificationPreference.objects.filter(
            user_id__in=[m.pk for m in recipients], kind=kind, email_enabled=False
        ).values_list("user_id", flat=True)
    )
    rows = []
    for manager in recipients:
        for channel in (Channel.IN_APP, Channel.EMAIL):
            if channel == Channel.EMAIL and (manager.pk in opted_out or not manager.email):
                continue
            in_app = channel == Channel.IN_APP
            rows.append(
                Notification(
                    recipient=manager,
                    kind=kind,
                    channel=channel,
                    dedupe_key=f"{kind.replace('_', '-')}:{key}:{manager.pk}:{channel}"[:200],
                    title=title[:300],
                    body=body,
                    url=url,
                    context={"title": title, "body": body, "audience": MANAGER},
                    status=DeliveryStatus.SENT if in_app else DeliveryStatus.PENDING,
                    sent_at=now if in_app else None,
                    next_attempt_at=now,
                )
            )
    # ignore_conflicts: the occurrence's rows already written stay alone.
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    email_keys = [r.dedupe_key for r in rows if r.channel == Channel.EMAIL]
    if email_keys:
        ids = list(
            Notification.objects.filter(
                dedupe_key__in=email_keys, status=DeliveryStatus.PENDING
            ).values_list("pk", flat=True)
        )
        if ids:
            transaction.on_commit(lambda: notifications_publish(ids))


def _period_text(seconds: int) -> str:
    for unit, name in ((86400, "day"), (3600, "hour"), (60, "minute"), (1, "second")):
        if seconds % unit == 0:
            n = seconds // unit
            return f"one {name}" if n == 1 else f"{n} {name}s"
    return f"{seconds} seconds"  # pragma: no cover - unit 1 always divides
