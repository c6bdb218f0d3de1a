"""Who may see and change what: the portal's one access door.

A user's scope follows from their Membership rows (accounts.models):

- EEF/IPSR admin (and a Django superuser): national, every province.
- University team lead or member: the provinces their university supports in the current fiscal
  year (universities.SupportAssignment), read-only for province-owned records.
- Provincial coordinator: one province, read and write.
- Provincial viewer: one province, read-only.
- No membership, inactive or anonymous: nothing (fail closed).

Every model that belongs to a province gets its filters from `ProvinceScopedQuerySet`
(`visible_to(user)`, `writable_by(user)`), and single objects come from `get_object_for_user`,
which answers 404 to outsiders exactly as for a missing object. Pages, Django admin
(accounts/admin_access.py), exports, the API and summaries all go through these; nothing else
decides access.
"""

from dataclasses import dataclass, field
from functools import cached_property
from typing import TypeVar

from django.apps import apps
from django.db import models
from django.shortcuts import get_object_or_404

from abe_portal.buddhist_dates import current_fiscal_year

from .models import NATIONAL_ROLES, UNIVERSITY_ROLES, Role

M = TypeVar("M", bound=models.Model)


@dataclass(frozen=True)
class Scope:
    national: bool = False
    roles: frozenset[str] = field(default_factory=frozenset)
    readable_provinces: frozenset[int] = field(default_factory=frozenset)
    writable_provinces: frozenset[int] = field(default_factory=frozenset)
    universities: frozenset[int] = field(default_factory=frozenset)
    lead_universities: frozenset[int] = field(default_factory=frozenset)
    # Provinces held through a provincial role (coordinator, viewer), not through a university.
    member_provinces: frozenset[int] = field(default_factory=frozenset)

    @cached_property
    def supporting_universities(self) -> frozenset[int]:
        """The universities supporting the user's own provinces this fiscal year (one query, on first use:
        only pages that need it, such as meetings, pay for it)."""
        if not self.member_provinces:
            return frozenset()
        assignments = apps.get_model("universities", "SupportAssignment").objects
        return frozenset(
            assignments.for_fiscal_year(current_fiscal_year())
            .filter(province_id__in=self.member_provinces)
            .values_list("university_id", flat=True)
        )

    @property
    def has_role(self) -> bool:
        return self.national or bool(self.roles)

    def can_read_province(self, code: int) -> bool:
        return self.national or code in self.readable_provinces

    def can_write_province(self, code: int) -> bool:
        return self.national or code in self.writable_provinces

    def can_read_identifiers(self, code: int) -> bool:
        """Full national IDs (unmasked) of a province's records: EEF admins and the province's
        coordinators, who enter them; everyone else sees x-xxxx-xxxxx-12-1 (PDPA)."""
        return self.national or code in self.writable_provinces


NO_ACCESS = Scope()
_CACHE_ATTR = "_abe_access_scope"


def scope_for(user) -> Scope:
    """The user's scope, computed once per user object (so once per request) in two queries.

    A partner system's API key (api.authentication) is a principal too: it carries its own Scope
    (`api_scope`: the provinces the key was given), so every door below works for it unchanged.
    """
    if user is None or not user.is_authenticated or not user.is_active:
        return NO_ACCESS
    api_scope = getattr(user, "api_scope", None)
    if api_scope is not None:
        return api_scope
    cached = getattr(user, _CACHE_ATTR, None)
    if cached is not None:
        return cached
    rows = list(user.memberships.values_list("role", "province_id", "university_id"))
    roles = frozenset(role for role, _, _ in rows)
    national = user.is_superuser or bool(roles & NATIONAL_ROLES)
    universities = frozenset(u for role, _, u in rows if role in UNIVERSITY_ROLES)
    supported: set[int] = set()
    if universities and not national:
        assignments = apps.get_model("universities", "SupportAssignment").objects
        supported = set(
            assignments.for_fiscal_year(current_fiscal_year())
            .filter(university_id__in=universities)
            .values_list("province_id", flat=True)
        )
    scope = Scope(
        national=national,
        roles=roles,
        readable_provinces=frozenset(supported | {p for _, p, _ in rows if p is not None}),
        writable_provinces=frozenset(p for role, p, _ in rows if role == Role.PROVINCE_COORDINATOR),
        universities=universities,
        lead_universities=frozenset(u for role, _, u in rows if role == Role.UNIVERSITY_LEAD),
        member_provinces=frozenset(p for _, p, _ in rows if p is not None),
    )
    setattr(user, _CACHE_ATTR, scope)
    return scope


def forget_scope(user) -> None:
    """Drop the cached scope, after the user's memberships changed within the same request."""
    if hasattr(user, _CACHE_ATTR):
        delattr(user, _CACHE_ATTR)


def filter_by_province(queryset: models.QuerySet, user, *, path: str, write: bool = False) -> models.QuerySet:
    """Rows whose province (reached through `path`, "" for Province itself) the user may read or write."""
    scope = scope_for(user)
    if scope.national:
        return queryset
    codes = scope.writable_provinces if write else scope.readable_provinces
    if not codes:
        return queryset.none()
    return queryset.filter(**{f"{path}__in" if path else "pk__in": codes})


class ProvinceScopedQuerySet(models.QuerySet):
    """For models that belong to a province. Subclasses name the way to it in `province_path`."""

    province_path = "province"

    def visible_to(self, user) -> models.QuerySet:
        return filter_by_province(self, user, path=self.province_path)

    def writable_by(self, user) -> models.QuerySet:
        return filter_by_province(self, user, path=self.province_path, write=True)


class RoleHoldersQuerySet(models.QuerySet):
    """For reference rows anyone with a role may read (universities, regions); only admins write."""

    def visible_to(self, user) -> models.QuerySet:
        return self if scope_for(user).has_role else self.none()

    def writable_by(self, user) -> models.QuerySet:
        return self if scope_for(user).national else self.none()


def get_object_for_user(model_or_queryset: type[M] | models.QuerySet, user, pk, *, write: bool = False) -> M:
    """One object through the access door: 404 for outsiders, the same as for a missing object."""
    if isinstance(model_or_queryset, models.QuerySet):
        queryset = model_or_queryset
    else:
        queryset = model_or_queryset._default_manager.all()
    queryset = queryset.writable_by(user) if write else queryset.visible_to(user)
    return get_object_or_404(queryset, pk=pk)
