from allauth.account.adapter import DefaultAccountAdapter
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from core.client_ip import client_ip

SIGNED_OUT = "signed_out=1"


class AccountAdapter(DefaultAccountAdapter):
    """allauth hooks for the portal. There is no open sign-up: admins invite users."""

    def is_open_for_signup(self, request) -> bool:
        return False

    def get_logout_redirect_url(self, request) -> str:
        # The sign-in page, marked as reached by signing out: its script then deletes what the field app kept
        # on this device (static/js/field-signout.js). A session that merely expired reaches the sign-in page
        # unmarked, and the field app's changes waiting to sync stay.
        return reverse("account_login") + "?" + SIGNED_OUT

    def get_client_ip(self, request) -> str:
        # The address allauth's rate limits count failed sign-ins against: the portal's one rule
        # (TRUSTED_PROXY_COUNT), so that behind our proxy each client has its own budget instead of
        # all sharing the proxy's, and so that a forged X-Forwarded-For counts for nothing.
        address = client_ip(request)
        if address is None:
            raise PermissionDenied("Unable to determine client IP address")  # as allauth's own
        return address
