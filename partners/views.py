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
    messages.success(request, f"Invitation sent to {user.email}.")
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
        messages.error(request, "Choose who takes over their open registrations.")
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
    text = f"{membership.user.email} can no longer sign in."
    new_owner = (
        partner_members(membership.partner).filter(user_id=new_owner_id).first()
        if new_owner_id
        else None
    )
    if new_owner is not None:
        text += f" Their open registrations now belong to {new_owner.user.get_full_name()}."
    messages.success(request, text)
    return redirect("company_users")


@partner_admin_required
@require_POST
def company_user_role(request, pk):
    membership = _company_member(partner_of(request.user), pk)
    role = request.POST.get("role", "")
    if membership.user_id == request.user.pk and role != Membership.Role.ADMIN:
        messages.error(request, "You cannot remove your own admin role.")
        return redirect("company_users")
    try:
        services.partner_user_set_role(
            actor=request.user, partner=membership.partner, user=membership.user, role=role
        )
    except ValidationFailed as exc:
        messages.error(request, " ".join(sum((list(v) for v in (exc.fields or {}).values()), [])))
        return redirect("company_users")
    messages.success(
        request, f"{membership.user.email} is now {dict(Membership.Role.choices)[role].lower()}."
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
    messages.success(request, f"Token {token.prefix}… revoked.")
    return redirect("token_list")


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
                "Single sign-on is not set up for this address. Sign in with your e-mail "
                "address and password.",
            )
        else:
            social = get_social_adapter().get_provider(request, provider.slug)
            return social.redirect(request, process="login", next_url=_safe_next(request))
    response = render(
        request, "account/sso_start.html", {"form": form, "next": _safe_next(request)}
    )
    return with_form_action_to_providers(response)


def _safe_next(request) -> str | None:
    from django.utils.http import url_has_allowed_host_and_scheme

    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return None


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
