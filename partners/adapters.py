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
