"""Who may see and write meetings: the meetings app's rules, registered with the door (accounts.access).

Read: EEF/IPSR admins all; anyone with a role the national meetings (but case workers and agency users,
who read no province, see no meeting); a regional or provincial meeting its provinces' people and the
teams of its universities and of the universities supporting its provinces this fiscal year. A meeting's
parts are seen by whoever sees the meeting. Write: one rule, _write_grants, read by every check (EEF/IPSR
every meeting; a university team the regional and provincial meetings that list its university; a
coordinator their province's provincial meetings).
An action item's status and note may also be updated by its owner (_is_owner).
"""

from django.db.models import Exists, OuterRef, Q

from accounts.access import QS, Principal, Scope, register, register_queryset
from accounts.models import CASE_ROLES

from .models import ActionItem, Kind, Meeting


def _write_grants(scope: Scope) -> list[tuple[frozenset[str], str, frozenset[int]]]:
    """The write grants of a non-national scope: (kinds, the meeting's field, the ids of the user's)
    for each way the user writes a meeting. A meeting is written when its kind is among `kinds` and
    its `field` lists one of the ids."""
    grants: list[tuple[frozenset[str], str, frozenset[int]]] = []
    if scope.universities:
        grants.append((frozenset({Kind.REGIONAL, Kind.PROVINCIAL}), "universities", scope.universities))
    if scope.writable_provinces:
        grants.append((frozenset({Kind.PROVINCIAL}), "provinces", scope.writable_provinces))
    return grants


def _may_organise(user: Principal | None, scope: Scope, kind: str) -> bool:
    """Whether the scope organises meetings of this kind (of some provinces or universities)."""
    return scope.national or any(kind in kinds for kinds, _field, _ids in _write_grants(scope))


def _may_write_planned(user: Principal | None, scope: Scope, planned) -> bool:
    """A meeting about to be saved: planned = (kind, province ids, university ids)."""
    if scope.national:
        return True
    kind, province_ids, university_ids = planned
    listed = {"provinces": set(province_ids), "universities": set(university_ids)}
    return any(kind in kinds and listed[field] & ids for kinds, field, ids in _write_grants(scope))


def _writable_meetings(queryset: QS, user: Principal | None, scope: Scope) -> QS:
    if scope.national:
        return queryset
    condition = Q(pk__in=[])
    for kinds, field, ids in _write_grants(scope):
        condition |= Q(kind__in=sorted(kinds), **{f"{field}__in": ids})
    return queryset.filter(pk__in=queryset.filter(condition).values("pk"))


def _visibility(user: Principal, scope: Scope, *, path: str = "") -> Q | None:
    """The condition on meetings (reached through `path`) that the scope may see; None = all."""
    if scope.national:
        return None
    if not scope.roles - CASE_ROLES:  # no role, or only the case follow-up ones
        return Q(pk__in=[])
    prefix = f"{path}__" if path else ""
    meeting_ref = OuterRef(f"{prefix}pk" if path else "pk")
    in_provinces = Exists(
        Meeting.provinces.through.objects.filter(meeting=meeting_ref, province__in=scope.readable_provinces)
    )
    universities = scope.universities | scope.supporting_universities
    in_universities = Exists(
        Meeting.universities.through.objects.filter(meeting=meeting_ref, university__in=universities)
    )
    return Q(**{f"{prefix}kind": Kind.NATIONAL}) | in_provinces | in_universities


def _reads_loaded(user: Principal | None, scope: Scope, meeting: Meeting) -> bool:
    """One meeting, its provinces and universities prefetched, as _visibility filters a list: for those who
    ask per meeting of a batch (the weekly digest, digests.weekly), with no query of its own once the
    scope is primed (accounts.access.prime_scopes(supporting=True))."""
    if scope.national:
        return True
    if not scope.roles - CASE_ROLES:
        return False
    if meeting.kind == Kind.NATIONAL:
        return True
    if any(p.pk in scope.readable_provinces for p in meeting.provinces.all()):
        return True
    universities = scope.universities | scope.supporting_universities
    return any(u.pk in universities for u in meeting.universities.all())


def _visible(path: str):
    def rule(queryset: QS, user: Principal, scope: Scope) -> QS:
        condition = _visibility(user, scope, path=path)
        return queryset if condition is None else queryset.filter(condition)

    return rule


def _owned_items(queryset: QS, user: Principal, scope: Scope) -> QS:
    """Items whose owner is the user, one of their provinces, or one of their universities (a province's
    viewers count too, so that their home page shows the province's items; viewers read, they do not
    update: _is_owner)."""
    condition = Q(owner_user=user) if user.is_authenticated else Q(pk__in=[])
    provinces = scope.writable_provinces | {p for p in scope.readable_provinces if not scope.universities}
    if provinces:
        condition |= Q(owner_province__in=provinces)
    if scope.universities:
        condition |= Q(owner_university__in=scope.universities)
    return queryset.filter(condition)


def _is_owner(user: Principal | None, scope: Scope, item: ActionItem) -> bool:
    """The person named, a coordinator of the province named, or the team of the university named."""
    return (
        (item.owner_user_id is not None and user is not None and item.owner_user_id == user.pk)
        or item.owner_province_id in scope.writable_provinces
        or item.owner_university_id in scope.universities
    )


def register_rules() -> None:
    register("meetings.create", lambda user, scope, obj: scope.national or bool(_write_grants(scope)))
    register("meetings.organise_kind", _may_organise)
    register("meetings.write_planned", _may_write_planned)
    # One query, whoever asks (the page's buttons, the services' checks, admin).
    register(
        "meetings.write",
        lambda user, scope, meeting: (
            _writable_meetings(Meeting.objects.all(), user, scope).filter(pk=meeting.pk).exists()
        ),
    )
    register("meetings.write_all", lambda user, scope, obj: scope.national)
    register("meetings.action_item.own", _is_owner)
    register_queryset("meetings.read", _visible(""))
    register("meetings.read_loaded", _reads_loaded)
    register_queryset("meetings.part.read", _visible("meeting"))
    register_queryset("meetings.write", _writable_meetings)
    register_queryset("meetings.action_item.owned", _owned_items)
