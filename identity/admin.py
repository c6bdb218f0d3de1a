"""Merge proposals in Django admin: read by those who see them on the portal (EEF/IPSR, the coordinators of the two
records' provinces), through the access door; changed by nobody here. Proposing, confirming, rejecting and undoing
go through identity.services, from the merge pages (identity:list) or the API.

Each record is shown as the merge pages show it (identity.selectors.record_side): its masked identifier, linked to
its admin page for those who read its province; and nothing, not even its province, of the other province's record
for a proposer who may not see it. The snapshot (both records as they were, full identifiers included) is never
shown here."""

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from accounts.access import can
from accounts.admin_access import ScopedModelAdmin
from targets.admin import VisibleProvinceFilter, record_admin_link

from . import selectors
from .models import MergeProposal

HIDDEN = _("a record of another province")


class ProposalProvinceFilter(VisibleProvinceFilter):
    # Only the provinces the user reads are offered, and only they filter (VisibleProvinceFilter).
    province_fields = ("survivor_province_id", "merged_province_id")


@admin.register(MergeProposal)
class MergeProposalAdmin(ScopedModelAdmin):
    list_display = ["pk", "state", "created_at", "proposed_by", "decided_at", "decided_by", "merged_at", "undone_at"]
    list_filter = ["state", ProposalProvinceFilter]
    list_select_related = [
        "survivor__province", "merged__province", "survivor_province", "merged_province", "proposed_by",
        "decided_by", "undone_by",
    ]  # fmt: skip
    ordering = ["-created_at", "-pk"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    fields = [
        "state", "survivor_side", "merged_side", "provinces", "reason", "proposed_by", "created_at",
        "survivor_side_confirmed_by", "merged_side_confirmed_by", "decided_by", "decided_at", "decision_note",
        "merged_at", "undone_by", "undone_at",
    ]  # fmt: skip

    def has_module_permission(self, request: HttpRequest) -> bool:
        return can(request.user, "identity.list")

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return can(request.user, "identity.list")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def _columns(self, request) -> dict:
        """The records and provinces as `request.user` may see them (per request: one admin serves every user)."""
        user = request.user

        def side(proposal: MergeProposal, which: str) -> dict:
            record = getattr(proposal, which)
            return selectors.record_side(user, proposal, record, getattr(proposal, f"{which}_province_id"))

        @admin.display(description=_("surviving record"))
        def survivor_side(proposal: MergeProposal) -> str:
            shown = side(proposal, "survivor")
            return record_admin_link(user, shown["record"]) if shown["shown"] else str(HIDDEN)

        @admin.display(description=_("merged record"))
        def merged_side(proposal: MergeProposal) -> str:
            shown = side(proposal, "merged")
            if shown["shown"]:
                return record_admin_link(user, shown["record"])
            # Merged: the record is gone (its identifier lives on as an alias of the surviving record).
            gone = proposal.merged_id is None and proposal.state == MergeProposal.State.CONFIRMED
            return "–" if gone else str(HIDDEN)

        @admin.display(description=_("provinces"))
        def provinces(proposal: MergeProposal) -> str:
            # The provinces the user reads, and the proposer's own while the other side decides (record_side).
            names = []
            for which in ("survivor", "merged"):
                province = getattr(proposal, f"{which}_province")
                readable = can(user, "targets.read", province.pk)
                if (readable or side(proposal, which)["shown"]) and province.name not in names:
                    names.append(province.name)
            return ", ".join(names) or "–"

        return {"survivor_side": survivor_side, "merged_side": merged_side, "provinces": provinces}

    def get_list_display(self, request):
        columns = self._columns(request)
        pk, state, *rest = self.list_display
        return [pk, state, columns["survivor_side"], columns["merged_side"], columns["provinces"], *rest]

    def get_fields(self, request, obj=None):
        columns = self._columns(request)
        return [columns.get(f, f) for f in self.fields]

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)
