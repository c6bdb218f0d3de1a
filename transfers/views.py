"""The transfer pages: the list (waiting for my answer, my province's requests, moves in and out), asking
for a record (or, for EEF/IPSR, moving it), and one request with its answer.

What each side sees (README.md, "Transfers"): the requesting side only what it typed (the identifier,
masked) and the state, with the holder's reason if declined, and the record once it is theirs; the
holding side the record while it holds it, and afterwards a line naming only the date and "moved to
another province". Nobody else finds a request (404). Writes go through transfers.services.
"""

from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe

from accounts.access import can, get_object_for_user, own_provinces, require
from accounts.models import User
from audit.access_log import record_access
from audit.models import AccessLog
from core.forms import add_service_errors
from core.thai_id import mask_identifier, normalise
from core.versioning import StaleEdit
from provinces.models import Province
from targets import id_probes
from targets.models import TargetRecord, UploadBatch
from targets.upload.reading import UnreadableFile, open_stored_sheet

from . import services
from .forms import AnswerForm, MoveForm, RequestForm
from .models import TransferRequest, TransferState

ROWS_PER_SECTION = 50


def _first(queryset: QuerySet[TransferRequest], limit: int = ROWS_PER_SECTION) -> tuple[list[TransferRequest], int]:
    rows = list(queryset[:limit])
    return rows, len(rows) if len(rows) < limit else queryset.count()


@require_safe
@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    user = request.user
    require(user, "transfers.use")
    national = can(user, "portal.national")
    incoming, incoming_total = _first(
        TransferRequest.objects.incoming_for(user)
        .select_related("record", "to_province", "from_province")
        .order_by("requested_at", "pk")
    )
    outgoing, outgoing_total = _first(
        TransferRequest.objects.outgoing_for(user).only(
            "pk", "identifier", "state", "requested_at", "answered_at", "to_province_id", "from_province_id"
        )
    )
    history_rows, history_total = _first(
        TransferRequest.objects.visible_to(user)
        .filter(state=TransferState.ACCEPTED)
        .select_related("record", "from_province", "to_province")
        .order_by("-answered_at", "-pk")
    )
    history = []
    for transfer in history_rows:
        moved_in = national or can(user, "transfers.withdraw", transfer)
        history.append(
            {
                "transfer": transfer,
                "moved_in": moved_in,
                # The record's name only where the user reads it now (its current province).
                "record": transfer.record if can(user, "targets.read", transfer.record.province_id) else None,
            }
        )
    shown = len(incoming) + sum(1 for row in history if row["record"] is not None)
    if shown:
        record_access(request=request, action=AccessLog.Action.VIEW, model=TargetRecord,
                      description="transfer requests", count=shown)  # fmt: skip
    return render(
        request,
        "transfers/inbox.html",
        {
            "incoming": incoming,
            "incoming_total": incoming_total,
            "outgoing": [{"transfer": t, "identifier": mask_identifier(t.identifier)} for t in outgoing],
            "outgoing_total": outgoing_total,
            "history": history,
            "history_total": history_total,
            "national": national,
            "may_request": can(user, "transfers.request"),
        },
    )


def _identifier_from_upload(request: HttpRequest, upload_pk: str, row: str) -> str:
    """The identifier of an upload's row refused as held elsewhere, read back from the stored file (the
    check keeps no cells of such rows), so that no identifier travels in a URL."""
    try:
        upload_id, row_number = int(upload_pk), int(row)
    except ValueError as error:
        raise Http404 from error
    batch = get_object_for_user(UploadBatch.objects.all(), request.user, upload_id, write=True)
    rejection = (
        batch.rejections.filter(row_number=row_number, reason__in=id_probes.held_elsewhere_reasons())
        .only("column")
        .first()
    )
    if rejection is None or batch.file_pruned_at is not None:
        return ""
    index = ((batch.columns or {}).get("positions") or {}).get(rejection.column)
    if index is None:
        return ""
    try:
        with open_stored_sheet(batch.file, name=batch.original_name) as sheet:
            for number, cells in enumerate(sheet.rows, start=sheet.header_row + 1):
                if number == row_number:
                    return normalise(cells[index]) if index < len(cells) else ""
    except (UnreadableFile, OSError, ValueError):
        return ""
    return ""


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def new(request: HttpRequest) -> HttpResponse:
    """Ask for a record held by another province (a coordinator), or move one (EEF/IPSR).

    GET ?upload=<id>&row=<n> fills in the identifier of an upload's refused row; a POST with `prefill`
    (the record form's button) fills it in from the form without asking anything yet."""
    user = cast(User, request.user)  # signed in (login_required)
    require(user, "transfers.use")
    national = can(user, "portal.national")
    form_class: Any = MoveForm if national else RequestForm
    kwargs: dict[str, Any] = {}
    if not national:
        kwargs["provinces"] = Province.objects.filter(pk__in=own_provinces(user, write=True)).order_by("name_th")
    prefill = request.method == "POST" and "prefill" in request.POST
    if request.method == "POST" and not prefill:
        form = form_class(request.POST, **kwargs)
        if form.is_valid():
            data = form.cleaned_data
            try:
                if national:
                    record = TargetRecord.objects.filter(identifier=normalise(data["identifier"])).first()
                    if record is None:
                        raise ValidationError({"identifier": _("No record has this identifier.")})
                    transfer = services.force_move(
                        user=user, record=record, to_province=data["province"], reason=data["reason"]
                    )
                else:
                    transfer = services.request_transfer(
                        user=user, identifier=data["identifier"], note=data["note"], province=data.get("province"),
                        asker=id_probes.Asker.of_request(request),
                    )  # fmt: skip
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                messages.success(
                    request, _("The record has been moved.") if national else _("Your request has been sent.")
                )
                return redirect("transfers:detail", pk=transfer.pk)
    else:
        initial = {}
        if prefill:
            initial["identifier"] = normalise(request.POST.get("identifier", ""))[:13]
        elif request.GET.get("upload") and request.GET.get("row"):
            initial["identifier"] = _identifier_from_upload(request, request.GET["upload"], request.GET["row"])
        form = form_class(initial=initial, **kwargs)
    return render(request, "transfers/new.html", {"form": form, "national": national})


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = cast(User, request.user)  # signed in (login_required)
    queryset = TransferRequest.objects.select_related("record", "from_province", "to_province")
    transfer = get_object_for_user(queryset, user, pk)
    status, stale = 200, None
    form = AnswerForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            action = data["action"]
            if not can(user, "transfers.withdraw" if action == "withdraw" else "transfers.answer", transfer):
                raise PermissionDenied
            try:
                if action == "accept":
                    services.accept_transfer(
                        user=user, transfer=transfer, version=data["seen_version"], reason=data["reason"]
                    )
                elif action == "decline":
                    services.decline_transfer(
                        user=user, transfer=transfer, version=data["seen_version"], reason=data["reason"]
                    )
                else:
                    services.withdraw_transfer(user=user, transfer=transfer, version=data["seen_version"])
            except StaleEdit:
                status = 409
                stale = {
                    "message": _("This request changed after you opened the page: nothing was done."),
                    "advice": _("Check it as it is now, below."),
                }
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                messages.success(request, _("Done."))
                return redirect("transfers:detail", pk=transfer.pk)
        transfer = get_object_for_user(queryset, user, pk)
    holder_side = can(user, "transfers.holder_side", transfer)
    # What of the record this user reads follows where the record is now (the door's targets.read).
    sees_record = can(user, "targets.read", transfer.record.province_id)
    if sees_record:
        record_access(request=request, action=AccessLog.Action.VIEW, obj=transfer.record)
    context = {
        "transfer": transfer,
        "form": form if request.method == "POST" else AnswerForm(initial={"seen_version": transfer.version}),
        "seen_version": transfer.version,
        "holder_side": holder_side,
        "national": can(user, "portal.national"),
        "sees_record": sees_record,
        "record": transfer.record if sees_record else None,
        "identifier": mask_identifier(transfer.identifier),
        "may_answer": transfer.is_open and can(user, "transfers.answer", transfer),
        "may_withdraw": transfer.is_open and can(user, "transfers.withdraw", transfer),
        "stale": stale,
    }
    return render(request, "transfers/detail.html", context, status=status)
