"""Who may do what with merges of records (identity/), registered with the door (accounts.access).

- A proposal is seen by EEF/IPSR and by the coordinators of the provinces of its two records; nobody else
  (404). A coordinator proposes from a record of their province, naming the other record by its identifier.
- EEF/IPSR confirms alone. Where the two records are in two provinces, a coordinator of each confirms
  their province's side instead, and the merge happens with the second confirmation. Within one province,
  EEF/IPSR confirms (a second pair of eyes on what cannot be told apart afterwards).
- EEF/IPSR or a coordinator of either province rejects an open proposal; EEF/IPSR alone undoes a merge.
"""

from typing import Any

from django.db.models import F, Q

from accounts.access import QS, Principal, Scope, register, register_queryset
from accounts.models import User


def _proposals(queryset: QS, user: Principal, scope: Scope) -> QS:
    if scope.national:
        return queryset
    codes = scope.writable_provinces
    if not codes:
        return queryset.none()
    return queryset.filter(Q(survivor_province_id__in=codes) | Q(merged_province_id__in=codes))


def _waiting(queryset: QS, user: Principal, scope: Scope) -> QS:
    """Open proposals the user may confirm (as `identity.confirm` says, in one filter): every one for
    EEF/IPSR; for a coordinator, the two-province ones whose side of theirs is not confirmed yet."""
    proposals = queryset.filter(state="proposed")
    if scope.national:
        return proposals
    codes = scope.writable_provinces
    if not codes:
        return proposals.none()
    return proposals.exclude(survivor_province_id=F("merged_province_id")).filter(
        Q(survivor_province_id__in=codes, survivor_side_confirmed_by__isnull=True)
        | Q(merged_province_id__in=codes, merged_side_confirmed_by__isnull=True)
    )


def confirmers(proposal: Any) -> list[int]:
    """Whom a new proposal waits for, by name (its notification): where two provinces are involved, the
    coordinators of the one it was not proposed from (their side's confirmation); within one province, or
    when that province has no coordinator, EEF/IPSR's admins, who may confirm any. The proposer aside."""
    people: list[int] = []
    if proposal.two_provinces:
        others = proposal.provinces - {proposal.proposed_from_id}
        coordinators = User.objects.coordinators_of(others).exclude(pk=proposal.proposed_by_id)
        people = list(coordinators.values_list("pk", flat=True))
    return people or list(
        User.objects.national_admins().exclude(pk=proposal.proposed_by_id).values_list("pk", flat=True)
    )


def second_side(proposal: Any) -> list[int]:
    """Whom a two-province proposal waits for after one side confirmed: the coordinators of the side still
    unconfirmed, when that is the province it was proposed from (the other's were told at the proposal)."""
    waiting = {
        getattr(proposal, f"{side}_province_id")
        for side in ("survivor", "merged")
        if getattr(proposal, f"{side}_side_confirmed_by_id") is None
    }
    if not proposal.two_provinces or waiting != {proposal.proposed_from_id}:
        return []
    return list(User.objects.coordinators_of(waiting).values_list("pk", flat=True))


def _sides(scope: Scope, proposal: Any) -> set[str]:
    """The sides of a two-province proposal a coordinator may confirm ("survivor", "merged")."""
    if not proposal.two_provinces:
        return set()
    sides = set()
    if scope.can_write_province(proposal.survivor_province_id):
        sides.add("survivor")
    if scope.can_write_province(proposal.merged_province_id):
        sides.add("merged")
    return sides


def _confirms(user: Principal | None, scope: Scope, proposal: Any) -> bool:
    if proposal.state != "proposed":
        return False
    if scope.national:
        return True
    return any(getattr(proposal, f"{side}_side_confirmed_by_id") is None for side in _sides(scope, proposal))


def _rejects(user: Principal | None, scope: Scope, proposal: Any) -> bool:
    return proposal.state == "proposed" and (scope.national or any(map(scope.can_write_province, proposal.provinces)))


def register_rules() -> None:
    register_queryset("identity.proposals", _proposals)
    register_queryset("identity.waiting", _waiting)
    # Proposing from a record: EEF/IPSR, or a coordinator of the record's province (obj: the record).
    register("identity.propose", lambda user, scope, record: scope.can_write_province(record.province_id))
    register("identity.confirm", _confirms)
    register("identity.reject", _rejects)
    # Which side of a two-province proposal the user confirms (obj: (proposal, side)).
    register("identity.confirm_side", lambda user, scope, obj: obj[1] in _sides(scope, obj[0]))
    register("identity.undo", lambda user, scope, proposal: scope.national and proposal.state == "confirmed")
    # The lists: EEF/IPSR nationally, coordinators for their provinces.
    register("identity.list", lambda user, scope, obj: scope.national or bool(scope.writable_provinces))
