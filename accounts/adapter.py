from allauth.account.adapter import DefaultAccountAdapter


class AccountAdapter(DefaultAccountAdapter):
    """allauth hooks for the portal. There is no open sign-up: admins invite users."""

    def is_open_for_signup(self, request) -> bool:
        return False
