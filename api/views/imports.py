"""Uploads through the API: send a spreadsheet, read its report (the dry run), apply it.

The same path as the upload pages (targets.upload.services: receive, check, apply) and the same
rule: an upload is seen by those who may write its province's records, and by nobody else (404).
A partner key writes as the partner's service account (api.Partner.service_user), which carries the
key's scope (api.imports). Its apply goes the way of a user's (start_apply): a small file is applied in
the request unless another upload's apply holds its province (then queued: 202), a big one is queued
for a worker, which applies it with the key's scope, or fails it once the key is revoked or expired.
"""

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.response import Response

from provinces.models import Province
from targets.models import UploadBatch, UploadRejection
from targets.upload import services as upload_services

from .. import serializers as s
from ..access_log import log_read
from ..errors import Conflict
from ..filters import UploadBatchFilter
from ..idempotency import idempotent
from ..imports import uploader_for
from ..pagination import IdCursorPagination
from ..parsers import MultiPartParser
from .base import ApiMixin, ApiView

REJECTIONS_SHOWN = 1000
IDEMPOTENCY = OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, description="Makes a retry safe")


def _report(request, pk: int) -> UploadBatch:
    return get_object_or_404(UploadBatch.objects.writable_by(request.user), pk=pk)


def _report_response(request, batch: UploadBatch, *, code: int = status.HTTP_200_OK) -> Response:
    rejections = list(
        UploadRejection.objects.filter(batch=batch)
        .order_by("row_number", "pk")
        .values("row_number", "column", "reason")[:REJECTIONS_SHOWN]
    )
    data = s.UploadReportSerializer(batch, context={"rejections": rejections}).data
    if rejections:
        # The reasons may quote what was typed in a child's row: a read of personal data.
        log_read(
            request,
            model=UploadBatch,
            object_id=batch.pk,
            description="API rejected rows of an upload",
            count=len(data["rejections"]),
        )
    return Response(data, status=code)


class UploadListView(ApiMixin, ListAPIView):
    """Uploads of the provinces whose records the caller may write, newest first."""

    resource = "imports"
    serializer_class = s.UploadBatchSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = UploadBatchFilter
    pagination_class = IdCursorPagination

    def get_queryset(self):
        return UploadBatch.objects.writable_by(self.request.user).defer("columns", "preview")

    @extend_schema(
        operation_id="imports_create",
        summary="Upload a spreadsheet of records: it is checked (a dry run) and its report returned",
        request={"multipart/form-data": s.UploadCreateSerializer},
        responses={201: s.UploadReportSerializer},
        parameters=[IDEMPOTENCY],
    )
    @idempotent
    def post(self, request):
        form = s.UploadCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        province = Province.objects.filter(pk=form.validated_data["province"]).first()
        if province is None:
            raise ValidationError({"province": [_("No province has this code.")]})
        batch = upload_services.receive_upload(
            user=uploader_for(request.user), province=province, uploaded_file=form.validated_data["file"]
        )
        upload_services.start_check(batch=batch, user=uploader_for(request.user))
        return _report_response(request, _report(request, batch.pk), code=status.HTTP_201_CREATED)

    parser_classes = [MultiPartParser]


class UploadDetailView(ApiView):
    resource = "imports"

    @extend_schema(
        operation_id="imports_retrieve",
        summary="An upload and its report (the first 1,000 rejected rows)",
        responses=s.UploadReportSerializer,
    )
    def get(self, request, pk: int):
        return _report_response(request, _report(request, pk))


class UploadApplyView(ApiView):
    resource = "imports"

    @extend_schema(
        operation_id="imports_apply",
        summary="Apply a checked upload",
        description=(
            "200: applied within the request (a small file whose province was free). 202: queued, `status` "
            "`applying`; read the upload until it is `applied` or `failed`."
        ),
        request=None,
        responses={200: s.UploadReportSerializer, 202: s.UploadReportSerializer},
        parameters=[IDEMPOTENCY],
    )
    @idempotent
    def post(self, request, pk: int):
        batch = _report(request, pk)  # 404 for those who may not write its province
        if batch.status == UploadBatch.Status.APPLIED:
            return _report_response(request, batch)
        if batch.status != UploadBatch.Status.CHECKED:
            raise Conflict(_("Only a checked upload can be applied."))
        upload_services.start_apply(batch=batch, user=request.user)
        batch = _report(request, pk)
        code = status.HTTP_202_ACCEPTED if batch.status == UploadBatch.Status.APPLYING else status.HTTP_200_OK
        return _report_response(request, batch, code=code)
