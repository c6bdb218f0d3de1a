"""Request-time rules of the account: two-factor for admins, and the session's hard limit."""

import time

from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _

from .access import can
from .models import AnyUser

SESSION_STARTED_AT = "abe_session_started_at"
SESSION_MFA_OK = "abe_mfa_ok"
# When the session row was last written (seconds since the epoch): SessionRefreshMiddleware.
SESSION_SAVED_AT = "abe_session_saved_at"


def needs_two_factor(user: AnyUser) -> bool:
    """EEF/IPSR admins and anyone who can reach Django admin must use TOTP."""
    return user.is_staff or user.is_superuser or can(user, "portal.national")


class SessionLimitMiddleware:
    """Ends a session SESSION_ABSOLUTE_AGE after sign-in, however active it was.

    The idle limit is Django's own: the session row's expiry, SESSION_COOKIE_AGE after its last
    write, which SessionRefreshMiddleware keeps moving while the user is active.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated:
            now = int(time.time())
            started = request.session.setdefault(SESSION_STARTED_AT, now)
            if now - started > settings.SESSION_ABSOLUTE_AGE:
                logout(request)
                messages.info(request, _("Your session has ended. Please sign in again."))
                return redirect_to_login(request.get_full_path())
        return self.get_response(request)


class SessionRefreshMiddleware:
    """Writes the session only when it changed or its last write is SESSION_REFRESH_SECONDS old.

    Replaces SESSION_SAVE_EVERY_REQUEST, which wrote the session row (an UPDATE of django_session)
    on every page view. Each write sets the row's expiry and the cookie's to SESSION_COOKIE_AGE from
    then, so a session ends after SESSION_COOKIE_AGE without a request, less at most
    SESSION_REFRESH_SECONDS (29 to 30 minutes by default): a request in the last interval before
    a refresh does not move the expiry. Sessions stay in the database (never the cache), so signing
    out ends one on the server whatever Redis does.

    Sits right after SessionMiddleware, so that its answer half runs after every other middleware
    has touched the session (messages, sign-in, two-factor) and before SessionMiddleware saves.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        session = getattr(request, "session", None)
        if session is None or (not session.accessed and not session.modified):
            return response
        # An empty session is not stored (SessionMiddleware deletes its cookie): an anonymous visit
        # must not create a row just to hold the stamp.
        if not any(key != SESSION_SAVED_AT for key in session.keys()):  # noqa: SIM118 (no __iter__)
            return response
        now = int(time.time())
        saved_at = session.get(SESSION_SAVED_AT)
        if session.modified or not isinstance(saved_at, int) or now - saved_at >= settings.SESSION_REFRESH_SECONDS:
            session[SESSION_SAVED_AT] = now  # marks it modified: SessionMiddleware writes it
        return response


class RequireTwoFactorMiddleware:
    """Sends an admin without a TOTP authenticator to set one up before anything else.

    Off when settings.ABE_REQUIRE_MFA is false (its default follows DEBUG, so that the demo
    admin of `make run` can look around at once).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if (
            settings.ABE_REQUIRE_MFA
            and user.is_authenticated
            and not request.session.get(SESSION_MFA_OK)
            and needs_two_factor(user)
            and not self._exempt(request.path)
        ):
            if Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
                request.session[SESSION_MFA_OK] = True
            else:
                messages.warning(request, _("Set up two-factor authentication to continue."))
                return redirect("mfa_activate_totp")
        return self.get_response(request)

    @staticmethod
    def _exempt(path: str) -> bool:
        exempt = (
            reverse("mfa_index"),
            reverse("account_logout"),
            reverse("account_reauthenticate"),  # allauth asks for the password before TOTP set-up
            reverse("set_language"),
            reverse("healthz"),
            settings.STATIC_URL if settings.STATIC_URL.startswith("/") else "/" + settings.STATIC_URL,
        )
        return path.startswith(exempt)
