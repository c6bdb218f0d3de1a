"""Read-only resources: reference data (areas, universities, support assignments, categories,
outcomes, types of help) and the provinces' and universities' work. Each list starts from
visible_to(request.user); each object outside the caller's scope answers 404."""

from django.db.models import Prefetch
from django.utils.translation import gettext as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.filters import OrderingFilter

from core.buddhist_dates import current_fiscal_year, parse_fiscal_year
from meetings.models import ActionItem, Meeting
from provinces.models import District, PlanGoal, Province, ProvincialPlan, SubDistrict, WorkingGroupMember
from reports.models import ProgressReport
from summaries.models import Snapshot
from targets.models import AssistanceType, Category, Outcome
from universities.models import (
    CapacityRequest,
    SupportActivity,
    SupportAssignment,
    University,
)

from .. import filters
from .. import serializers as s
from ..access_log import log_read
from ..models import REFERENCE
from ..pagination import CodeCursorPagination, IdCursorPagination
from ..preconditions import etag
from .base import ApiMixin, ScopedReadOnlyViewSet

FILTER_AND_ORDER = [DjangoFilterBackend, OrderingFilter]

# --- Reference data ---------------------------------------------------------------------------------


class ProvinceViewSet(ScopedReadOnlyViewSet):
    """The provinces in the caller's scope (all 77 for EEF/IPSR), by DOPA code."""

    resource = REFERENCE
    queryset = Province.objects.all()
    serializer_class = s.ProvinceSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = filters.ProvinceFilter
    pagination_class = None


class DistrictViewSet(ScopedReadOnlyViewSet):
    resource = REFERENCE
    queryset = District.objects.all()
    serializer_class = s.DistrictSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = filters.DistrictFilter
    pagination_class = None


class SubDistrictViewSet(ScopedReadOnlyViewSet):
    resource = REFERENCE
    queryset = SubDistrict.objects.all()
    serializer_class = s.SubDistrictSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = filters.SubDistrictFilter
    pagination_class = CodeCursorPagination


class UniversityViewSet(ScopedReadOnlyViewSet):
    resource = REFERENCE
    queryset = University.objects.all()
    serializer_class = s.UniversitySerializer
    lookup_field = "code"
    lookup_value_converter = "str"
    pagination_class = None


class SupportAssignmentViewSet(ScopedReadOnlyViewSet):
    """Which university supports which province in which fiscal year (one lead per province and year)."""

    resource = REFERENCE
    queryset = SupportAssignment.objects.select_related("university")
    serializer_class = s.SupportAssignmentSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = filters.SupportAssignmentFilter
    pagination_class = None


class _CodeListViewSet(ApiMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    resource = REFERENCE
    pagination_class = None

    def get_queryset(self):
        return self.queryset.all().visible_to(self.request.user)


class CategoryViewSet(_CodeListViewSet):
    """Target-group categories: records name theirs by code."""

    queryset = Category.objects.all()
    serializer_class = s.CategorySerializer


class OutcomeViewSet(_CodeListViewSet):
    """Statuses (outcomes) of records, by code."""

    queryset = Outcome.objects.all()
    serializer_class = s.OutcomeSerializer


class AssistanceTypeViewSet(_CodeListViewSet):
    """Types of help given, by code."""

    queryset = AssistanceType.objects.all()
    serializer_class = s.AssistanceTypeSerializer


# --- Provincial work ---------------------------------------------------------------------------------


class _WorkViewSet(ScopedReadOnlyViewSet):
    filter_backends = FILTER_AND_ORDER
    pagination_class = IdCursorPagination


VERSION_ETAG = extend_schema_view(
    retrieve=extend_schema(
        parameters=[
            OpenApiParameter(
                "ETag", str, OpenApiParameter.HEADER, response=[200, 201], description='The version, e.g. "3"'
            )
        ]
    )
)


class _VersionedWorkViewSet(_WorkViewSet):
    """Objects people edit in the portal (core.versioning): one object's answer carries its
    version as its ETag, as a record's does (api.preconditions)."""

    def retrieve(self, request, *args, **kwargs):
        response = super().retrieve(request, *args, **kwargs)
        response["ETag"] = etag(response.data["version"])
        return response


class WorkingGroupMemberViewSet(_WorkViewSet):
    """Members of the provinces' working groups (คณะทำงานระดับจังหวัด)."""

    resource = "working_groups"
    queryset = WorkingGroupMember.objects.all()
    serializer_class = s.WorkingGroupMemberSerializer
    filterset_class = filters.WorkingGroupMemberFilter
    ordering_fields = ["id", "name"]

    # Members' names, phones and emails: every response goes to the access log, as records' do.
    def list(self, request, *args, **kwargs):
        response = super().list(request, *args, **kwargs)
        log_read(
            request,
            model=WorkingGroupMember,
            description="API working-group members",
            count=len(response.data["results"]),
        )
        return response

    def retrieve(self, request, *args, **kwargs):
        response = super().retrieve(request, *args, **kwargs)
        log_read(
            request,
            model=WorkingGroupMember,
            object_id=response.data["id"],
            description="API working-group member",
            count=1,
        )
        return response


@VERSION_ETAG
class ProvincialPlanViewSet(_VersionedWorkViewSet):
    """Provincial plans with their goals per category and outcome."""

    resource = "plans"
    queryset = ProvincialPlan.objects.prefetch_related(
        Prefetch("goals", queryset=PlanGoal.objects.select_related("category", "outcome"))
    )
    serializer_class = s.ProvincialPlanSerializer
    filterset_class = filters.ProvincialPlanFilter
    ordering_fields = ["id", "fiscal_year"]


@VERSION_ETAG
class ProgressReportViewSet(_VersionedWorkViewSet):
    """Progress reports (รายงานความก้าวหน้า) with their five sections."""

    resource = "progress_reports"
    queryset = ProgressReport.objects.all()
    serializer_class = s.ProgressReportSerializer
    filterset_class = filters.ProgressReportFilter
    ordering_fields = ["id", "fiscal_year"]


class SupportActivityViewSet(_WorkViewSet):
    """Support teams' activities with the provinces, under the four roles."""

    resource = "support_activities"
    queryset = SupportActivity.objects.select_related("university")
    serializer_class = s.SupportActivitySerializer
    filterset_class = filters.SupportActivityFilter
    ordering_fields = ["id", "date"]


@VERSION_ETAG
class CapacityRequestViewSet(_VersionedWorkViewSet):
    """Provinces' requests for capacity development (คำขอพัฒนาศักยภาพ)."""

    resource = "capacity_requests"
    queryset = CapacityRequest.objects.select_related("university")
    serializer_class = s.CapacityRequestSerializer
    filterset_class = filters.CapacityRequestFilter
    ordering_fields = ["id", "desired_date"]


@VERSION_ETAG
class MeetingViewSet(_VersionedWorkViewSet):
    """Meetings (national, regional and provincial) with the provinces and universities they concern."""

    resource = "meetings"
    queryset = Meeting.objects.prefetch_related("provinces", "universities")
    serializer_class = s.MeetingSerializer
    filterset_class = filters.MeetingFilter
    ordering_fields = ["id", "starts_on"]


class ActionItemViewSet(_WorkViewSet):
    """What meetings decided to do, followed until done."""

    resource = "action_items"
    queryset = ActionItem.objects.select_related("owner_university")
    serializer_class = s.ActionItemSerializer
    filterset_class = filters.ActionItemFilter
    ordering_fields = ["id"]


# --- Summaries -----------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="The latest progress summary of a fiscal year",
        parameters=[OpenApiParameter("fiscal_year", int, description="พ.ศ., default the current fiscal year")],
    )
)
class SnapshotViewSet(ScopedReadOnlyViewSet):
    """Progress summaries: the figures of the last summary run, per province (and per university
    and national, for those who may see them)."""

    resource = "summaries"
    queryset = Snapshot.objects.select_related("university")
    serializer_class = s.SnapshotSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = filters.SnapshotFilter
    pagination_class = None

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action != "list":
            return queryset
        raw = self.request.query_params.get("fiscal_year")
        fiscal_year = current_fiscal_year() if raw is None else parse_fiscal_year(raw)
        if fiscal_year is None:
            raise ValidationError({"fiscal_year": [_("Give a fiscal year in the Buddhist Era, e.g. 2567.")]})
        return queryset.latest_run(fiscal_year)
