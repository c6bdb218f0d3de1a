"""The one write path of probable duplicates' decisions: views, the API and tests call these."""

from collections.abc import Iterable

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .models import DuplicateCandidate, NotSamePerson


class AlreadyDecided(Exception):
    """The pair was decided before (by someone else, or in another tab): nothing changes."""


def mark_not_same(*, candidate: DuplicateCandidate, user) -> DuplicateCandidate:
    """ "Not the same person": remembered (NotSamePerson), so that the finder never proposes the pair again; the
    candidate leaves the queue. The caller has checked the user may review it (the door's writable_by)."""
    with transaction.atomic():
        locked = DuplicateCandidate.objects.select_for_update(of=("self",)).get(pk=candidate.pk)
        if locked.state != DuplicateCandidate.State.OPEN:
            raise AlreadyDecided
        NotSamePerson.objects.get_or_create(
            record_a_id=locked.record_a_id,
            record_b_id=locked.record_b_id,
            defaults={"decided_by": user if getattr(user, "pk", None) else None},
        )
        locked.state = DuplicateCandidate.State.NOT_SAME
        locked.decided_at = timezone.now()
        locked.decided_by = user if getattr(user, "pk", None) else None
        locked.save(update_fields=["state", "decided_at", "decided_by"])
    return locked


def record_merge(*, record_ids: Iterable[int], user=None) -> int:
    """Identity merged these records (or one into the other): their open pairs are merged. Returns how many.
    Registered with identity's hook when it has one (duplicates/apps.py); the nightly run also closes the pairs
    whose record is gone (finder.close_gone)."""
    ids = list(record_ids)
    if not ids:
        return 0
    return (
        DuplicateCandidate.objects.open()
        .filter(Q(record_a_id__in=ids) | Q(record_b_id__in=ids))
        .update(
            state=DuplicateCandidate.State.MERGED,
            decided_at=timezone.now(),
            decided_by=user if getattr(user, "pk", None) else None,
        )
    )
