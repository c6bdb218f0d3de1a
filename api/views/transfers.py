"""Transfers between provinces (issue 16): the requests made by or to the caller's provinces, asking for a
record another province holds, and the holding province's answer (accept, decline).

Reads go through the door (TransferRequest.objects.visible_to: the provinces the caller may write, every
request for EEF/IPSR); an outsider gets 404. Writes go through transfers.services as the key's service
account carrying its scope. Before acceptance the requesting side never reads the record nor the
province that holds it (api.serializers_transfers).
"""

from typing import cast

from django.shortcuts import get_object_or_404
from django.urls import path
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from accounts.access import Principal, can
from accounts.models import User
from core.thai_id import mask_identifier
from targets import id_probes
from transfers import services
from transfers.models import TransferRequest, TransferState

from .. import serializers_transfers as s
from ..access_log import log_read
from ..authentication import is_partner
from ..idempotency import idempotent
from ..pagination import IdCursorPagination
from ..preconditions import etag
from .base import ApiView
from .cases import ETAG, IDEMPOTENCY_KEY, IF_MATCH, _valid, _version, writing

RESOURCE = "transfers"


def _requests(user: Principal):
    return TransferRequest.objects.visible_to(user).select_related("record")


def _full_identifier(user: Principal, transfer: TransferRequest) -> bool:
    if is_partner(user) and not user.can_see_identifiers:
        return False
    return can(user, "province.read_identifiers", transfer.to_province_id)


def transfer_body(user: Principal, transfer: TransferRequest) -> dict:
    """What `user` may read of `transfer` (the pages' rules, transfers/views.py)."""
    national = can(user, "portal.national")
    holder = can(user, "transfers.holder_side", transfer)
    sees_record = can(user, "targets.read", transfer.record.province_id)
    body = {
        "id": transfer.pk,
        "side": "national" if national else ("holder" if holder else "requester"),
        "state": transfer.state,
        "forced": transfer.forced,
        "identifier": transfer.identifier if _full_identifier(user, transfer) else mask_identifier(transfer.identifier),
        "note": transfer.note,
        "requested_at": transfer.requested_at,
        "answered_at": transfer.answered_at,
        "answer_reason": transfer.answer_reason,
        "record": transfer.record_id if sees_record else None,
        "from_province": transfer.from_province_id if national else None,
        "to_province": transfer.to_province_id if national or not holder or transfer.is_open else None,
        "version": transfer.version,
    }
    if holder and not national and transfer.state == TransferState.ACCEPTED:
        # The old province's line: the date and "moved to another province", nothing of where.
        body.update(note="", answer_reason="", identifier=mask_identifier(transfer.identifier))
    return body


def _one(request, pk: int) -> TransferRequest:
    return get_object_or_404(_requests(request.user), pk=pk)


def _response(request, transfer: TransferRequest, code: int = status.HTTP_200_OK) -> Response:
    body = s.TransferSerializer(transfer_body(request.user, transfer)).data
    return Response(body, status=code, headers={"ETag": etag(transfer.version)})


class TransferListView(ApiView):
    resource = RESOURCE
    pagination_class = IdCursorPagination

    @extend_schema(
        operation_id="transfers_list",
        summary="Transfer requests made by, or to, the caller's provinces",
        description=(
            "Newest first. `side` says which side the caller is: the requesting side reads only what it sent and "
            "the state (the holder's reason once answered; the record's id once it moved to it), never the record "
            "nor the holding province before acceptance."
        ),
        parameters=[
            OpenApiParameter("state", str, enum=list(TransferState.values)),
            OpenApiParameter("incoming", bool, description="Only requests waiting for the caller's answer"),
            OpenApiParameter("page_size", int, description="1 to 1000 (default 100)"),
            OpenApiParameter("cursor", str, description="The `next` link's cursor (opaque)"),
        ],
        responses=s.TransferPageSerializer,
    )
    def get(self, request):
        user = request.user
        queryset = _requests(user)
        params = request.query_params
        if "state" in params:
            if params["state"] not in TransferState.values:
                raise ValidationError({"state": [_("Unknown state.")]})
            queryset = queryset.filter(state=params["state"])
        if params.get("incoming") in ("1", "true"):
            queryset = queryset & TransferRequest.objects.incoming_for(user)
        paginator = IdCursorPagination()
        page = paginator.paginate_queryset(queryset, request, view=self) or []
        log_read(request, model=TransferRequest, description="API transfer requests", count=len(page))
        results = s.TransferSerializer([transfer_body(user, t) for t in page], many=True).data
        return paginator.get_paginated_response(results)

    @extend_schema(
        operation_id="transfers_create",
        summary="Ask for a record another province holds (an identifier refused as held elsewhere)",
        description=(
            "Through transfers.services.request_transfer: the holding province's coordinators answer. Counted as "
            "an answer about another province's identifier (the daily allowance of uploads and record writes)."
        ),
        request=s.TransferRequestSerializer,
        responses={201: s.TransferSerializer},
        parameters=[IDEMPOTENCY_KEY],
    )
    @idempotent
    def post(self, request):
        data = _valid(s.TransferRequestSerializer, request)
        with writing(request) as principal:
            actor = cast(User, principal)  # a signed-in user, or the key's service account (api.imports)
            transfer = services.request_transfer(
                user=actor, identifier=data["identifier"], note=data["note"], province=data["province"],
                asker=id_probes.Asker.of_request(request),
            )  # fmt: skip
        return _response(request, _one(request, transfer.pk), status.HTTP_201_CREATED)


class TransferDetailView(ApiView):
    resource = RESOURCE

    @extend_schema(
        operation_id="transfers_retrieve", summary="One transfer request", responses=s.TransferSerializer,
        parameters=[ETAG],
    )  # fmt: skip
    def get(self, request, pk: int):
        transfer = _one(request, pk)
        log_read(request, model=TransferRequest, object_id=pk, description="API transfer request", count=1)
        return _response(request, transfer)


class _AnswerView(ApiView):
    resource = RESOURCE
    requires_version = True
    accept = True

    def answer(self, request, pk: int) -> Response:
        transfer = _one(request, pk)
        data = _valid(s.TransferAnswerSerializer, request)
        version = _version(request, data, transfer.version)
        with writing(request) as principal:
            actor = cast(User, principal)  # a signed-in user, or the key's service account (api.imports)
            if self.accept:
                services.accept_transfer(user=actor, transfer=transfer, version=version, reason=data["reason"])
            else:
                services.decline_transfer(user=actor, transfer=transfer, version=version, reason=data["reason"])
        return _response(request, _one(request, pk))


class TransferAcceptView(_AnswerView):
    @extend_schema(
        operation_id="transfers_accept",
        summary="Accept: the record moves to the requesting province with its whole history",
        description="The holding province's side (or EEF/IPSR). From the version you read: 412 if it changed since.",
        request=s.TransferAnswerSerializer,
        responses=s.TransferSerializer,
        parameters=[IF_MATCH, IDEMPOTENCY_KEY, ETAG],
    )
    @idempotent
    def post(self, request, pk: int):
        return self.answer(request, pk)


class TransferDeclineView(_AnswerView):
    accept = False

    @extend_schema(
        operation_id="transfers_decline",
        summary="Decline, with a reason the requesting province reads (it is never told who declined)",
        request=s.TransferAnswerSerializer,
        responses=s.TransferSerializer,
        parameters=[IF_MATCH, IDEMPOTENCY_KEY, ETAG],
    )
    @idempotent
    def post(self, request, pk: int):
        return self.answer(request, pk)


URLS = [
    path("transfers/", TransferListView.as_view(), name="transfers"),
    path("transfers/<int:pk>/", TransferDetailView.as_view(), name="transfer"),
    path("transfers/<int:pk>/accept/", TransferAcceptView.as_view(), name="transfer-accept"),
    path("transfers/<int:pk>/decline/", TransferDeclineView.as_view(), name="transfer-decline"),
]
