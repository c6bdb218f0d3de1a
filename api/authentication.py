"""Who is calling: a partner system with an API key, or a signed-in user (the session, CSRF enforced for writes).

A key is checked against its hash on every request, nothing cached, so a revoked or expired key, or
a deactivated partner, is refused on the very next one. It becomes a `PartnerPrincipal` carrying its
own Scope, so every door works for it exactly as for a user. Unusable keys are limited per client
address (API_AUTH_FAILURE_RATE): past the limit, 429 without a database lookup; while the cache is
down nothing is counted.
"""

import ipaddress
import json
import math
from dataclasses import dataclass, field
from typing import TypeGuard

from django.db import connection
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication

from accounts.access import Scope
from accounts.models import User
from core.client_ip import client_ip

from .models import Partner, PartnerKey
from .rate_windows import Window, configured_rate, count, current_window, hit, parse_rate

KEYWORD = "Api-Key"


@dataclass(eq=False)
class PartnerPrincipal:
    """A partner's key acting as the request's user. Not a User: it has no row, no roles of its own
    and no session; its scope is the partner's provinces."""

    key: PartnerKey
    api_scope: Scope
    is_authenticated: bool = True
    is_active: bool = True
    is_anonymous: bool = False
    is_staff: bool = False
    is_superuser: bool = False
    pk: None = None
    id: None = None
    provinces: frozenset[int] = field(default_factory=frozenset)

    def __str__(self) -> str:
        return self.get_username()

    def get_username(self) -> str:
        """The access log's actor: the partner, the key's name and its prefix (never the secret)."""
        return f"{self.key.partner.name} · {self.key.name} ({self.key.prefix})"[:254]

    @property
    def label(self) -> str:
        """The client's name in the idempotency and throttling records."""
        return f"key:{self.key.prefix}"

    @property
    def can_see_identifiers(self) -> bool:
        return self.key.can_see_identifiers

    @cached_property
    def service_user(self) -> User:
        return self.key.partner.get_service_user()

    def has_perm(self, perm, obj=None) -> bool:  # Django's auth API: a key has no Django permissions
        return False


def principal_for(key: PartnerKey, provinces: frozenset[int]) -> PartnerPrincipal:
    agency_id = key.partner.agency_id
    if agency_id is not None:
        # An agency's key (issue 14): the agency's side of its referrals, as an agency user's scope;
        # no province read as a whole, whatever provinces the partner was given.
        agency_scope = Scope(
            roles=frozenset({"partner"}),
            agencies=frozenset({agency_id}),
            agency_provinces=frozenset(p for p in [key.partner.agency_province] if p is not None),
        )
        return PartnerPrincipal(key=key, api_scope=agency_scope)
    scope = Scope(
        national=False,
        roles=frozenset({"partner"}),
        readable_provinces=provinces,
        writable_provinces=provinces if key.may_write_anything else frozenset(),
        universities=frozenset(),
        lead_universities=frozenset(),
        # Not a provincial role: the key sees its provinces' meetings and national ones, not the
        # regional meetings of the universities that support them (Scope.supporting_universities).
        member_provinces=frozenset(),
    )
    return PartnerPrincipal(key=key, api_scope=scope, provinces=provinces)


def parse_key(request) -> str | None:
    """The key of `Authorization: Api-Key <key>`, None when the header names another scheme."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    keyword, _sep, key = header.partition(" ")
    if keyword.lower() != KEYWORD.lower():
        return None
    return key.strip()


# The key, its partner and the partner's provinces in one statement: this runs on every request
# (nothing is cached, so that revocation holds at once), and the ORM's query building for it costs
# more than the query itself (bench/api.py).
_KEY_SQL = """
    SELECT k.id, k.prefix, k.hashed_key, k.created, k.name, k.revoked, k.expiry_date, k.permissions,
           k.can_see_identifiers, k.partner_id, p.name, p.is_active, p.service_user_id,
           ARRAY(SELECT pp.province_id FROM api_partner_provinces pp WHERE pp.partner_id = k.partner_id),
           p.agency_id, a.province_id
    FROM api_partnerkey k JOIN api_partner p ON p.id = k.partner_id LEFT JOIN cases_agency a ON a.id = p.agency_id
    WHERE k.prefix = %s
"""
_KEY_FIELDS = [
    "id", "prefix", "hashed_key", "created", "name", "revoked", "expiry_date", "permissions", "can_see_identifiers",
    "partner_id",
]  # fmt: skip


def _instance(model, data: dict):
    """A model instance from a row's values, as the ORM makes it (other fields deferred)."""
    names = [f.attname for f in model._meta.concrete_fields if f.attname in data]
    return model.from_db(connection.alias, names, [data[name] for name in names])


def _fetch(prefix: str) -> tuple[PartnerKey, frozenset[int]] | None:
    if connection.vendor != "postgresql":  # the embedded default: the ORM, two queries
        found = next(iter(PartnerKey.objects.select_related("partner__agency").filter(prefix=prefix).order_by()), None)
        if found is None:
            return None
        agency = found.partner.agency
        found.partner.agency_province = agency.province_id if agency is not None else None
        return found, frozenset(found.partner.provinces.values_list("code", flat=True))
    with connection.cursor() as cursor:
        cursor.execute(_KEY_SQL, [prefix])
        row = cursor.fetchone()
    if row is None:
        return None
    data = dict(zip(_KEY_FIELDS, row, strict=False))
    if isinstance(data["permissions"], str):  # Django reads jsonb as text and parses it in the field
        data["permissions"] = json.loads(data["permissions"])
    key = _instance(PartnerKey, data)
    partner_name, partner_active, service_user_id, codes, agency_id, agency_province = row[len(_KEY_FIELDS) :]
    key.partner = _instance(
        Partner,
        {
            "id": key.partner_id,
            "name": partner_name,
            "is_active": partner_active,
            "service_user_id": service_user_id,
            "agency_id": agency_id,
        },
    )
    key.partner.agency_province = agency_province
    return key, frozenset(codes)


def load_key(key: str) -> tuple[PartnerKey, frozenset[int]] | None:
    """The usable key for `key` and its partner's provinces, or None: unknown, wrong secret, revoked,
    expired, or its partner deactivated. One query on PostgreSQL."""
    prefix, dot, _secret = key.partition(".")
    if not dot or not prefix or len(key) > 200:
        return None
    fetched = _fetch(prefix)
    if fetched is None:
        return None
    found, provinces = fetched
    if not found.is_valid(key) or not found.is_usable(timezone.now()):
        return None
    return found, provinces


def principal_for_prefix(prefix: str) -> PartnerPrincipal | None:
    """The principal of the key with this prefix, if it is still usable (exports.registry: an export job asked
    for by a key runs with its scope later, in a worker, where the secret is not at hand)."""
    fetched = _fetch(prefix)
    if fetched is None:
        return None
    found, provinces = fetched
    if not found.is_usable(timezone.now()):
        return None
    return principal_for(found, provinces)


# An IPv6 client usually holds a whole /64 (allauth's login limits group addresses the same way).
IPV6_PREFIX = 64


def failed_key_window(request) -> tuple[Window, int] | None:
    """The window counting the unusable keys of the request's address, and how many it may send;
    None when no limit is set or the address is unknown."""
    rate = configured_rate("failed_key")
    address = client_ip(request)
    if not rate or address is None:
        return None
    if ipaddress.ip_address(address).version == 6:
        address = str(ipaddress.ip_network(f"{address}/{IPV6_PREFIX}", strict=False).network_address)
    limit, duration = parse_rate(rate)
    return current_window(f"api:failed-key:{address}", duration), limit


class PartnerKeyAuthentication(BaseAuthentication):
    def authenticate(self, request):
        key = parse_key(request)
        if key is None:
            return None  # not ours: the session may still authenticate
        failures = failed_key_window(request)
        if failures is not None:
            window, limit = failures
            if count(window) >= limit:
                raise exceptions.Throttled(wait=math.ceil(window.seconds_left))
        loaded = load_key(key)
        if loaded is None:
            if failures is not None:
                hit(failures[0])
            raise exceptions.AuthenticationFailed(_("The API key is not valid: unknown, revoked or expired."))
        found, provinces = loaded
        return principal_for(found, provinces), found

    def authenticate_header(self, request) -> str:
        # Makes an unauthenticated request a 401 (with this challenge) rather than a 403.
        return f'{KEYWORD} realm="api"'


def is_partner(user: object) -> TypeGuard[PartnerPrincipal]:
    return isinstance(user, PartnerPrincipal)
