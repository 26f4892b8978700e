from allauth.account.adapter import DefaultAccountAdapter


class AccountAdapter(DefaultAccountAdapter):
    """Partner users are created by managers or partner admins (invitations): no open signup."""

    def is_open_for_signup(self, request):
        return False
