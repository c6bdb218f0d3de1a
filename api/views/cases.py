"""Case follow-up (issue 14): a record's case (assignment, goal, closing), its contacts and plan steps,
referrals to agencies with their state changes, and a changes feed of cases.

Every read goes through the door (visible_to: a case worker sees the records assigned to them, an
agency's key only the referrals sent to its agency), every write through cases.services, as the
key's partner's service account carrying the key's scope (api.imports.uploader_for). A write names
the version it was made from (If-Match or "version"); a stale one is refused with 412.
"""

import contextlib
from collections.abc import Callable, Iterator

from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from accounts.access import Principal, can, get_object_for_user
from accounts.models import User
from audit.tracking import context as audit_context
from cases import services
from cases.models import Agency, Case, Contact, PlanStep, Referral, ReferralState
from core.versioning import StaleEdit
from targets.models import Outcome, TargetRecord

from .. import serializers_cases as s
from ..access_log import log_read
from ..authentication import is_partner
from ..idempotency import idempotent
from ..imports import uploader_for
from ..pagination import (
    EPOCH,
    IdCursorPagination,
    Position,
    after,
    decode_cursor,
    encode_cursor,
    page_link,
    page_size_of,
)
from ..preconditions import PreconditionFailed, etag, expected_version
from .base import ApiView
from .records import FILTER_PARAMETERS, _since, feed_horizon

RESOURCE = "cases"
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key", str, OpenApiParameter.HEADER, description="Makes a retry safe (a new UUID per request)"
)
IF_MATCH = OpenApiParameter(
    "If-Match",
    str,
    OpenApiParameter.HEADER,
    description='The ETag of your last read, e.g. "3" (or "version" in the body): applied only if still at that '
    "version, else 412. `*`: any version.",
)
ETAG = OpenApiParameter("ETag", str, OpenApiParameter.HEADER, response=[200, 201], description='The version, e.g. "3"')


@contextlib.contextmanager
def writing(request) -> Iterator[Principal]:
    """The principal the services write as (a key: its service account with its scope), inside the
    audit context naming the key; a version made stale since the client read it answers 412."""
    user = request.user
    labels = {"api_key": user.key.prefix} if is_partner(user) else {}
    with audit_context(**labels):
        try:
            yield uploader_for(user)
        except StaleEdit as stale:
            raise PreconditionFailed(details={"version": stale.current.version, "changed": None}) from None


def _version(request, data: dict, current: int) -> int | None:
    """The version the write must find (None: any); If-Match and the body's "version" (api.preconditions)."""
    return expected_version(request, body_version=data.get("version"), current=current)


def _valid(serializer_class, request) -> dict:
    if not isinstance(request.data, dict):
        raise ValidationError({"non_field_errors": [_("Send a JSON object.")]})
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    data: dict = serializer.validated_data
    return data


def _outcome(code: str | None, field: str) -> Outcome | None:
    if code is None:
        return None
    found = Outcome.objects.filter(code=code, is_active=True).first()
    if found is None:
        raise ValidationError({field: [_("Unknown outcome: %(code)s") % {"code": code}]})
    return found


def _record(request, pk: int) -> TargetRecord:
    """The record, through the door (404 outside the caller's reach)."""
    return get_object_for_user(TargetRecord.objects.select_related("case_worker"), request.user, pk)


def referral_identifier_policy(user: Principal) -> Callable[[Referral], bool]:
    """referral -> may `user` see the child's full identifier? The door's rule; a key also needs its
    can_see_identifiers flag, unless it is the agency's own and the referral shares it."""
    if is_partner(user):
        flag = user.can_see_identifiers
        return lambda r: (
            can(user, "cases.read_referral_identifier", r) and (flag or can(user, "cases.is_agency_side", r))
        )
    return lambda r: can(user, "cases.read_referral_identifier", r)


def _referrals(user: Principal) -> QuerySet[Referral]:
    return Referral.objects.visible_to(user).select_related("case__record", "agency", "outcome")


def _referral_body(request, referral: Referral, *, detail: bool = True) -> dict:
    serializer = s.ReferralDetailSerializer if detail else s.ReferralSerializer
    body: dict = serializer(referral, context={"full_identifier": referral_identifier_policy(request.user)}).data
    return body


def _case_response(record: TargetRecord, case: Case | None, code: int = status.HTTP_200_OK) -> Response:
    body = s.CaseSerializer(s.case_data(record, case)).data
    headers = {"ETag": etag(case.version)} if case is not None else {}
    return Response(body, status=code, headers=headers)


# --- a record's case --------------------------------------------------------------------------------------


class CaseView(ApiView):
    resource = RESOURCE

    @extend_schema(
        operation_id="cases_retrieve",
        summary="A record's case: its case worker, goal, due dates and closure",
        description="A record nobody has followed up yet has no case yet: `opened_at` and `version` are null.",
        responses=s.CaseSerializer,
        parameters=[ETAG],
    )
    def get(self, request, pk: int):
        record = _record(request, pk)
        case = Case.objects.select_related("goal").filter(pk=record.pk).first()
        return _case_response(record, case)

    @extend_schema(
        operation_id="cases_set_goal",
        summary="Set the case's goal (an achieved outcome), from the version you read",
        description="Through cases.services.set_goal: the province's coordinators and the record's case worker.",
        request=s.GoalSerializer,
        responses=s.CaseSerializer,
        parameters=[IF_MATCH, ETAG],
    )
    def patch(self, request, pk: int):
        record = _record(request, pk)
        data = _valid(s.GoalSerializer, request)
        goal = _outcome(data["goal"], "goal")
        current = Case.objects.filter(pk=record.pk).values_list("version", flat=True).first()
        version = _version(request, data, current or 1)  # a case not opened yet opens at version 1
        with writing(request) as actor:
            case = services.set_goal(user=actor, record=record, goal=goal, version=version)
        return _case_response(record, case)


class CaseCloseView(ApiView):
    resource = RESOURCE
    requires_version = True

    @extend_schema(
        operation_id="cases_close",
        summary="Close a record's case, with the reason",
        description="not_found only after CASES_NOT_FOUND_ATTEMPTS failed contacts. Through cases.services.close_case.",
        request=s.CloseSerializer,
        responses=s.CaseSerializer,
        parameters=[IF_MATCH, IDEMPOTENCY_KEY, ETAG],
    )
    @idempotent
    def post(self, request, pk: int):
        record = _record(request, pk)
        data = _valid(s.CloseSerializer, request)
        current = Case.objects.filter(pk=record.pk).values_list("version", flat=True).first()
        version = _version(request, data, current or 1)
        with writing(request) as actor:
            case = services.close_case(
                user=actor, record=record, reason=data["reason"], note=data["note"], version=version
            )
        return _case_response(record, case)


class CaseReopenView(ApiView):
    resource = RESOURCE
    requires_version = True

    @extend_schema(
        operation_id="cases_reopen",
        summary="Reopen a closed case, saying why",
        request=s.ReopenSerializer,
        responses=s.CaseSerializer,
        parameters=[IF_MATCH, IDEMPOTENCY_KEY, ETAG],
    )
    @idempotent
    def post(self, request, pk: int):
        record = _record(request, pk)
        data = _valid(s.ReopenSerializer, request)
        current = Case.objects.filter(pk=record.pk).values_list("version", flat=True).first()
        version = _version(request, data, current or 1)
        with writing(request) as actor:
            case = services.reopen_case(user=actor, record=record, note=data["note"], version=version)
        return _case_response(record, case)


class AssignView(ApiView):
    resource = RESOURCE

    @extend_schema(
        operation_id="cases_assign",
        summary="Assign records to a case worker (or take them back: worker null)",
        description=(
            "The province's coordinators, for up to 1,000 records at once: all are assigned, or none. The worker "
            "must be a case worker where the records are (in their district, when the role is limited to districts)."
        ),
        request=s.AssignSerializer,
        responses=s.AssignResultSerializer,
        parameters=[IDEMPOTENCY_KEY],
    )
    @idempotent
    def post(self, request):
        data = _valid(s.AssignSerializer, request)
        ids = set(data["records"])
        records = list(TargetRecord.objects.visible_to(request.user).filter(pk__in=ids))
        missing = sorted(ids - {r.pk for r in records})
        if missing:
            raise ValidationError({"records": [_("Not found: %(ids)s") % {"ids": ", ".join(map(str, missing[:20]))}]})
        worker = None
        if data["worker"] is not None:
            worker = User.objects.filter(pk=data["worker"], is_active=True).first()
            if worker is None or not all(
                can(worker, "targets.may_take_case", (r.province_id, r.district_id)) for r in records
            ):
                raise ValidationError({"worker": [_("Choose a case worker of the records' province and district.")]})
        with writing(request) as actor:
            changed = services.assign(user=actor, records=records, worker=worker)
        return Response({"changed": changed})


# --- contacts and the plan ----------------------------------------------------------------------------------


class ContactListView(ApiView):
    resource = RESOURCE

    @extend_schema(
        operation_id="contacts_list",
        summary="A record's contacts, newest first",
        responses=s.ContactListSerializer,
    )
    def get(self, request, pk: int):
        record = _record(request, pk)
        contacts = list(
            Contact.objects.visible_to(request.user).filter(case_id=record.pk).select_related("recorded_by")
        )
        log_read(request, model=Contact, object_id=record.pk, description="API contacts", count=len(contacts))
        return Response({"results": s.ContactSerializer(contacts, many=True).data})

    @extend_schema(
        operation_id="contacts_create",
        summary="Log a contact (or a failed attempt) with the child or family",
        description=(
            "Through cases.services.log_contact. Send the same `client_key` (or Idempotency-Key) again and the "
            "contact is recorded once: 201 the first time, 200 with the first contact after."
        ),
        request=s.ContactWriteSerializer,
        responses={201: s.ContactSerializer, 200: s.ContactSerializer},
        parameters=[IDEMPOTENCY_KEY],
    )
    @idempotent
    def post(self, request, pk: int):
        record = _record(request, pk)
        data = _valid(s.ContactWriteSerializer, request)
        known = data["client_key"] is not None and Contact.objects.filter(client_key=data["client_key"]).exists()
        with writing(request) as actor:
            contact = services.log_contact(user=actor, record=record, **data)
        code = status.HTTP_200_OK if known else status.HTTP_201_CREATED
        return Response(s.ContactSerializer(contact).data, status=code)


class PlanStepListView(ApiView):
    resource = RESOURCE

    @extend_schema(operation_id="plan_steps_list", summary="A record's plan steps", responses=s.PlanStepListSerializer)
    def get(self, request, pk: int):
        record = _record(request, pk)
        steps = PlanStep.objects.visible_to(request.user).filter(case_id=record.pk).select_related("responsible")
        return Response({"results": s.PlanStepSerializer(steps, many=True).data})

    @extend_schema(
        operation_id="plan_steps_create",
        summary="Add a step to the record's plan",
        request=s.PlanStepWriteSerializer,
        responses={201: s.PlanStepSerializer},
        parameters=[IDEMPOTENCY_KEY],
    )
    @idempotent
    def post(self, request, pk: int):
        record = _record(request, pk)
        data = _valid(s.PlanStepWriteSerializer, request)
        with writing(request) as actor:
            step = services.add_step(user=actor, record=record, text=data["text"], due_on=data["due_on"])
        return Response(s.PlanStepSerializer(step).data, status=status.HTTP_201_CREATED)


class PlanStepDoneView(ApiView):
    resource = RESOURCE

    @extend_schema(
        operation_id="plan_steps_done",
        summary="Mark a plan step done (or not done again)",
        request=s.PlanStepDoneSerializer,
        responses=s.PlanStepSerializer,
        parameters=[IDEMPOTENCY_KEY],
    )
    @idempotent
    def post(self, request, pk: int, step: int):
        record = _record(request, pk)
        found = get_object_or_404(
            PlanStep.objects.visible_to(request.user).filter(case_id=record.pk).select_related("case__record"), pk=step
        )
        data = _valid(s.PlanStepDoneSerializer, request)
        with writing(request) as actor:
            done = services.finish_step(user=actor, step=found, done=data["done"])
        return Response(s.PlanStepSerializer(done).data)


# --- referrals ------------------------------------------------------------------------------------------------


def _flag(raw: str, name: str) -> bool:
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise ValidationError({name: [_("Give true or false.")]})


def _number(raw: str, name: str) -> int:
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise ValidationError({name: [_("Give a whole number.")]})
    return int(raw)


class ReferralListView(ApiView):
    resource = RESOURCE
    pagination_class = IdCursorPagination

    @extend_schema(
        operation_id="referrals_list",
        summary="Referrals: the referring side's, or an agency key's own",
        description="Newest first. An agency's key lists only the referrals sent to its agency.",
        parameters=[
            OpenApiParameter("state", str, enum=list(ReferralState.values)),
            OpenApiParameter("agency", int, description="An agency's id"),
            OpenApiParameter("record", int, description="A record's id"),
            OpenApiParameter("overdue", bool, description="Open and past the deadline"),
            OpenApiParameter("page_size", int, description="1 to 1000 (default 100)"),
            OpenApiParameter("cursor", str, description="The `next` link's cursor (opaque)"),
        ],
        responses=s.ReferralPageSerializer,
    )
    def get(self, request):
        queryset = _referrals(request.user)
        params = request.query_params
        if "state" in params:
            if params["state"] not in ReferralState.values:
                raise ValidationError({"state": [_("Unknown state.")]})
            queryset = queryset.filter(state=params["state"])
        if "agency" in params:
            queryset = queryset.filter(agency_id=_number(params["agency"], "agency"))
        if "record" in params:
            queryset = queryset.filter(case_id=_number(params["record"], "record"))
        if "overdue" in params:
            overdue = queryset.overdue()
            queryset = overdue if _flag(params["overdue"], "overdue") else queryset.exclude(pk__in=overdue.values("pk"))
        paginator = IdCursorPagination()
        page = paginator.paginate_queryset(queryset, request, view=self) or []
        policy = referral_identifier_policy(request.user)
        log_read(request, model=Referral, description="API referrals list", count=len(page))
        results = s.ReferralSerializer(page, many=True, context={"full_identifier": policy}).data
        return paginator.get_paginated_response(results)

    @extend_schema(
        operation_id="referrals_create",
        summary="Refer a child to an agency of the record's province",
        description="Through cases.services.refer: the plan gains a step for it and the agency's users are told.",
        request=s.ReferralWriteSerializer,
        responses={201: s.ReferralDetailSerializer},
        parameters=[IDEMPOTENCY_KEY],
    )
    @idempotent
    def post(self, request):
        data = _valid(s.ReferralWriteSerializer, request)
        record = TargetRecord.objects.visible_to(request.user).filter(pk=data["record"]).first()
        if record is None:
            raise ValidationError({"record": [_("Not found.")]})
        agency = Agency.objects.visible_to(request.user).filter(pk=data["agency"]).first()
        if agency is None:
            raise ValidationError({"agency": [_("Choose an agency of the record's province that is in use.")]})
        with writing(request) as actor:
            referral = services.refer(
                user=actor, record=record, agency=agency, reason=data["reason"], services=data["services"],
                deadline=data["deadline"], share_identifier=data["share_identifier"],
            )  # fmt: skip
        found = _referrals(request.user).prefetch_related("events").get(pk=referral.pk)
        return Response(_referral_body(request, found), status=status.HTTP_201_CREATED, headers=_etag(found))


def _etag(referral: Referral) -> dict[str, str]:
    return {"ETag": etag(referral.version)}


def _referral(request, pk: int) -> Referral:
    found: Referral = get_object_or_404(_referrals(request.user).prefetch_related("events"), pk=pk)
    return found


class ReferralDetailView(ApiView):
    resource = RESOURCE

    @extend_schema(
        operation_id="referrals_retrieve",
        summary="One referral with its state changes",
        responses=s.ReferralDetailSerializer,
        parameters=[ETAG],
    )
    def get(self, request, pk: int):
        referral = _referral(request, pk)
        log_read(request, model=Referral, object_id=pk, description="API referral", count=1)
        return Response(_referral_body(request, referral), headers=_etag(referral))


class ReferralTransitionView(ApiView):
    resource = RESOURCE
    requires_version = True

    @extend_schema(
        operation_id="referrals_transition",
        summary="Move a referral to its next state (accept, decline, start, complete, close unresolved)",
        description=(
            "The agency's side (its key, or the province's coordinators for an agency without users) accepts, "
            "declines (note required), starts (in_progress) and completes it (outcome required); either side may "
            "close it unresolved (note required). `next_states` of the referral says where it may go. From the "
            "version you read (If-Match or version): 412 if it changed since."
        ),
        request=s.TransitionSerializer,
        responses=s.ReferralDetailSerializer,
        parameters=[IF_MATCH, IDEMPOTENCY_KEY, ETAG],
    )
    @idempotent
    def post(self, request, pk: int):
        referral = _referral(request, pk)
        data = _valid(s.TransitionSerializer, request)
        outcome = _outcome(data["outcome"], "outcome")
        version = _version(request, data, referral.version)
        with writing(request) as actor:
            services.move_referral(
                user=actor, referral=referral, to_state=data["to_state"], version=version, note=data["note"],
                outcome=outcome, feedback=data["feedback"],
            )  # fmt: skip
        found = _referral(request, pk)
        return Response(_referral_body(request, found), headers=_etag(found))


class ReferralApplyOutcomeView(ApiView):
    resource = RESOURCE

    @extend_schema(
        operation_id="referrals_apply_outcome",
        summary="Set the record's status to the completed referral's outcome",
        description=(
            "The referring side confirms the agency's outcome as the record's status (its history keeps the "
            "change). `record_version` is the record's version you read: 412 if the record changed since. "
            "Applying it again changes nothing."
        ),
        request=s.ApplyOutcomeSerializer,
        responses=s.ReferralDetailSerializer,
        parameters=[IDEMPOTENCY_KEY],
    )
    @idempotent
    def post(self, request, pk: int):
        referral = _referral(request, pk)
        data = _valid(s.ApplyOutcomeSerializer, request)
        with writing(request) as actor:
            services.apply_referral_outcome(user=actor, referral=referral, record_version=data["record_version"])
        found = _referral(request, pk)
        return Response(_referral_body(request, found), headers=_etag(found))


# --- the changes feed -----------------------------------------------------------------------------------------


class CaseChangesView(ApiView):
    """Cases changed since a time, each with its contacts, plan steps and referrals, in (updated_at, record) order."""

    resource = RESOURCE

    @extend_schema(
        operation_id="cases_changes",
        summary="Changes feed of cases (with their contacts, plan steps and referrals)",
        description=(
            "As records/changes/: start with ?updated_since=<time> (or nothing), follow `next` while has_more, "
            "then keep the last `next` and call it later. A case appears again whenever it or any of its parts "
            "changes (a contact, a plan step, a referral's state, its goal, assignment or closure), with all its "
            "current values."
        ),
        parameters=[p for p in FILTER_PARAMETERS if p.name != "updated_since"]
        + [OpenApiParameter("updated_since", OpenApiTypes.DATETIME, description="Only cases changed since")],
        responses=s.CaseFeedPageSerializer,
    )
    def get(self, request):
        size = page_size_of(request)
        cursor = request.query_params.get("cursor")
        if cursor:
            start = decode_cursor(cursor)
            if start.descending:
                raise ValidationError({"cursor": [_("This cursor is for the other ordering.")]})
        else:
            start = Position(_since(request) or EPOCH, 0)
        user = request.user
        queryset = (
            Case.objects.visible_to(user)
            .filter(updated_at__lt=feed_horizon(timezone.now()))
            .select_related("record__case_worker", "goal")
            .prefetch_related(
                Prefetch("contacts", queryset=Contact.objects.select_related("recorded_by")),
                Prefetch("steps", queryset=PlanStep.objects.select_related("responsible")),
                Prefetch("referrals", queryset=Referral.objects.select_related("case__record", "agency", "outcome")),
            )
        )
        cases = list(after(queryset, start).order_by("updated_at", "pk")[: size + 1])
        more = len(cases) > size
        cases = cases[:size]
        items = []
        for case in cases:
            item = s.case_data(case.record, case)
            item["contacts"] = list(case.contacts.all())
            item["steps"] = list(case.steps.all())
            item["referrals"] = list(case.referrals.all())
            items.append(item)
        policy = referral_identifier_policy(user)
        results = s.CaseFeedItemSerializer(items, many=True, context={"full_identifier": policy}).data
        log_read(request, model=Case, description="API cases changes", count=len(cases))
        position = Position(cases[-1].updated_at, cases[-1].pk) if cases else start
        return Response({"results": results, "next": page_link(request, encode_cursor(position)), "has_more": more})


# Registered in api/urls.py (before the router's).
URLS = [
    path("records/<int:pk>/case/", CaseView.as_view(), name="record-case"),
    path("records/<int:pk>/case/close/", CaseCloseView.as_view(), name="record-case-close"),
    path("records/<int:pk>/case/reopen/", CaseReopenView.as_view(), name="record-case-reopen"),
    path("records/<int:pk>/contacts/", ContactListView.as_view(), name="record-contacts"),
    path("records/<int:pk>/steps/", PlanStepListView.as_view(), name="record-steps"),
    path("records/<int:pk>/steps/<int:step>/done/", PlanStepDoneView.as_view(), name="record-step-done"),
    path("cases/assign/", AssignView.as_view(), name="cases-assign"),
    path("cases/changes/", CaseChangesView.as_view(), name="cases-changes"),
    path("referrals/", ReferralListView.as_view(), name="referrals"),
    path("referrals/<int:pk>/", ReferralDetailView.as_view(), name="referral"),
    path("referrals/<int:pk>/transitions/", ReferralTransitionView.as_view(), name="referral-transitions"),
    path("referrals/<int:pk>/apply-outcome/", ReferralApplyOutcomeView.as_view(), name="referral-apply-outcome"),
]
