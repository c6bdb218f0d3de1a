"""Whose request is it: the client's address, the one every per-address counter and log uses (allauth's
login limits, the API's throttles and failed-key limit, the access log), so a client is counted and
logged under one address everywhere.

The rule is README.md's TRUSTED_PROXY_COUNT: the X-Forwarded-For entry that many places from the end,
everything before it being the client's own (forgeable) say; with 0 the header is ignored. It is
Werkzeug's ProxyFix rule, and allauth's (ALLAUTH_TRUSTED_PROXY_COUNT, set to the same number).
"""

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """The client's address in its canonical spelling, or None when it is not an address."""
    address = request.META.get("REMOTE_ADDR", "")
    proxies = settings.TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies > 0 and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",")]
        # Fewer entries than proxies: the request skipped one of them, so no entry can be trusted,
        # and REMOTE_ADDR (whoever reached us) is all we know. DRF would take the first entry here,
        # which is the client's own say; allauth would raise ImproperlyConfigured (a 500).
        if len(hops) >= proxies:
            address = hops[-proxies]
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None
