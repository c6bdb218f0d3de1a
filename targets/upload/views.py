"""The upload pages: send a spreadsheet of target-group records, see the dry run, confirm or cancel,
download the rejected rows to fix them.

Uploads are a province's working files and hold personal data: only those who may write the
province's records (its coordinators, EEF/IPSR admins) see them. Everyone else, viewers and
university teams included, gets 404, as for an upload that does not exist. Every write goes
through targets.upload.services (the one path the admin and the Celery tasks share). URLs carry
only the upload's number, never an identifier.
"""

import datetime
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts.access import Principal, can, get_object_for_user, only_province
from audit.access_log import record_access
from audit.models import AccessLog
from core.templatetags.thai_dates import be_date
from core.thai_id import mask_identifier
from provinces.models import District, Province, SubDistrict
from targets import id_probes
from targets.models import Category, EducationStatus, Outcome, Sex, TargetRecord, UploadBatch

from .columns import FIELDS, TEMPLATE_FIELDS, label
from .forms import UploadForm
from .pipeline import PREVIEW_VALUE_CHARS
from .reading import UnreadableFile, open_stored_sheet
from .services import (
    cancel_upload,
    read_progress,
    receive_upload,
    start_apply,
    start_check,
    sweep_stuck_uploads,
)
from .template_file import XLSX_CONTENT_TYPE, rejections_workbook, template_workbook

UPLOADS_PER_PAGE = 25
REJECTIONS_PER_PAGE = 50
RUNNING = (UploadBatch.Status.CHECKING, UploadBatch.Status.APPLYING)
CANCELLABLE = (UploadBatch.Status.RECEIVED, UploadBatch.Status.CHECKED, UploadBatch.Status.FAILED)


def _uploaders_only(user: Principal) -> None:
    """404 unless the user may upload anywhere (uploads do not exist for them)."""
    if not can(user, "targets.upload"):
        raise Http404


def _batch(request, pk: int) -> UploadBatch:
    # write=True: an upload is seen by those who may write its province, and by nobody else.
    return get_object_for_user(
        UploadBatch.objects.select_related("province", "uploaded_by"), request.user, pk, write=True
    )


def _xlsx_response(data: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(data, content_type=XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# --- the list and a new upload ---------------------------------------------------------------------


@require_safe
@login_required
def upload_list(request):
    _uploaders_only(request.user)
    uploads = (
        UploadBatch.objects.writable_by(request.user)
        .select_related("province", "uploaded_by")
        .defer("columns", "preview", "error")
        .order_by("-created_at", "-pk")
    )
    page = Paginator(uploads, UPLOADS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "targets/upload_list.html",
        {
            "page": page,
            "show_province": only_province(request.user, write=True) is None,
        },
    )


def _required_columns() -> list[str]:
    # The same three as targets.upload.columns.missing_required.
    return [label("identifier"), gettext("first name (or full name)"), label("category")]


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def upload_new(request):
    _uploaders_only(request.user)
    form = UploadForm(request.POST or None, request.FILES or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            batch = receive_upload(
                user=request.user, province=form.chosen_province(), uploaded_file=form.cleaned_data["file"]
            )
        except ValidationError as exc:
            form.add_error("file", exc)
        else:
            start_check(batch=batch, user=request.user)
            return redirect("uploads:detail", pk=batch.pk)
    return render(
        request,
        "targets/upload_new.html",
        {
            "form": form,
            "max_mb": settings.TARGETS_UPLOAD_MAX_BYTES // (1024 * 1024),
            "max_rows": f"{settings.TARGETS_UPLOAD_MAX_ROWS:,}",
            "required": _required_columns(),
            "columns": [(FIELDS[f][1], label(f)) for f in TEMPLATE_FIELDS],
        },
    )


@require_safe
@login_required
def upload_template(request):
    """The template to fill in, for anyone with a role but the case follow-up ones; its sample row's address
    is in the user's province."""
    if not can(request.user, "targets.upload_template"):
        raise Http404
    own = only_province(request.user)  # the sample's address: in the user's province when they have exactly one
    province = Province.objects.filter(pk=own).first() if own is not None else None
    return _xlsx_response(template_workbook(province=province), "abe-target-group-template.xlsx")


# --- one upload ----------------------------------------------------------------------------------


@require_safe
@login_required
def upload_detail(request, pk: int):
    batch = _batch(request, pk)
    if settings.CELERY_TASK_ALWAYS_EAGER and batch.status in (*RUNNING, UploadBatch.Status.RECEIVED):
        # The embedded default has no beat to run the sweeper: a job cut off by a stopped server is
        # restarted (inline) when its page is next opened, instead of showing "checking" for ever.
        swept = sweep_stuck_uploads(pk=batch.pk)
        if swept["requeued"] or swept["failed"]:
            batch = _batch(request, pk)
    status = batch.status
    reported = status in (UploadBatch.Status.CHECKED, UploadBatch.Status.APPLYING, UploadBatch.Status.APPLIED)
    page = None
    if reported and batch.rejected:
        rejections = batch.rejections.order_by("row_number", "pk").only(
            "batch_id", "row_number", "column", "reason", "values"
        )
        page = Paginator(rejections, REJECTIONS_PER_PAGE).get_page(request.GET.get("page"))
        _add_refused_values(page.object_list, (batch.columns or {}).get("positions") or {})
        # Rows refused for an identifier held in another province: the page offers "request a transfer".
        held_elsewhere = id_probes.held_elsewhere_reasons()
        for rejection in page.object_list:
            rejection.transferable = rejection.reason in held_elsewhere  # type: ignore[attr-defined]
        # The reasons may quote what was typed in a child's row: a view of personal data.
        record_access(
            request=request,
            action=AccessLog.Action.VIEW,
            obj=batch,
            description=f"rejected rows of an upload, page {page.number}",
            count=len(page.object_list),
        )
    columns = batch.columns or {}
    updates = _shown_updates((batch.preview or {}).get("updates", []))
    if any(u["changes"] for u in updates):
        # Old and new values of the records (names, phones): a view of personal data, as the rejections are.
        record_access(
            request=request,
            action=AccessLog.Action.VIEW,
            obj=batch,
            description="changes an upload makes to records",
            count=len(updates),
        )
    warnings = _shown_warnings(request, batch) if reported else []
    return render(
        request,
        "targets/upload_detail.html",
        {
            "batch": batch,
            "reported": reported,
            "warnings": warnings,
            "warned": (batch.preview or {}).get("warned", 0),
            "running": status in RUNNING,
            "percent": read_progress(batch) if status in RUNNING else None,
            "can_confirm": status == UploadBatch.Status.CHECKED,
            "can_cancel": status in CANCELLABLE,
            # Queued, and no task has taken it yet (a busy or absent worker): said beside the bar.
            "waiting": status in RUNNING and batch.started_at is None,
            "page": page,
            "updates": updates,
            "matched": [(_field_label(f), header) for f, header in (columns.get("matched") or {}).items()],
            "unknown": columns.get("unknown") or [],
            "duplicates": columns.get("duplicates") or [],
            "blank_rows": columns.get("blank_rows") or 0,
            "file_days": settings.RETENTION_UPLOAD_FILE_DAYS,
        },
    )


def _shown_warnings(request, batch: UploadBatch) -> list[dict]:
    """The dry run's warnings beside its new rows (probable duplicates, targets/upload/hooks.py): per row, the
    record it looks like, named only if the viewer may read that record (one query for all); otherwise only
    that a probable duplicate exists in another province, never its name or its province."""
    warnings = (batch.preview or {}).get("warnings") or []
    if not warnings:
        return []
    ids = {w.get("record") for w in warnings}
    records = {
        r.pk: r
        for r in TargetRecord.objects.visible_to(request.user)
        .filter(pk__in=ids)
        .only("pk", "identifier", "name_prefix", "first_name", "last_name", "birth_date", "province_id")
    }
    shown = []
    for warning in warnings:
        record = records.get(warning.get("record"))
        shown.append(
            {
                "row": warning.get("row"),
                "record": record,
                "identifier": "" if record is None else _identifier_for(request.user, record),
                "birth_date": "" if record is None or record.birth_date is None else be_date(record.birth_date),
            }
        )
    if records:
        # Names of existing children beside the rows: a view of personal data.
        record_access(
            request=request,
            action=AccessLog.Action.VIEW,
            obj=batch,
            description="probable duplicates of an upload's rows",
            count=len(records),
        )
    return shown


def _identifier_for(user, record: TargetRecord) -> str:
    return (
        record.identifier
        if can(user, "targets.read_identifiers", record.province_id)
        else mask_identifier(record.identifier)
    )


def _field_label(field: str) -> str:
    return label(field) if field in FIELDS else field


def _add_refused_values(rejections, positions: dict[str, int]) -> None:
    """Give each rejection on the page the `value` it refused: the cell of its column in the kept row ("" where the
    row is not kept, or for an upload checked before the positions were kept)."""
    for rejection in rejections:
        index = positions.get(rejection.column)
        cell = rejection.values[index] if index is not None and index < len(rejection.values) else None
        text = "" if cell is None else str(cell).strip()
        rejection.value = text if len(text) <= PREVIEW_VALUE_CHARS else text[: PREVIEW_VALUE_CHARS - 1] + "…"


# The kinds of ids an update may change, and where their names are.
_NAMED = {"district": District, "sub_district": SubDistrict, "category": Category, "status": Outcome}


def _shown_updates(updates: list[dict]) -> list[dict]:
    """The dry run's updates for the page: per changed field its label, old and new value as people read them.
    Ids become names with one query per kind of id (at most four, for all the updates); an upload checked before
    the values were kept lists the fields only."""
    wanted: dict[str, set] = {key: set() for key in _NAMED}
    for update in updates:
        for field, old, new in update.get("changes", []):
            if field in wanted:
                wanted[field].update(v for v in (old, new) if v is not None)
    names = {
        key: {o.pk: o.name for o in _NAMED[key]._default_manager.filter(pk__in=ids).only("pk", "name_th", "name_en")}
        for key, ids in wanted.items()
        if ids
    }
    choices: dict[str, dict[Any, Any]] = {"sex": dict(Sex.choices), "education_status": dict(EducationStatus.choices)}

    def shown(field: str, value: object) -> str:
        if value is None or value == "":
            return "–"
        if field in names:
            return names[field].get(value, str(value))
        if field in choices:
            return str(choices[field].get(value, value))
        if field == "birth_date" and isinstance(value, str):
            try:
                return be_date(datetime.date.fromisoformat(value))
            except ValueError:
                return value
        if isinstance(value, bool):
            return gettext("yes") if value else gettext("no")
        return str(value)

    return [
        {
            "row": update.get("row"),
            "identifier": update.get("identifier", ""),
            "fields": [_field_label(f) for f in update["fields"]],
            "changes": [
                {"field": _field_label(field), "old": shown(field, old), "new": shown(field, new)}
                for field, old, new in update.get("changes", [])
            ],
        }
        for update in updates
    ]


@require_safe
@login_required
def upload_progress(request, pk: int):
    """Where a check or an apply stands, for the page's progress bar (static/js/upload_progress.js)."""
    batch = get_object_for_user(
        UploadBatch.objects.only("pk", "province_id", "status", "progress"), request.user, pk, write=True
    )
    return JsonResponse(
        {
            "status": batch.status,
            "label": batch.get_status_display(),
            "percent": read_progress(batch),
            "done": batch.status not in RUNNING,
        }
    )


@require_POST
@login_required
def upload_confirm(request, pk: int):
    batch = _batch(request, pk)
    was_applied = batch.status == UploadBatch.Status.APPLIED
    try:
        start_apply(batch=batch, user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("uploads:detail", pk=batch.pk)
    batch.refresh_from_db(fields=["status", "created", "updated", "error"])
    if was_applied:
        messages.info(request, gettext("This upload was applied already; nothing changed."))
    elif batch.status == UploadBatch.Status.APPLIED:
        messages.success(
            request,
            gettext("The upload was applied: %(created)d created, %(updated)d updated.")
            % {"created": batch.created, "updated": batch.updated},
        )
    elif batch.status == UploadBatch.Status.FAILED:
        messages.error(request, batch.error or gettext("The upload could not be applied."))
    else:
        messages.info(request, gettext("The upload is being applied. This page follows its progress."))
    return redirect("uploads:detail", pk=batch.pk)


@require_POST
@login_required
def upload_cancel(request, pk: int):
    batch = _batch(request, pk)
    cancel_upload(batch=batch, user=request.user)
    batch.refresh_from_db(fields=["status"])
    if batch.status == UploadBatch.Status.CANCELLED:
        messages.success(request, gettext("The upload was cancelled; nothing was saved."))
    else:
        messages.error(request, gettext("This upload can no longer be cancelled."))
    return redirect("uploads:detail", pk=batch.pk)


@require_safe
@login_required
def upload_rejections(request, pk: int):
    """The rejected rows as .xlsx: the row number and reasons, then the row as it was, under its header.
    Fixed and uploaded again, the two added columns are reported as unknown and ignored."""
    batch = _batch(request, pk)
    grouped: dict[int, tuple[list[str], list]] = {}
    for number, column, reason, values in batch.rejections.order_by("row_number", "pk").values_list(
        "row_number", "column", "reason", "values"
    ):
        reasons, cells = grouped.setdefault(number, ([], []))
        reasons.append(f"{column}: {reason}" if column else reason)
        if values and not cells:
            cells.extend(values)
    header, found = _read_back(batch, [n for n, (_r, cells) in grouped.items() if not cells])
    rows = [(n, reasons, cells or found.get(n, [])) for n, (reasons, cells) in grouped.items()]
    record_access(
        request=request,
        action=AccessLog.Action.EXPORT,
        obj=batch,
        description="rejected rows of an upload (xlsx)",
        count=len(rows),
    )
    return _xlsx_response(rejections_workbook(header=header, rows=rows), f"upload-{batch.pk}-rejected-rows.xlsx")


def _read_back(batch: UploadBatch, numbers: list[int]) -> tuple[list[str], dict[int, list]]:
    """The stored file's header, and the cells of the rows `numbers` (rows whose values the check did
    not keep: those refused for belonging to another province)."""
    wanted = set(numbers)
    found: dict[int, list] = {}
    if batch.file_pruned_at is not None:
        return [], found  # the file is past its retention period (targets.retention): blank headers
    try:
        # The with block reaps the reader's child processes also when the loop stops early.
        with open_stored_sheet(batch.file, name=batch.original_name) as sheet:
            header = list(sheet.header)
            if wanted:
                for number, row in enumerate(sheet.rows, start=sheet.header_row + 1):
                    if number in wanted:
                        found[number] = [_json_safe(v) for v in row]
                        if len(found) == len(wanted):
                            break
    except (UnreadableFile, OSError, ValueError):
        return [], found  # the file is gone or unreadable: the rows go out under blank headers
    return header, found


def _json_safe(value):
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)
