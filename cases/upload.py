"""Assigning records to the case workers an upload's optional column names (targets/upload/hooks.py)."""

from accounts.models import User
from targets.models import TargetRecord, identifiers_holders

from . import services

ASSIGN_CHUNK = 2_000  # records per services.assign call: bounded memory and query size


def assign_from_upload(batch, user, assignments: dict[int, list[str]]) -> None:
    """Through services.assign, the one write path (cases, events, one notification per record changed).
    Only the upload's province's records: a row refused as another province's is never assigned."""
    workers = User.objects.in_bulk(list(assignments))
    for worker_id, identifiers in assignments.items():
        for start in range(0, len(identifiers), ASSIGN_CHUNK):
            # By a record's own identifier or one a merge kept as its alias (targets.RecordAlias).
            chunk = identifiers[start : start + ASSIGN_CHUNK]
            records = TargetRecord.objects.filter(
                province_id=batch.province_id, pk__in=identifiers_holders(chunk)
            ).only("pk", "province_id", "district_id", "case_worker_id")
            services.assign(user=user, records=records, worker=workers[worker_id])
