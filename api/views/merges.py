"""Merge proposals (identity/, README.md "Identity merges"): a scoped list, one proposal, a proposal made,
confirmed or rejected. Under the "records" resource of a key (read: GET, write: POST). The same rules and
the same views of the records as the pages (identity.policies, identity.selectors): nothing of another
province's record until the merge is confirmed."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from django.urls import path
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response

from identity import selectors, services
from identity.models import MergeProposal
from targets import id_probes
from targets.models import TargetRecord

from ..access_log import log_read
from ..errors import ProvinceBusy
from ..pagination import IdCursorPagination
from .base import ApiView
from .cases import writing

RESOURCE = "records"


class MergeRecordSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    identifier = serializers.CharField(help_text="Masked")
    province = serializers.IntegerField()


class MergeProposalSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    state = serializers.ChoiceField(choices=MergeProposal.State.choices)
    survivor = MergeRecordSerializer(allow_null=True, help_text="null: a record of a province you cannot read")
    merged = MergeRecordSerializer(allow_null=True, help_text="null: a record of a province you cannot read")
    two_provinces = serializers.BooleanField()
    confirmed_by_survivor_province = serializers.BooleanField()
    confirmed_by_merged_province = serializers.BooleanField()
    reason = serializers.CharField()
    created_at = serializers.DateTimeField()
    merged_at = serializers.DateTimeField(allow_null=True)
    undone_at = serializers.DateTimeField(allow_null=True)


class MergeProposalPageSerializer(serializers.Serializer):
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = MergeProposalSerializer(many=True)


PROPOSAL = MergeProposalSerializer
PROPOSAL_PAGE = MergeProposalPageSerializer
PROPOSE = inline_serializer(
    "MergeProposalWrite",
    {
        "record": serializers.IntegerField(help_text="The id of a record of your province"),
        "identifier": serializers.CharField(help_text="The other record's national ID or G-code"),
        "reason": serializers.CharField(),
    },
)


class Busy(ProvinceBusy):
    """503 with Retry-After (api.errors): a merge waits for the national lock that uploads' applies hold."""

    default_code = "busy"
    default_detail = gettext_lazy("An upload is being applied; nothing was changed. Try again in a few seconds.")


def _body(request, proposal: MergeProposal) -> dict:
    out = {}
    for name, side in selectors.sides(request.user, proposal).items():
        out[name] = (
            {"id": side["record"].pk, "identifier": side["identifier"], "province": side["record"].province_id}
            if side["shown"]
            else None
        )
    return {
        "id": proposal.pk,
        "state": proposal.state,
        **out,
        "two_provinces": proposal.two_provinces,
        "confirmed_by_survivor_province": proposal.survivor_side_confirmed_by_id is not None,
        "confirmed_by_merged_province": proposal.merged_side_confirmed_by_id is not None,
        "reason": proposal.reason,
        "created_at": proposal.created_at,
        "merged_at": proposal.merged_at,
        "undone_at": proposal.undone_at,
    }


def _visible(request):
    return selectors.with_records().visible_to(request.user)


def _service_errors(error: DjangoValidationError) -> ValidationError:
    if hasattr(error, "error_dict"):
        return ValidationError(error.message_dict)
    return ValidationError({"non_field_errors": error.messages})


class MergeListView(ApiView):
    resource = RESOURCE

    @extend_schema(operation_id="merges_list", summary="Merge proposals of your provinces", responses=PROPOSAL_PAGE)
    def get(self, request):
        paginator = IdCursorPagination()
        page = paginator.paginate_queryset(_visible(request), request, view=self) or []
        log_read(request, model=MergeProposal, description="API merge proposals", count=len(page))
        return paginator.get_paginated_response([_body(request, p) for p in page])

    @extend_schema(
        operation_id="merges_create",
        summary="Propose that a record of yours and the record of another identifier are one person",
        request=PROPOSE,
        responses={201: PROPOSAL},
    )
    def post(self, request):
        data = request.data if isinstance(request.data, dict) else {}
        errors = {}
        record_id = data.get("record")
        if not isinstance(record_id, int) or isinstance(record_id, bool):
            errors["record"] = ["A record's id."]
        for name in ("identifier", "reason"):
            if not isinstance(data.get(name), str):
                errors[name] = ["Required."]
        if errors:
            raise ValidationError(errors)
        record = TargetRecord.objects.visible_to(request.user).select_related("province").filter(pk=record_id).first()
        if record is None:
            raise ValidationError({"record": ["Not found."]})
        with writing(request) as actor:
            try:
                proposal = services.propose(
                    user=actor, record=record, other_identifier=data["identifier"], reason=data["reason"],
                    asker=id_probes.Asker.of_request(request),
                )  # fmt: skip
            except DjangoPermissionDenied as error:
                raise PermissionDenied from error
            except DjangoValidationError as error:
                raise _service_errors(error) from error
        found = _visible(request).get(pk=proposal.pk)
        return Response(_body(request, found), status=status.HTTP_201_CREATED)


class MergeDetailView(ApiView):
    resource = RESOURCE

    @extend_schema(operation_id="merges_retrieve", summary="One merge proposal", responses=PROPOSAL)
    def get(self, request, pk: int):
        proposal = get_object_or_404(_visible(request), pk=pk)
        log_read(request, model=MergeProposal, object_id=pk, description="API merge proposal", count=1)
        return Response(_body(request, proposal))


class MergeConfirmView(ApiView):
    resource = RESOURCE

    @extend_schema(
        operation_id="merges_confirm",
        summary="Confirm a merge (EEF/IPSR; or your province's side of a two-province merge)",
        request=None,
        responses=PROPOSAL,
    )
    def post(self, request, pk: int):
        proposal = get_object_or_404(_visible(request), pk=pk)
        with writing(request) as actor:
            try:
                services.confirm(user=actor, proposal=proposal)
            except DjangoPermissionDenied as error:
                raise PermissionDenied from error
            except services.Busy as error:
                raise Busy from error
            except DjangoValidationError as error:
                raise _service_errors(error) from error
        return Response(_body(request, _visible(request).get(pk=pk)))


URLS = [
    path("merges/", MergeListView.as_view(), name="merges"),
    path("merges/<int:pk>/", MergeDetailView.as_view(), name="merge"),
    path("merges/<int:pk>/confirm/", MergeConfirmView.as_view(), name="merge-confirm"),
]
