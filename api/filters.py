"""List filters (django-filter): the fields partners ask by. They narrow what the access door
already allows; they never widen it (every view's queryset starts from visible_to)."""

import django_filters as filters
from django import forms
from django.utils import timezone

from meetings.models import ActionItem, Meeting
from provinces.models import District, Province, ProvincialPlan, SubDistrict, WorkingGroupMember
from reports.models import ProgressReport
from summaries.models import Snapshot
from targets.models import EducationStatus, Sex, TargetRecord, UploadBatch
from universities.models import CapacityRequest, SupportActivity, SupportAssignment


class IntFilter(filters.NumberFilter):
    """A whole number (a code or an id) within the database's integer range."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 0)
        kwargs.setdefault("max_value", 2**31 - 1)
        super().__init__(*args, **kwargs)


class ProvinceFilter(filters.FilterSet):
    region = IntFilter(field_name="region_id")

    class Meta:
        model = Province
        fields = ["region"]


class DistrictFilter(filters.FilterSet):
    province = IntFilter(field_name="province_id")

    class Meta:
        model = District
        fields = ["province"]


class SubDistrictFilter(filters.FilterSet):
    district = IntFilter(field_name="district_id")
    province = IntFilter(field_name="district__province_id")

    class Meta:
        model = SubDistrict
        fields = ["district", "province"]


class SupportAssignmentFilter(filters.FilterSet):
    province = IntFilter(field_name="province_id")
    university = filters.CharFilter(field_name="university__code")

    class Meta:
        model = SupportAssignment
        fields = ["fiscal_year", "province", "university", "is_lead"]


class WorkingGroupMemberFilter(filters.FilterSet):
    province = IntFilter(field_name="province_id")
    active = filters.BooleanFilter(method="filter_active", label="Active today")

    class Meta:
        model = WorkingGroupMember
        fields = ["province", "group_role", "active"]

    def filter_active(self, queryset, name, value):
        if value is None:
            return queryset
        active = queryset.active()
        return active if value else queryset.exclude(pk__in=active.values("pk"))


class ProvincialPlanFilter(filters.FilterSet):
    province = IntFilter(field_name="province_id")

    class Meta:
        model = ProvincialPlan
        fields = ["province", "fiscal_year"]


class ProgressReportFilter(filters.FilterSet):
    province = IntFilter(field_name="province_id")

    class Meta:
        model = ProgressReport
        fields = ["province", "fiscal_year", "period", "status"]


class SupportActivityFilter(filters.FilterSet):
    province = IntFilter(field_name="province_id")
    university = filters.CharFilter(field_name="university__code")
    date_from = filters.DateFilter(field_name="date", lookup_expr="gte")
    date_to = filters.DateFilter(field_name="date", lookup_expr="lte")

    class Meta:
        model = SupportActivity
        fields = ["province", "university", "role", "date_from", "date_to"]


class CapacityRequestFilter(filters.FilterSet):
    province = IntFilter(field_name="province_id")
    university = filters.CharFilter(field_name="university__code")
    overdue = filters.BooleanFilter(method="filter_overdue", label="Desired date passed, not delivered")

    class Meta:
        model = CapacityRequest
        fields = ["province", "university", "status", "overdue"]

    def filter_overdue(self, queryset, name, value):
        if value is None:
            return queryset
        overdue = queryset.overdue()
        return overdue if value else queryset.exclude(pk__in=overdue.values("pk"))


class MeetingFilter(filters.FilterSet):
    province = IntFilter(field_name="provinces", distinct=True)
    starts_from = filters.DateFilter(field_name="starts_on", lookup_expr="gte")
    starts_until = filters.DateFilter(field_name="starts_on", lookup_expr="lte")

    class Meta:
        model = Meeting
        fields = ["kind", "status", "province", "starts_from", "starts_until"]


class ActionItemFilter(filters.FilterSet):
    meeting = IntFilter(field_name="meeting_id")
    owner_province = IntFilter(field_name="owner_province_id")
    overdue = filters.BooleanFilter(method="filter_overdue", label="Open and past its due date")

    class Meta:
        model = ActionItem
        fields = ["meeting", "status", "owner_province", "overdue"]

    def filter_overdue(self, queryset, name, value):
        if value is None:
            return queryset
        today = timezone.localdate()
        overdue = queryset.overdue(today)
        return overdue if value else queryset.exclude(pk__in=overdue.values("pk"))


class TargetRecordFilter(filters.FilterSet):
    province = IntFilter(field_name="province_id")
    district = IntFilter(field_name="district_id")
    sub_district = IntFilter(field_name="sub_district_id")
    category = filters.CharFilter(field_name="category__code", help_text="Category code, e.g. out-of-school")
    status = filters.CharFilter(field_name="status__code", help_text="Status code, e.g. in-follow-up")
    sex = filters.ChoiceFilter(choices=Sex.choices)
    education_status = filters.ChoiceFilter(choices=EducationStatus.choices)

    class Meta:
        model = TargetRecord
        fields = ["province", "district", "sub_district", "category", "status", "sex", "education_status", "consent"]


class UploadBatchFilter(filters.FilterSet):
    province = IntFilter(field_name="province_id")

    class Meta:
        model = UploadBatch
        fields = ["province", "status"]


class SnapshotFilter(filters.FilterSet):
    province = IntFilter(field_name="province_id")
    university = filters.CharFilter(field_name="university__code")

    class Meta:
        model = Snapshot
        fields = ["level", "province", "university"]
