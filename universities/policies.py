"""Who may see and write universities' support: the universities app's rules, registered with the door
(accounts.access).

- Support assignments and a university's work in a province (activities, capacity requests): seen by
  the province's people and by the university's team (in every year); assignments are decided by
  EEF/IPSR only; work is written by the university's team and EEF/IPSR.
- A team's names are seen by EEF/IPSR and the team itself.
- A province's coordinators (and EEF/IPSR) file its capacity requests.
"""

from django.db.models import Q

from accounts.access import (
    QS,
    Principal,
    ProvinceScopedQuerySet,
    Scope,
    filter_by_province,
    register,
    register_queryset,
)


def _code(province) -> int:
    """A province given as itself or by its code."""
    return getattr(province, "pk", province)


def _province_or_own_university(queryset: QS, user: Principal, scope: Scope) -> QS:
    """The rows of provinces the user may read, and every row of their own university."""
    if not isinstance(queryset, ProvinceScopedQuerySet):  # support assignments, the universities' work
        raise TypeError("universities.read filters the rows of a province")
    if scope.national or not scope.universities:
        return filter_by_province(queryset, user, path=queryset.province_path)
    return queryset.filter(Q(province__in=scope.readable_provinces) | Q(university__in=scope.universities))


def _handled(queryset: QS, user: Principal, scope: Scope) -> QS:
    """Rows the user may write as a member of the university's team (or as an EEF admin)."""
    if scope.national:
        return queryset
    return queryset.filter(university__in=scope.universities) if scope.universities else queryset.none()


def register_rules() -> None:
    register_queryset("universities.read", _province_or_own_university)
    register_queryset("universities.assignment.write", lambda qs, user, scope: qs if scope.national else qs.none())
    register_queryset("universities.work.write", _handled)
    # obj: the university's pk. Its team records its work and sees its names.
    register("universities.team", lambda user, scope, pk: scope.national or pk in scope.universities)
    register("universities.record_any", lambda user, scope, obj: scope.national or bool(scope.universities))
    # obj: the province (or its code).
    register(
        "universities.request.file",
        lambda user, scope, province: scope.can_write_province(_code(province)),
    )
    register("universities.request.file_any", lambda user, scope, obj: scope.national or bool(scope.writable_provinces))
    # Correcting a request's text, deleting rows in admin: EEF/IPSR.
    register("universities.administer", lambda user, scope, obj: scope.national)
