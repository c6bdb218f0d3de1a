"""What a user may see of each record of a merge proposal, for the pages and the API alike."""

from typing import Any

from accounts.access import can
from core.thai_id import mask_identifier
from targets.models import TargetRecord

from .models import MergeProposal


def with_records():
    """Proposals with both records, their provinces and the people named (one query for a list)."""
    return MergeProposal.objects.select_related("survivor__province", "merged__province", "proposed_by", "decided_by")


def record_side(user: Any, proposal: MergeProposal, record: TargetRecord | None, province_id: int) -> dict:
    """One record of a proposal as `user` may see it (no query: the records come with the proposal): all of it
    for those who read its province; the proposer's record for the other province's coordinators while they
    decide; nothing, not even the province, of the other province's record for the proposer."""
    readable = can(user, "targets.read", province_id)
    shown = readable or (proposal.proposed_from_id == province_id and proposal.state == MergeProposal.State.PROPOSED)
    if record is None or not shown:
        return {"shown": False}
    return {
        "shown": True,
        "record": record,
        "identifier": mask_identifier(record.identifier),
        "link": readable,
        "province": record.province,
    }


def sides(user: Any, proposal: MergeProposal) -> dict:
    return {
        "survivor": record_side(user, proposal, proposal.survivor, proposal.survivor_province_id),
        "merged": record_side(user, proposal, proposal.merged, proposal.merged_province_id),
    }
