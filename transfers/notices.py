"""How the cases app's notifications and "My work" lead to transfer requests (cases.notification_links,
cases.waiting_elsewhere): registered by TransfersConfig.ready, since cases may not import transfers."""

from typing import Any

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from accounts.access import can
from cases import notification_links, waiting_elsewhere
from cases.models import Notification

from .models import TransferRequest


def _link(user: Any, notification: Notification) -> str | None:
    # The request's page, for either side: it shows the requester only what they typed until acceptance.
    if not can(user, "transfers.use"):
        return None
    return reverse("transfers:detail", kwargs={"pk": notification.subject_id})


def _waiting(user: Any) -> int | None:
    if not can(user, "transfers.use"):
        return None
    return TransferRequest.objects.incoming_for(user).count()


def register() -> None:
    for kind in (
        Notification.Kind.TRANSFER_REQUESTED,
        Notification.Kind.TRANSFER_ACCEPTED,
        Notification.Kind.TRANSFER_DECLINED,
        Notification.Kind.TRANSFER_WITHDRAWN,
        Notification.Kind.MOVED_IN,
        Notification.Kind.MOVED_OUT,
    ):
        notification_links.register(kind, _link)
    waiting_elsewhere.register(
        "transfers",
        heading=_("Transfer requests waiting for your answer"),
        count=_waiting,
        url=lambda: reverse("transfers:inbox"),
    )
