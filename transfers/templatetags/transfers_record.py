"""A record's moves between provinces on its page (targets/templates/targets/record_detail.html loads this, as it
loads the case section: targets imports nothing of transfers). One query."""

from typing import Any

from django import template

from accounts.access import can

from ..models import TransferRequest, TransferState

register = template.Library()


@register.inclusion_tag("transfers/record_moves.html", takes_context=True)
def record_moves(context: template.Context, record: Any) -> dict[str, Any]:
    """The record's accepted moves, oldest first: "moved in from another province" with the date; the two
    provinces' names for EEF/IPSR only (the requesting side is never told where the record was)."""
    request = context["request"]
    moves = list(
        TransferRequest.objects.filter(record_id=record.pk, state=TransferState.ACCEPTED)
        .select_related("from_province", "to_province")
        .order_by("answered_at", "pk")
    )
    return {"moves": moves, "national": can(request.user, "portal.national")}
