"""Who may see progress summaries and run them: the summaries app's rules, registered with the door
(accounts.access). EEF/IPSR admins see every dashboard and compute the figures; a university's team
its university's dashboard; whoever reads a province its province's. Nobody else sees the national
figures."""

from django.db.models import Q

from accounts.access import QS, Principal, Scope, register, register_queryset

from .models import Level


def _visible_snapshots(queryset: QS, user: Principal, scope: Scope) -> QS:
    """EEF admins: all. Others: their provinces' snapshots and their university's; no national."""
    if scope.national:
        return queryset
    condition = Q(pk__in=[])
    if scope.readable_provinces:
        condition |= Q(level=Level.PROVINCE, province__in=scope.readable_provinces)
    if scope.universities:
        condition |= Q(level=Level.UNIVERSITY, university__in=scope.universities)
    return queryset.filter(condition)


def register_rules() -> None:
    register("summaries.read_national", lambda user, scope, obj: scope.national)
    register("summaries.run", lambda user, scope, obj: scope.national)
    # obj: the university's pk.
    register("summaries.read_university", lambda user, scope, pk: scope.national or pk in scope.universities)
    register("summaries.read_province", lambda user, scope, code: scope.can_read_province(code))
    register_queryset("summaries.read", _visible_snapshots)
