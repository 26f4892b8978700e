"""Partner admin pages (the company's users) and personal API tokens.

Thin: the user's own company comes from partners.roles; every write is a partners.services
call. Another company's user answers 404. Signing in with TOTP and then creating a token here is
how users with two-factor authentication get API tokens.
"""

from __future__ import annotations

import functools

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST

from partners import services
from partners.forms import InviteForm, TokenForm
from partners.models import ApiToken, Membership
from partners.roles import is_partner_admin, partner_of
from partners.selectors import partner_members
from prm.exceptions import DomainError, PermissionDeniedError, StateConflict, ValidationFailed
from prm.lib.ids import parse_id


def partner_admin_required(view):
    @functools.wraps(view)
    @login_required
    def wrapper(request, *args, **kwargs):
        if partner_of(request.user) is None or not is_partner_admin(request.user):
            raise PermissionDenied("Only your company's partner admins can manage users.")
        try:
            return view(request, *args, **kwargs)
        except PermissionDeniedError as exc:
            raise PermissionDenied(exc.detail) from None

    return wrapper


def _company_member(partner, pk) -> Membership:
    """A member of the admin's own company, or 404 (another company's user never leaks)."""
    user_id = parse_id(pk)  # 64-bit ids only: a larger one would overflow SQLite's INTEGER
    membership = partner_members(partner).filter(user_id=user_id).first() if user_id else None
    if membership is None:
        raise Http404
    return membership


def _render_users(request, form, *, status=200):
    partner = partner_of(request.user)
    return render(
        request,
        "partners/users.html",
        {
            "partner": partner,
            "members": list(partner_members(partner)),
            "form": form,
            "roles": Membership.Role.choices,
            "section": "company",
        },
        status=status,
    )


@partner_admin_required
@require_http_methods(["GET", "POST"])
def company_users(request):
    if request.method == "GET":
        return _render_users(request, InviteForm(initial={"role": "member"}))
    form = InviteForm(request.POST)
    form.is_valid()
    try:
        user = services.partner_user_create(
            actor=request.user,
            partner=partner_of(request.user),
            email=request.POST.get("email", ""),
            name=request.POST.get("name", ""),
            role=request.POST.get("role", "member"),
        )
    except ValidationFailed as exc:
        form.apply_errors(exc)
        return _render_users(request, form, status=400)
    messages.success(request, _("Invitation sent to %(email)s.") % {"email": user.email})
    return redirect("company_users")


@partner_admin_required
@require_POST
def company_user_deactivate(request, pk):
    """Deactivate a colleague; `new_owner` (from the handover page) takes over their open
    registrations, else a partner admin does (partners.services.partner_user_deactivate)."""
    membership = _company_member(partner_of(request.user), pk)
    raw_owner = (request.POST.get("new_owner") or "").strip()
    new_owner_id = parse_id(raw_owner) if raw_owner else None
    if raw_owner and new_owner_id is None:
        messages.error(request, _("Choose who takes over their open registrations."))
        return redirect("company_users")
    try:
        services.partner_user_deactivate(
            actor=request.user,
            partner=membership.partner,
            user=membership.user,
            new_owner_id=new_owner_id,
        )
    except (StateConflict, ValidationFailed) as exc:
        messages.error(request, exc.detail)
        return redirect("company_users")
    text = _("%(email)s can no longer sign in.") % {"email": membership.user.email}
    new_owner = (
        partner_members(membership.partner).filter(user_id=new_owner_id).first()
        if new_owner_id
        else None
    )
    if new_owner is not None:
        text += " " + _("Their open registrations now belong to %(name)s.") % {
            "name": new_owner.user.get_full_name()
        }
    messages.success(request, text)
    return redirect("company_users")


@partner_admin_required
@require_POST
def company_user_role(request, pk):
    membership = _company_member(partner_of(request.user), pk)
    role = request.POST.get("role", "")
    if membership.user_id == request.user.pk and role != Membership.Role.ADMIN:
        messages.error(request, _("You cannot remove your own admin role."))
        return redirect("company_users")
    try:
        services.partner_user_set_role(
            actor=request.user, partner=membership.partner, user=membership.user, role=role
        )
    except ValidationFailed as exc:
        messages.error(request, " ".join(sum((list(v) for v in (exc.fields or {}).values()), [])))
        return redirect("company_users")
    messages.success(
        request,
        _("%(email)s is now %(role)s.")
        % {
            "email": membership.user.email,
            "role": str(dict(Membership.Role.choices)[role]).lower(),
        },
    )
    return redirect("company_users")


# --- Personal API tokens ---------------------------------------------------------------------------


def _render_tokens(request, form, *, raw_key=None, created=None, status=200):
    return render(
        request,
        "partners/tokens.html",
        {
            "tokens": list(
                ApiToken.objects.filter(user=request.user).order_by("-created_at", "-id")
            ),
            "form": form,
            "raw_key": raw_key,
            "created": created,
            "section": "tokens",
        },
        status=status,
    )


NEW_TOKEN_SESSION_KEY = "new_api_token"


@login_required
@require_http_methods(["GET", "POST"])
def token_list(request):
    if request.method == "GET":
        # The key of a token just created, stored once in the session by the POST: shown in
        # this response only, then forgotten (a refresh never shows it again, nor creates one).
        created = request.session.pop(NEW_TOKEN_SESSION_KEY, None)
        token = raw_key = None
        if created:
            token = ApiToken.objects.filter(user=request.user, pk=created.get("id")).first()
            raw_key = created.get("key") if token is not None else None
        return _render_tokens(request, TokenForm(), raw_key=raw_key, created=token)
    form = TokenForm(request.POST)
    if not form.is_valid():
        return _render_tokens(request, form, status=400)
    try:
        token, raw_key = services.token_create(user=request.user, name=form.cleaned_data["name"])
    except DomainError as exc:
        messages.error(request, exc.detail)
        return redirect("token_list")
    # Post/redirect/get: refreshing the page must not create a second live token.
    request.session[NEW_TOKEN_SESSION_KEY] = {"id": token.pk, "key": raw_key}
    return redirect("token_list")


@login_required
@require_POST
def token_revoke(request, pk):
    token = ApiToken.objects.filter(user=request.user, pk=pk).first()
    if token is None:
        raise Http404
    services.token_revoke(token=token)
    messages.success(request, _("Token %(prefix)s… revoked.") % {"prefix": token.prefix})
    return redirect("token_list")


def _sso_next(request) -> str | None:
    return _safe_next(request, request.POST.get("next") or request.GET.get("next"))


@require_http_methods(["GET", "POST"])
def sso_start(request):
    """ "Sign in with single sign-on": the work address picks the identity provider (the
    vendor's for staff, the partner's whose domains cover it), then allauth sends the browser
    there. The answer names no partner."""
    from allauth.socialaccount.adapter import get_adapter as get_social_adapter

    from partners.forms import SsoStartForm
    from partners.sso import provider_for_email, with_form_action_to_providers

    form = SsoStartForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        provider = provider_for_email(form.cleaned_data["email"])
        if provider is None:
            form.add_error(
                "email",
                _(
                    "Single sign-on is not set up for this address. Sign in with your e-mail "
                    "address and password."
                ),
            )
        else:
            social = get_social_adapter().get_provider(request, provider.slug)
            return social.redirect(request, process="login", next_url=_sso_next(request))
    response = render(request, "account/sso_start.html", {"form": form, "next": _sso_next(request)})
    return with_form_action_to_providers(response)


# --- Becoming a partner (public) ------------------------------------------------------------------


def _render_apply(request, form, *, status=200, error=None):
    return render(
        request,
        "partners/apply.html",
        {"form": form, "error": error, "section": "apply"},
        status=status,
    )


@require_http_methods(["GET", "POST"])
def apply(request):
    """The public application page (no sign-in). Bots: a honeypot field (a filled one gets the
    thank-you page and nothing is stored) and a per-address limit (429)."""
    from partners.api.auth import client_ip
    from partners.applications import application_rate_check, application_submit
    from partners.forms import ApplicationForm
    from prm.ratelimit import RateLimited

    if request.method == "GET":
        return _render_apply(request, ApplicationForm())
    form = ApplicationForm(request.POST)
    form.is_valid()
    ip = client_ip(request)
    try:
        application_rate_check(ip)
    except RateLimited as exc:
        response = _render_apply(request, form, status=429, error=exc.detail)
        if exc.retry_after:
            response["Retry-After"] = str(exc.retry_after)
        return response
    if form.is_bot():
        from prm.security_log import log_event

        log_event("application_honeypot", request=request, outcome="blocked")
        return redirect("apply_thanks")
    try:
        application_submit(data=request.POST, ip=ip)
    except ValidationFailed as exc:
        form.apply_errors(exc)
        return _render_apply(
            request, form, status=400, error="Please correct the fields marked below."
        )
    return redirect("apply_thanks")


@require_http_methods(["GET"])
def apply_thanks(request):
    return render(request, "partners/apply_thanks.html", {"section": "apply"})


# --- Program terms ---------------------------------------------------------------------------------


def _safe_next(request, value: str | None) -> str | None:
    from django.utils.http import url_has_allowed_host_and_scheme

    if value and url_has_allowed_host_and_scheme(
        value, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return value
    return None


@login_required
@require_http_methods(["GET", "POST"])
def terms_page(request):
    """The program terms in force; a partner user who has not accepted them accepts here."""
    from partners.forms import TermsAcceptForm
    from partners.models import TermsAcceptance
    from partners.roles import is_partner_user
    from partners.terms import terms_accept, terms_in_force, terms_pending_for

    terms = terms_in_force()
    next_url = _safe_next(request, request.POST.get("next") or request.GET.get("next"))
    if request.method == "POST":
        form = TermsAcceptForm(request.POST)
        form.is_valid()
        if not form.cleaned_data.get("accept"):
            form.add_error("accept", _("Tick the box to accept the terms."))
            form.fields["accept"].widget.attrs["aria-invalid"] = "true"
        else:
            try:
                terms_accept(user=request.user, version=form.cleaned_data.get("version"))
            except StateConflict as exc:
                messages.error(request, exc.detail)
                return redirect(request.get_full_path())
            except PermissionDeniedError as exc:
                raise PermissionDenied(exc.detail) from None
            messages.success(request, _("Thank you: the partner program terms are accepted."))
            return redirect(next_url or "home")
        status = 400
    else:
        form = TermsAcceptForm(initial={"version": terms.version if terms else ""})
        status = 200
    pending = terms_pending_for(request.user) if terms else None
    accepted = (
        TermsAcceptance.objects.filter(user=request.user, terms=terms).first() if terms else None
    )
    return render(
        request,
        "partners/terms.html",
        {
            "terms": terms,
            "pending": pending,
            "accepted": accepted,
            "can_accept": is_partner_user(request.user),
            "form": form,
            "next": next_url or "",
            "section": "terms",
        },
        status=status,
    )


# --- Bulk invitations, resend, reactivate (partner admins) -----------------------------------------


def _row_report(rows: dict) -> list[dict]:
    report = []
    for key, fields in sorted(rows.items(), key=lambda item: int(item[0])):
        errors = [
            (name, str(message))
            for name, msgs in (fields or {}).items()
            for message in (msgs if isinstance(msgs, list) else [msgs])
        ]
        report.append({"row": key, "line": int(key) + 2, "errors": errors})
    return report


@partner_admin_required
@require_http_methods(["GET", "POST"])
def company_users_import(request):
    """Invite colleagues from a CSV file (email, name, role), all or nothing."""
    from partners.bulk_invites import partner_users_invite_csv
    from partners.forms import BulkInviteForm

    partner = partner_of(request.user)
    context = {"partner": partner, "section": "company"}
    if request.method == "GET":
        context["form"] = BulkInviteForm()
        return render(request, "partners/users_import.html", context)
    form = BulkInviteForm(request.POST, request.FILES)
    context["form"] = form
    if not form.is_valid():
        return render(request, "partners/users_import.html", context, status=400)
    upload = form.cleaned_data["file"]
    from partners.bulk_invites import MAX_BYTES

    data = upload.read(MAX_BYTES + 1)
    try:
        result = partner_users_invite_csv(actor=request.user, partner=partner, data=data)
    except ValidationFailed as exc:
        rows = exc.extra.get("rows") or {}
        context["row_errors"] = _row_report(rows)
        context["error"] = exc.detail
        return render(request, "partners/users_import.html", context, status=400)
    messages.success(
        request,
        ngettext("%(count)d invitation sent.", "%(count)d invitations sent.", result.invited)
        % {"count": result.invited},
    )
    return redirect("company_users")


@partner_admin_required
@require_POST
def company_user_resend(request, pk):
    membership = _company_member(partner_of(request.user), pk)
    try:
        services.invitation_resend(
            actor=request.user, partner=membership.partner, user=membership.user
        )
    except StateConflict as exc:
        messages.error(request, exc.detail)
        return redirect("company_users")
    messages.success(
        request, _("Invitation sent again to %(email)s.") % {"email": membership.user.email}
    )
    return redirect("company_users")


@partner_admin_required
@require_POST
def company_user_reactivate(request, pk):
    membership = _company_member(partner_of(request.user), pk)
    try:
        services.partner_user_reactivate(
            actor=request.user, partner=membership.partner, user=membership.user
        )
    except (StateConflict, ValidationFailed) as exc:
        problems = sum((list(v) for v in (getattr(exc, "fields", None) or {}).values()), [])
        messages.error(request, " ".join([exc.detail, *problems]))
        return redirect("company_users")
    messages.success(request, _("%(email)s can sign in again.") % {"email": membership.user.email})
    return redirect("company_users")


# --- Language switcher ------------------------------------------------------------------------


@require_POST
def language_switch(request):
    """The language switcher in every page's footer (works without JavaScript): saves the
    choice on a signed-in user's account (pages and e-mails follow it) and in Django's language
    cookie for everyone, then goes back to `next` when it is a page of this site (else home).
    An unknown language changes nothing."""
    from django.conf import settings
    from django.utils.http import url_has_allowed_host_and_scheme
    from django.utils.translation import check_for_language

    code = request.POST.get("language", "")
    target = request.POST.get("next") or request.headers.get("referer") or "/"
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = "/"
    response = redirect(target)
    if code not in dict(settings.LANGUAGES) or not check_for_language(code):
        return response
    if request.user.is_authenticated:
        services.user_language_set(user=request.user, language=code)
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        code,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )
    return response
