"""Probable duplicates and "not the same person" decisions in Django admin: read by those who review them (a
province's coordinators, EEF/IPSR), through the access door; changed by nobody here. A decision is the review
queue's (duplicates:queue, duplicates.services.mark_not_same) or a merge's (identity); the nightly run adds and
removes the pairs (duplicates.finder).

Records are named by their masked identifier, linked to their admin page (targets.admin.record_admin_link). The
records are prefetched, not joined: a pair outlives a record merged away or deleted (no database foreign key), and
an inner join would drop such pairs from the list while its count still had them."""

from django.contrib import admin
from django.db.models import Prefetch
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from accounts.access import can
from accounts.admin_access import ScopedModelAdmin
from targets.admin import VisibleProvinceFilter, record_admin_link
from targets.models import TargetRecord

from .models import DuplicateCandidate, NotSamePerson


def _records(*fields: str) -> list[Prefetch]:
    return [Prefetch(field, queryset=TargetRecord.objects.select_related("province")) for field in fields]


class ReviewAdmin(ScopedModelAdmin):
    """Read-only, for reviewers only (the queue's rule, duplicates.review_any); the rows come from visible_to."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return can(request.user, "duplicates.review_any")

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return can(request.user, "duplicates.review_any")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related(*_records("record_a", "record_b"))

    def _record_columns(self, request):
        user = request.user

        @admin.display(description=_("record"))
        def record(row) -> str:
            return record_admin_link(user, row.record_a)

        @admin.display(description=_("other record"))
        def other_record(row) -> str:
            return record_admin_link(user, row.record_b)

        return record, other_record


class CandidateProvinceFilter(VisibleProvinceFilter):
    pass


@admin.register(DuplicateCandidate)
class DuplicateCandidateAdmin(ReviewAdmin):
    list_display = ["pk", "state", "province", "score", "found_at", "decided_at", "decided_by"]
    list_filter = ["state", CandidateProvinceFilter]
    list_select_related = ["province", "decided_by"]
    ordering = ["-found_at", "-pk"]
    # The nightly run keeps many pairs: no date hierarchy (its years and days are a scan of them all), no second
    # COUNT(*) for "n in total", no count per filter choice.
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    fields = ["state", "province", "record", "other_record", "score", "reasons", "found_at", "last_seen_at",
              "decided_at", "decided_by"]  # fmt: skip

    def get_list_display(self, request):
        record, other_record = self._record_columns(request)
        pk, state, province, *rest = self.list_display
        return [pk, state, province, record, other_record, *rest]

    def get_fields(self, request, obj=None):
        record, other_record = self._record_columns(request)
        return [{"record": record, "other_record": other_record}.get(f, f) for f in self.fields]

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)


class NotSameProvinceFilter(VisibleProvinceFilter):
    province_fields = ("record_a__province_id", "record_b__province_id")


@admin.register(NotSamePerson)
class NotSamePersonAdmin(ReviewAdmin):
    list_display = ["pk", "decided_at", "decided_by"]
    list_filter = [NotSameProvinceFilter]
    list_select_related = ["decided_by"]
    ordering = ["-decided_at", "-pk"]
    date_hierarchy = "decided_at"  # people's decisions, a few a day
    show_full_result_count = False
    fields = ["record", "other_record", "provinces", "decided_at", "decided_by"]

    @admin.display(description=_("provinces"))
    def provinces(self, row: NotSamePerson) -> str:
        # The provinces of the two records now (a pair is of one province when decided; a record may move since).
        names = {r.province.name for r in (row.record_a, row.record_b) if r is not None}
        return ", ".join(sorted(names)) or "–"

    def get_list_display(self, request):
        record, other_record = self._record_columns(request)
        pk, *rest = self.list_display
        return [pk, record, other_record, "provinces", *rest]

    def get_fields(self, request, obj=None):
        record, other_record = self._record_columns(request)
        return [{"record": record, "other_record": other_record}.get(f, f) for f in self.fields]

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)
