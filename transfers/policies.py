"""Who may ask for, answer and see transfers between provinces: the transfers app's rules, registered
with the door (accounts.access). obj is the TransferRequest where a rule takes one.

- A request is seen by the coordinators of the two provinces (the requesting one, the holding one)
  and by EEF/IPSR; everyone else gets 404, as for a request that does not exist.
- Coordinators ask, for their own province; the holding province's coordinators (or EEF/IPSR) answer;
  the requesting side (or EEF/IPSR) may withdraw an open request; EEF/IPSR move a record directly.
- What of the record a side reads follows the record's current province (targets.read): the holder
  while it holds it, the requester once it moved to them. The pages never name the holding province
  to the requesting side (transfers/views.py).
"""

from typing import Any

from django.db.models import Q

from accounts.access import QS, Principal, Scope, register, register_queryset
from accounts.models import User


def _requests(queryset: QS, user: Principal, scope: Scope) -> QS:
    if scope.national:
        return queryset
    codes = scope.writable_provinces
    if not codes:
        return queryset.none()
    return queryset.filter(Q(to_province_id__in=codes) | Q(from_province_id__in=codes))


def _incoming(queryset: QS, user: Principal, scope: Scope) -> QS:
    if scope.national:
        return queryset
    codes = scope.writable_provinces
    return queryset.filter(from_province_id__in=codes) if codes else queryset.none()


def _outgoing(queryset: QS, user: Principal, scope: Scope) -> QS:
    if scope.national:
        return queryset.filter(forced=True)  # EEF/IPSR's own direct moves
    codes = scope.writable_provinces
    return queryset.filter(to_province_id__in=codes) if codes else queryset.none()


def _answers(user: Principal | None, scope: Scope, transfer: Any) -> bool:
    return scope.can_write_province(transfer.from_province_id)


def _withdraws(user: Principal | None, scope: Scope, transfer: Any) -> bool:
    return scope.can_write_province(transfer.to_province_id)


def _is_holder_side(user: Principal | None, scope: Scope, transfer: Any) -> bool:
    """The holding province's side of a request (EEF/IPSR read both sides)."""
    return scope.national or transfer.from_province_id in scope.writable_provinces


def answerers(transfer: Any) -> list[int]:
    """Whom a new request waits for, by name (its notification): the holding province's coordinators, whom
    `transfers.answer` admits; EEF/IPSR's admins, who may answer any request, when that province has none
    (the requester, who may coordinate it too, aside)."""
    coordinators = User.objects.coordinators_of([transfer.from_province_id]).exclude(pk=transfer.requested_by_id)
    people = list(coordinators.values_list("pk", flat=True))
    return people or list(User.objects.national_admins().values_list("pk", flat=True))


def register_rules() -> None:
    register_queryset("transfers.requests", _requests)
    register_queryset("transfers.incoming", _incoming)
    register_queryset("transfers.outgoing", _outgoing)
    # The pages: coordinators and EEF/IPSR.
    register("transfers.use", lambda user, scope, obj: scope.national or bool(scope.writable_provinces))
    # Asking for a record: a coordinator, for a province they coordinate (obj: its code; None: any).
    register(
        "transfers.request",
        lambda user, scope, obj: (
            bool(scope.writable_provinces) and (obj is None or getattr(obj, "pk", obj) in scope.writable_provinces)
        ),
    )
    register("transfers.force", lambda user, scope, obj: scope.national)
    register("transfers.answer", _answers)
    register("transfers.withdraw", _withdraws)
    register("transfers.holder_side", _is_holder_side)
