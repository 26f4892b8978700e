from allauth.account.adapter import DefaultAccountAdapter


class AccountAdapter(DefaultAccountAdapter):
    """Partner users are created by managers or partner admins (invitations): no open signup."""

    def is_open_for_signup(self, request):
        return False

    def clean_email(self, email):
        """A partner user adding an address (accounts/email/) follows the same rule as the
        invitations: the partner's domains or a manager's exception, never a vendor address."""
        from django import forms

        from partners.roles import partner_of
        from partners.services import partner_user_email_errors

        email = super().clean_email(email)
        user = getattr(getattr(self, "request", None), "user", None)
        partner = partner_of(user) if user is not None else None
        if partner is not None:
            errors = partner_user_email_errors(partner, email)
            if errors:
                raise forms.ValidationError(errors)
        return email

    def pre_login(self, request, user, **kwargs):
        """A user whose company (or the vendor) requires single sign-on cannot sign in with a
        password: back to the sign-in page with the reason (partners.sso)."""
        from partners.sso import password_sign_in_refusal

        if (kwargs.get("signal_kwargs") or {}).get("sociallogin") is None:
            refusal = password_sign_in_refusal(user)
            if refusal:
                from django.contrib import messages
                from django.shortcuts import redirect

                from prm.security_log import log_event

                log_event("sso_password_refused", request=request, user=user, outcome="denied")
                messages.error(request, refusal)
                return redirect("account_login")
        return super().pre_login(request, user, **kwargs)

    def post_login(self, request, user, **kwargs):
        from partners.sso import note_sign_in

        note_sign_in(request, kwargs.get("signal_kwargs"))
        return super().post_login(request, user, **kwargs)

    def get_login_stages(self):
        from partners.sso import login_stages

        return login_stages(super().get_login_stages())
