"""Request rates per partner key and per signed-in user (API_KEY_THROTTLE_RATE, API_USER_THROTTLE_RATE):
over the rate, 429 with Retry-After. Counted in fixed windows in the cache (api.rate_windows), so
while the cache is unavailable every request is let through. The rate is read from the settings on
every request, so that a changed setting (and a test's override_settings) takes effect.
"""

from rest_framework.throttling import BaseThrottle

from core.client_ip import client_ip

from .authentication import is_partner
from .rate_windows import configured_rate, current_window, hit, parse_rate


class _WindowThrottle(BaseThrottle):
    scope = ""

    def ident(self, request) -> str | None:
        raise NotImplementedError

    def get_ident(self, request) -> str:
        # DRF's own rule (NUM_PROXIES) would take the first X-Forwarded-For entry, which a client
        # can forge, when there are fewer entries than proxies: the portal's one rule instead.
        return client_ip(request) or ""

    def allow_request(self, request, view) -> bool:
        rate = configured_rate(self.scope)
        ident = self.ident(request)
        if rate is None or ident is None:
            return True
        limit, duration = parse_rate(rate)
        window = current_window(f"api:throttle:{self.scope}:{ident}", duration)
        count = hit(window)
        self.seconds_left = window.seconds_left
        return count is None or count <= limit  # None: the cache is down, and limits fail open

    def wait(self) -> float:
        return self.seconds_left


class PartnerKeyRateThrottle(_WindowThrottle):
    """Per key (its prefix): each key has its own budget, whichever partner holds it."""

    scope = "partner_key"

    def ident(self, request) -> str | None:
        return request.user.key.prefix if is_partner(request.user) else None


class PortalUserRateThrottle(_WindowThrottle):
    """Per signed-in user of the portal (browser sessions, scripts with a session)."""

    scope = "portal_user"

    def ident(self, request) -> str | None:
        user = request.user
        if is_partner(user) or not user.is_authenticated:
            return None
        return str(user.pk)
