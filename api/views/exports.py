"""Exports through the API, asynchronous (docs/api.md, "Exports"): POST asks for one (202 and its Location), GET
follows its state and progress, and once it is done its `download` link gives the file.

The same jobs as the portal's export buttons (exports.services): the same kinds, the same door (a subject outside
the caller's scope answers 404), and a job is seen by the key or the user that asked for it and by nobody else.
A key needs "read" on the resource an export holds (records, summaries, meetings).
"""

from django.http import Http404
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from accounts.access import can, get_object_for_user
from exports import services as export_services
from exports import views as export_views
from exports.models import ExportJob

from ..authentication import is_partner
from ..idempotency import idempotent
from .base import ApiView

# The API's names of the kinds: (kind, the key's resource it needs).
KINDS = {
    "records": ("targets.records", "records"),
    "summary": ("summaries.pack", "summaries"),
    "minutes": ("meetings.minutes", "meetings"),
}
RECENT = 50


class ExportRequestSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=list(KINDS), help_text="records, summary or minutes")
    format = serializers.ChoiceField(
        choices=["csv", "xlsx", "pdf", "docx"],
        help_text="records: csv, xlsx; summary: xlsx, pdf; minutes: pdf, docx, xlsx",
    )
    filters = serializers.DictField(
        child=serializers.CharField(allow_blank=True, max_length=100),
        required=False,
        help_text=(
            "records: province, district, category, status (ids as on the records list), school, age, help; "
            "summary: level (national, university, province), code, fiscal_year; minutes: meeting"
        ),
    )


class ExportJobSerializer(serializers.ModelSerializer):
    kind = serializers.SerializerMethodField()
    format = serializers.CharField(source="file_format")
    percent = serializers.SerializerMethodField(help_text="0-100")
    download = serializers.SerializerMethodField(help_text="The file's address once the export is done, else null")
    expired = serializers.SerializerMethodField()

    class Meta:
        model = ExportJob
        fields = [
            "id", "kind", "format", "title", "status", "percent", "message", "row_count", "size", "created_at",
            "finished_at", "expires_at", "expired", "download",
        ]  # fmt: skip

    def get_kind(self, job: ExportJob) -> str:
        return next((name for name, (kind, _r) in KINDS.items() if kind == job.kind), job.kind)

    def get_percent(self, job: ExportJob) -> int:
        return export_services.read_progress(job)

    def get_expired(self, job: ExportJob) -> bool:
        return job.is_expired()

    def get_download(self, job: ExportJob) -> str | None:
        if not job.downloadable:
            return None
        return self.context["request"].build_absolute_uri(reverse("api:export-download", kwargs={"pk": job.pk}))


class ExportPermission(BasePermission):
    """Any usable key or portal user may follow its own jobs; asking for one needs read on what it holds (post)."""

    message = gettext_lazy("This key or account may not use this endpoint.")

    def has_permission(self, request, view) -> bool:
        user = request.user
        if user is None or not user.is_authenticated:
            return False
        return is_partner(user) or can(user, "portal.use")


def _jobs(request):
    return ExportJob.objects.visible_to(request.user)


class ExportListView(ApiView):
    permission_classes = [ExportPermission]

    @extend_schema(
        operation_id="exports_list",
        summary="The caller's recent exports, newest first (at most 50)",
        responses=ExportJobSerializer(many=True),
    )
    def get(self, request):
        jobs = list(_jobs(request).recent().defer("params")[:RECENT])
        return Response(ExportJobSerializer(jobs, many=True, context={"request": request}).data)

    @extend_schema(
        operation_id="exports_create",
        summary="Ask for an export: it is made in the background (202; follow Location)",
        request=ExportRequestSerializer,
        responses={202: ExportJobSerializer, 404: OpenApiResponse(description="A subject outside the caller's scope")},
    )
    @idempotent
    def post(self, request):
        form = ExportRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        kind, resource = KINDS[form.validated_data["kind"]]
        if is_partner(request.user) and not request.user.key.allows(resource, write=False):
            self.permission_denied(request, message=_("This key may not read what this export holds."))
        try:
            job = export_services.start_export(
                principal=request.user,
                kind=kind,
                file_format=form.validated_data["format"],
                params=form.validated_data.get("filters") or {},
            )
        except export_services.Refused as refused:
            raise ValidationError({"format": [str(refused)]}) from refused
        location = request.build_absolute_uri(reverse("api:export", kwargs={"pk": job.pk}))
        data = ExportJobSerializer(job, context={"request": request}).data
        return Response(data, status=status.HTTP_202_ACCEPTED, headers={"Location": location})


class ExportDetailView(ApiView):
    permission_classes = [ExportPermission]

    @extend_schema(
        operation_id="exports_retrieve", summary="An export's state and progress", responses=ExportJobSerializer
    )
    def get(self, request, pk: int):
        job = get_object_for_user(_jobs(request), request.user, pk)
        return Response(ExportJobSerializer(job, context={"request": request}).data)


class ExportDownloadView(ApiView):
    permission_classes = [ExportPermission]

    @extend_schema(
        operation_id="exports_download",
        summary="The export's file (logged in the access log); 410 once it has expired",
        responses={
            (200, "application/octet-stream"): OpenApiTypes.BINARY,
            404: OpenApiResponse(description="Not the caller's export, or not ready yet"),
            410: OpenApiResponse(description="Expired"),
        },
    )
    def get(self, request, pk: int):
        job = get_object_for_user(_jobs(request), request.user, pk)
        if not job.is_expired() and job.status != ExportJob.Status.DONE:
            raise Http404
        return export_views.download(request._request, job)
