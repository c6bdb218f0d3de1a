"""Probable duplicates (issue 16): the candidates a caller may review, and "not the same person".

Reads go through the door (DuplicateCandidate.objects.visible_to: a coordinator's or a key's provinces it may
write, EEF/IPSR every province); the identifiers of the two records are masked unless the caller may see them in
full (api.views.records.identifier_policy), and a record that has since moved to a province the caller cannot read
is left out (null). The write goes through duplicates.services. The resource is "records": a key that may read
records reads the candidates of its provinces, one that may write them answers "not the same person".
"""

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from accounts.access import can, get_object_for_user
from core.thai_id import mask_identifier
from duplicates import services
from duplicates.models import DuplicateCandidate
from targets.models import TargetRecord

from ..access_log import log_read
from ..pagination import IdCursorPagination
from ..serializers import DuplicateCandidateSerializer
from .base import ScopedReadOnlyViewSet
from .records import identifier_policy


class DuplicateCandidateViewSet(ScopedReadOnlyViewSet):
    """Pairs of records that may be one child entered twice, open by default (`?state=merged`, `not_same`)."""

    resource = "records"
    queryset = DuplicateCandidate.objects.select_related("record_a", "record_b")
    serializer_class = DuplicateCandidateSerializer
    pagination_class = IdCursorPagination

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action == "list":
            state = self.request.query_params.get("state", DuplicateCandidate.State.OPEN)
            if state not in DuplicateCandidate.State.values:
                raise ValidationError({"state": _("Unknown state.")})
            queryset = queryset.filter(state=state)
        return queryset

    def get_serializer_context(self):
        context = super().get_serializer_context()
        user = self.request.user
        full = identifier_policy(user)
        context["side"] = lambda record: _side(user, full, record)
        return context

    def list(self, request, *args, **kwargs):
        response = super().list(request, *args, **kwargs)
        count = len(response.data.get("results", [])) if isinstance(response.data, dict) else 0
        # Two children's names side by side per pair: a read of personal data.
        log_read(request, model=DuplicateCandidate, description="API probable duplicates", count=2 * count)
        return response

    def retrieve(self, request, *args, **kwargs):
        response = super().retrieve(request, *args, **kwargs)
        log_read(
            request, model=DuplicateCandidate, object_id=kwargs.get("pk", ""), description="API duplicate", count=2
        )
        return response

    @extend_schema(request=None, responses={200: DuplicateCandidateSerializer, 409: None})
    @action(detail=True, methods=["post"], url_path="not-same")
    def not_same(self, request, pk=None):
        """ "Not the same person": remembered, the pair is never proposed again."""
        candidate = get_object_for_user(self.queryset.all(), request.user, pk, write=True)
        try:
            candidate = services.mark_not_same(candidate=candidate, user=request.user)
        except services.AlreadyDecided:
            return Response(
                {"code": "already_decided", "detail": _("This pair was already decided.")},
                status=status.HTTP_409_CONFLICT,
            )
        candidate = self.queryset.get(pk=candidate.pk)
        return Response(self.get_serializer(candidate).data)


def _side(user, full, record: TargetRecord) -> dict | None:
    if not can(user, "targets.read", record.province_id):
        return None
    return {
        "id": record.pk,
        "identifier": record.identifier if full(record.province_id) else mask_identifier(record.identifier),
        "identifier_kind": record.identifier_kind,
        "first_name": record.first_name,
        "last_name": record.last_name,
        "birth_date": record.birth_date.isoformat() if record.birth_date else None,
        "district": record.district_id,
    }
