"""Who may see and change what: the portal's one access door (README.md, "Accounts, roles and who
sees what", has the roles and how pages, admin, the API and exports use it).

A user's Scope follows from their Membership rows and fails closed: no role, inactive or anonymous
sees nothing. Province-owned models filter through `ProvinceScopedQuerySet` (`visible_to`,
`writable_by`), one object comes from `get_object_for_user` (404 to outsiders, as for a missing
object), and every other rule is a named action that an app's `policies.py` registers here, asked
with `can`, `require` or `restrict`. Only this module and the policies read a Scope's fields
(tests/test_access_door.py holds that).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol, Self, TypeAlias, TypeVar

from django.apps import apps
from django.core.exceptions import PermissionDenied
from django.db import models
from django.shortcuts import get_object_or_404

from core.buddhist_dates import current_fiscal_year

from .models import CASE_ROLES, NATIONAL_ROLES, UNIVERSITY_ROLES, AnyUser, Role, User

M = TypeVar("M", bound=models.Model)
# A queryset the door filters: the rules hand back the same class of queryset (filter(), none()), so
# `Meeting.objects.visible_to(user)` is still a MeetingQuerySet.
QS = TypeVar("QS", bound=models.QuerySet[Any])


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
    # Case follow-up (cases/): provinces where the user is a case worker, and the districts such a role is
    # limited to (case_whole_provinces: a case-worker role without a district limit); the agencies an agency
    # user acts for, and their provinces. None of these reads a province as a whole.
    case_provinces: frozenset[int] = field(default_factory=frozenset)
    case_districts: frozenset[int] = field(default_factory=frozenset)
    case_whole_provinces: frozenset[int] = field(default_factory=frozenset)
    agencies: frozenset[int] = field(default_factory=frozenset)
    agency_provinces: frozenset[int] = field(default_factory=frozenset)
    # The user's own id, for rules about what is theirs (records assigned to a case worker).
    user_id: int | None = None

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

    def works_cases_in(self, code: int) -> bool:
        """A case worker of province `code` (records assigned to them there, not the province)."""
        return code in self.case_provinces

    def works_in_district(self, province: int, district: int | None) -> bool:
        """Whether a case worker of `province` works where `district` is (None: a record without one,
        which only a case worker of the whole province takes)."""
        if province in self.case_whole_provinces:
            return True
        return province in self.case_provinces and district is not None and district in self.case_districts

    def can_read_identifiers(self, code: int) -> bool:
        """Full national IDs (unmasked) of a province's records: EEF admins and the province's
        coordinators, who enter them; everyone else sees x-xxxx-xxxxx-12-1 (PDPA)."""
        return self.national or code in self.writable_provinces


class ScopedPrincipal(Protocol):
    """A caller that is not a User and carries its own Scope: a partner system's API key
    (api.authentication.PartnerPrincipal, which this module cannot import)."""

    @property
    def api_scope(self) -> Scope: ...
    @property
    def is_authenticated(self) -> bool: ...
    @property
    def is_active(self) -> bool: ...
    @property
    def is_staff(self) -> bool: ...
    @property
    def pk(self) -> None: ...  # no row
    def get_username(self) -> str: ...  # what the logs name it by


# Whom the door is asked about: request.user (a user, signed in or anonymous) or a partner's key.
Principal: TypeAlias = AnyUser | ScopedPrincipal

NO_ACCESS = Scope()
_CACHE_ATTR = "_abe_access_scope"


def scope_for(user: Principal | None) -> Scope:
    """The user's scope, computed once per user object (so once per request) in two queries.

    A partner system's API key (api.authentication) is a principal too: it carries its own Scope
    (`api_scope`: the provinces the key was given), so every door below works for it unchanged.
    None (a template rendered outside a request) has no access.
    """
    if user is None or not user.is_authenticated or not user.is_active:
        return NO_ACCESS
    # A key's principal, or the service account a key's upload is recorded as (api.imports.uploader_for).
    api_scope: Scope | None = getattr(user, "api_scope", None)
    if api_scope is not None:
        return api_scope
    if not isinstance(user, User):
        return NO_ACCESS
    cached: Scope | None = getattr(user, _CACHE_ATTR, None)
    if cached is not None:
        return cached
    memberships = list(user.memberships.values_list("role", "province_id", "university_id", "agency_id"))
    limits: list[tuple[int, int | None]] = []
    if any(role == Role.CASE_WORKER for role, _, _, _ in memberships):
        limits = list(user.memberships.filter(role=Role.CASE_WORKER).values_list("province_id", "districts"))
    scope = _build_scope(user, memberships, limits, None)
    setattr(user, _CACHE_ATTR, scope)
    return scope


Memberships: TypeAlias = Sequence[tuple[str, int | None, int | None, int | None]]


def _build_scope(
    user: User,
    memberships: Memberships,
    limits: Sequence[tuple[int, int | None]],
    supported_by: dict[int, set[int]] | None,
) -> Scope:
    """The scope of `user` from their membership rows (role, province, university, agency), their case-worker
    roles' district limits (province, district) and, when known, the provinces each university supports
    this fiscal year (None: asked here, one query)."""
    roles = frozenset(role for role, _, _, _ in memberships)
    # Case workers and agency users hold a province without reading it: kept apart from the rest.
    rows = [(role, p, u) for role, p, u, _ in memberships if role not in CASE_ROLES]
    national = user.is_superuser or bool(roles & NATIONAL_ROLES)
    universities = frozenset(u for role, _, u in rows if role in UNIVERSITY_ROLES and u is not None)
    case_provinces = frozenset(p for role, p, _, _ in memberships if role == Role.CASE_WORKER and p is not None)
    case_districts: dict[int, set[int]] = {}
    for province, district in limits:
        districts = case_districts.setdefault(province, set())
        if district is not None:
            districts.add(district)
    supported: set[int] = set()
    if universities and not national:
        if supported_by is None:
            supported_by = _supported_provinces(universities)
        supported = {p for u in universities for p in supported_by.get(u, ())}
    return Scope(
        national=national,
        roles=roles,
        readable_provinces=frozenset(supported | {p for _, p, _ in rows if p is not None}),
        writable_provinces=frozenset(p for role, p, _ in rows if role == Role.PROVINCE_COORDINATOR and p is not None),
        universities=universities,
        lead_universities=frozenset(u for role, _, u in rows if role == Role.UNIVERSITY_LEAD and u is not None),
        member_provinces=frozenset(p for _, p, _ in rows if p is not None),
        case_provinces=case_provinces,
        case_districts=frozenset(d for districts in case_districts.values() for d in districts),
        case_whole_provinces=frozenset(p for p, districts in case_districts.items() if not districts),
        agencies=frozenset(a for role, _, _, a in memberships if role == Role.AGENCY_USER and a is not None),
        agency_provinces=frozenset(p for role, p, _, _ in memberships if role == Role.AGENCY_USER and p is not None),
        user_id=user.pk,
    )


def _supported_provinces(universities: Any) -> dict[int, set[int]]:
    assignments = apps.get_model("universities", "SupportAssignment").objects
    supported: dict[int, set[int]] = {}
    rows = assignments.for_fiscal_year(current_fiscal_year()).filter(university_id__in=universities)
    for university, province in rows.values_list("university_id", "province_id"):
        supported.setdefault(university, set()).add(province)
    return supported


def prime_scopes(users: list[User], *, supporting: bool = False) -> None:
    """Compute the scopes of many users at once, in three queries whatever their number, so that the
    door answers for each without a query of its own (the daily digest's batches: cases.digest).
    `supporting`: also the universities supporting each one's own provinces (Scope.supporting_universities,
    which meetings' rules read), in one more query (the weekly digest: digests.weekly)."""
    memberships: dict[int, list[tuple[str, int | None, int | None, int | None]]] = {u.pk: [] for u in users}
    holders = apps.get_model("accounts", "Membership").objects.filter(user_id__in=list(memberships))
    for user_id, role, province, university, agency in holders.values_list(
        "user_id", "role", "province_id", "university_id", "agency_id"
    ):
        memberships[user_id].append((role, province, university, agency))
    limits: dict[int, list[tuple[int, int | None]]] = {}
    for user_id, province, district in holders.filter(role=Role.CASE_WORKER).values_list(
        "user_id", "province_id", "districts"
    ):
        limits.setdefault(user_id, []).append((province, district))
    universities = {u for rows in memberships.values() for role, _, u, _ in rows if role in UNIVERSITY_ROLES and u}
    supported_by = _supported_provinces(universities) if universities else {}
    scopes = []
    for user in users:
        if user.is_authenticated and user.is_active:
            scope = _build_scope(user, memberships[user.pk], limits.get(user.pk, []), supported_by)
            setattr(user, _CACHE_ATTR, scope)
            scopes.append(scope)
    if supporting:
        _prime_supporting(scopes)


def _prime_supporting(scopes: list[Scope]) -> None:
    """Fill in each scope's supporting_universities (a cached_property: set in its __dict__) in one query."""
    provinces = {p for scope in scopes for p in scope.member_provinces}
    supporters: dict[int, set[int]] = {}
    if provinces:
        assignments = apps.get_model("universities", "SupportAssignment").objects
        rows = assignments.for_fiscal_year(current_fiscal_year()).filter(province_id__in=provinces)
        for province, university in rows.values_list("province_id", "university_id"):
            supporters.setdefault(province, set()).add(university)
    for scope in scopes:
        scope.__dict__["supporting_universities"] = frozenset(
            u for p in scope.member_provinces for u in supporters.get(p, ())
        )


def forget_scope(user: Principal) -> None:
    """Drop the cached scope, after the user's memberships changed within the same request."""
    if hasattr(user, _CACHE_ATTR):
        delattr(user, _CACHE_ATTR)


def filter_by_province(queryset: QS, user: Principal, *, path: str, write: bool = False) -> QS:
    """Rows whose province (reached through `path`, "" for Province itself) the user may read or write."""
    scope = scope_for(user)
    if scope.national:
        return queryset
    codes = scope.writable_provinces if write else scope.readable_provinces
    if not codes:
        return queryset.none()
    return queryset.filter(**{f"{path}__in" if path else "pk__in": codes})


class ProvinceScopedQuerySet(models.QuerySet[M]):
    """For models that belong to a province. Subclasses name the way to it in `province_path`."""

    province_path = "province"

    def visible_to(self, user: Principal) -> Self:
        return filter_by_province(self, user, path=self.province_path)

    def writable_by(self, user: Principal) -> Self:
        return filter_by_province(self, user, path=self.province_path, write=True)


class RoleHoldersQuerySet(models.QuerySet[M]):
    """For reference rows anyone with a role may read (universities, regions); only admins write."""

    def visible_to(self, user: Principal) -> Self:
        return self if scope_for(user).has_role else self.none()

    def writable_by(self, user: Principal) -> Self:
        return self if scope_for(user).national else self.none()


def get_object_for_user(
    model_or_queryset: type[M] | models.QuerySet[M], user: Principal, pk: object, *, write: bool = False
) -> M:
    """One object through the access door: 404 for outsiders, the same as for a missing object."""
    queryset: models.QuerySet[M]
    if isinstance(model_or_queryset, models.QuerySet):
        queryset = model_or_queryset
    else:
        queryset = model_or_queryset._default_manager.all()
    # Every model behind the door has visible_to and writable_by on its QuerySet (ProvinceScopedQuerySet,
    # RoleHoldersQuerySet or its app's own), which no common type names: a model without them fails here.
    door: Any = queryset
    found: M = get_object_or_404(door.writable_by(user) if write else door.visible_to(user), pk=pk)
    return found


# --- the registry of named rules -------------------------------------------------------------------
# rule(user, scope, obj) -> bool; user is None for a template rendered outside a request.
Rule = Callable[[Principal | None, Scope, Any], bool]


class QuerySetRule(Protocol):
    """rule(queryset, user, scope) -> the rows allowed, a queryset of the same class (filter(), none())."""

    def __call__(self, queryset: QS, user: Principal, scope: Scope, /) -> QS: ...


_RULES: dict[str, Rule] = {}
_QUERYSET_RULES: dict[str, QuerySetRule] = {}


def register(action: str, rule: Rule) -> None:
    """Declare who may do `action`: rule(user, scope, obj) -> bool. Called from an app's policies.py."""
    if _RULES.get(action, rule) is not rule:
        raise ValueError(f"Access rule {action!r} is registered twice")
    _RULES[action] = rule


def register_queryset(action: str, rule: QuerySetRule) -> None:
    """Declare the rows `action` allows: rule(queryset, user, scope) -> queryset."""
    if _QUERYSET_RULES.get(action, rule) is not rule:
        raise ValueError(f"Queryset rule {action!r} is registered twice")
    _QUERYSET_RULES[action] = rule


def can(user: Principal | None, action: str, obj: Any = None) -> bool:
    """Whether `user` may do `action` (to `obj`, when the rule is about one). An unknown action is a
    programming error (KeyError), never a quiet "no" or "yes"."""
    return bool(_RULES[action](user, scope_for(user), obj))


def require(user: Principal | None, action: str, obj: Any = None) -> None:
    """PermissionDenied unless can(user, action, obj)."""
    if not can(user, action, obj):
        raise PermissionDenied


def restrict(queryset: QS, user: Principal, action: str) -> QS:
    """The rows of `queryset` on which `user` may do `action` (a registered queryset rule)."""
    return _QUERYSET_RULES[action](queryset, user, scope_for(user))


def own_universities(user: Principal) -> frozenset[int]:
    """The universities whose team the user belongs to (lead or member); empty for everyone else,
    EEF/IPSR admins included. For defaults and choices; whether they may act is `can`'s to say."""
    return scope_for(user).universities


def own_provinces(user: Principal, *, write: bool = False) -> frozenset[int]:
    """The provinces the user holds (write: as coordinator), for defaults and choices; empty for an
    EEF/IPSR admin, whose scope is every province."""
    scope = scope_for(user)
    if scope.national:
        return frozenset()
    return scope.writable_provinces if write else scope.readable_provinces


def only_province(user: Principal, *, write: bool = False) -> int | None:
    """The one province a user who holds exactly one has (write: as coordinator), else None: pages
    choose it for them."""
    provinces = own_provinces(user, write=write)
    return next(iter(provinces)) if len(provinces) == 1 else None


def home_provinces(user: Principal) -> frozenset[int]:
    """The provinces the user holds through a provincial role (coordinator, viewer), not a university."""
    return scope_for(user).member_provinces


def _pk(obj: Any) -> int:
    """A primary key given as itself or as the object."""
    pk: int = obj if isinstance(obj, int) else obj.pk
    return pk


# The door's own rules, about any province and the portal itself; apps name theirs in policies.py.
register("portal.use", lambda user, scope, obj: scope.has_role)
register("portal.national", lambda user, scope, obj: scope.national)
# The programme's shared pages (provinces, reports, universities, meetings, dashboards): every role but the
# case follow-up ones, whose members work on single children and read no province as a whole.
register("portal.programme", lambda user, scope, obj: scope.national or bool(scope.roles - CASE_ROLES))
register("province.read", lambda user, scope, obj: scope.can_read_province(_pk(obj)))
register("province.write", lambda user, scope, obj: scope.can_write_province(_pk(obj)))
register("province.write_any", lambda user, scope, obj: scope.national or bool(scope.writable_provinces))
# Full national IDs (unmasked) of a province's records: see Scope.can_read_identifiers.
register("province.read_identifiers", lambda user, scope, obj: scope.can_read_identifiers(_pk(obj)))
register("university.act_for", lambda user, scope, obj: scope.national or _pk(obj) in scope.universities)
register("university.act_for_any", lambda user, scope, obj: scope.national or bool(scope.universities))
