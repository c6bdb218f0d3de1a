"""Who reviews probable duplicates: the duplicates app's rules, registered with the door (accounts.access).

A province's coordinators review their province's pairs (a pair is always of one province: the finder compares
records of one province only); EEF/IPSR admins review every province's. Viewers, university teams, case workers
and agency users do not: the pairs name children side by side, and deciding is a coordinator's work.
"""

from django.db.models import Q

from accounts.access import QS, Principal, Scope, register, register_queryset


def _code(province) -> int:
    return getattr(province, "pk", province)


def _candidates(queryset: QS, user: Principal, scope: Scope) -> QS:
    if scope.national:
        return queryset
    if not scope.writable_provinces:
        return queryset.none()
    return queryset.filter(province_id__in=scope.writable_provinces)


def _not_same(queryset: QS, user: Principal, scope: Scope) -> QS:
    """The "not the same person" decisions about records of the user's provinces (a pair is of one province when
    decided; a record moved since counts for its new province as well)."""
    if scope.national:
        return queryset
    if not scope.writable_provinces:
        return queryset.none()
    codes = scope.writable_provinces
    return queryset.filter(Q(record_a__province_id__in=codes) | Q(record_b__province_id__in=codes))


def register_rules() -> None:
    # The queue at all (its link in the menu, the page): a coordinator of some province, or EEF/IPSR.
    register("duplicates.review_any", lambda user, scope, obj: scope.national or bool(scope.writable_provinces))
    # One province's pairs (obj: the province or its code).
    register("duplicates.review", lambda user, scope, province: scope.can_write_province(_code(province)))
    register_queryset("duplicates.candidates", _candidates)
    register_queryset("duplicates.not_same", _not_same)
