"""How the cases app's notifications and "My work" lead to merge proposals (cases.notification_links,
cases.waiting_elsewhere): registered by IdentityConfig.ready, since cases may not import identity."""

from typing import Any

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from accounts.access import can
from cases import notification_links, waiting_elsewhere
from cases.models import Notification

from .models import MergeProposal


def _link(user: Any, notification: Notification) -> str | None:
    # The proposal's page: it shows each side only its own record until the merge (identity.selectors).
    if not can(user, "identity.list"):
        return None
    return reverse("identity:detail", kwargs={"pk": notification.subject_id})


def _waiting(user: Any) -> int | None:
    if not can(user, "identity.list"):
        return None
    return MergeProposal.objects.waiting_for(user).count()


def register() -> None:
    for kind in (
        Notification.Kind.MERGE_PROPOSED,
        Notification.Kind.MERGE_CONFIRMED,
        Notification.Kind.MERGE_REJECTED,
    ):
        notification_links.register(kind, _link)
    waiting_elsewhere.register(
        "merges",
        heading=_("Merge proposals waiting for your confirmation"),
        count=_waiting,
        url=lambda: reverse("identity:list"),
    )
