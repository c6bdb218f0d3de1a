"""The pages of the exports: the user's recent exports, one export's page (a progress bar, then its link), its
progress (JSON, for static/js/upload_progress.js), its download; and `ask`, which the apps' export buttons
call to start a job (a POST) or to offer one (a GET)."""

from collections.abc import Callable

from django.apps import apps
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe

from accounts.access import get_object_for_user
from audit.access_log import record_access
from audit.models import AccessLog

from . import registry, services
from .models import ExportJob

RECENT = 50


def ask(request, *, kind: str, file_format: str, params: dict, refused_url: Callable[[], str] | None = None):
    """An export button's answer. POST: start the job and go to its page. GET (a link, a bookmark): the same
    check (404 for a subject outside the user's scope), then a page that offers to prepare the file. An export
    refused for a reason the user should read (services.Refused: nothing to export yet) goes back to
    `refused_url` with the reason as a message, or answers 400."""
    found = registry.get(kind)
    if found is None or file_format not in found.formats:
        raise Http404
    try:
        if request.method == "POST":
            job = services.start_export(principal=request.user, kind=kind, file_format=file_format, params=params)
            return redirect(job)
        cleaned = found.check(request.user, dict(params), file_format)
    except services.Refused as refused:
        if refused_url is None:
            return HttpResponseBadRequest(str(refused))
        messages.info(request, str(refused))
        return redirect(refused_url())
    context = {"title": found.title(cleaned, file_format), "file_format": file_format}
    return render(request, "exports/confirm.html", context)


@require_safe
@login_required
def job_list(request):
    # 1 the user's recent jobs
    jobs = list(ExportJob.objects.visible_to(request.user).recent().defer("params")[:RECENT])
    now = timezone.now()
    return render(request, "exports/list.html", {"jobs": jobs, "now": now, "keep_hours": settings.EXPORTS_KEEP_HOURS})


def _job(request, pk: int) -> ExportJob:
    job = get_object_for_user(ExportJob, request.user, pk)
    # No broker and no beat (the embedded default): the page does the sweeper's work for its own job, so a job
    # cut off by a stopped server starts again when its page is next opened.
    if settings.CELERY_TASK_ALWAYS_EAGER and not job.finished and any(services.sweep_exports(pk=job.pk).values()):
        job.refresh_from_db()
    return job


@require_safe
@login_required
def job_detail(request, pk: int):
    # 1 the job (through its door); the progress from the cache while it runs
    job = _job(request, pk)
    return render(
        request,
        "exports/detail.html",
        {
            "job": job,
            "percent": services.read_progress(job),
            "expired": job.status == ExportJob.Status.DONE and job.is_expired(),
            "keep_hours": settings.EXPORTS_KEEP_HOURS,
        },
    )


@require_safe
@login_required
def job_progress(request, pk: int):
    fields = ("pk", "user_id", "api_key", "status", "progress")
    job = get_object_for_user(ExportJob.objects.only(*fields), request.user, pk)
    return JsonResponse(
        {"status": job.status, "percent": services.read_progress(job), "done": job.finished},
        headers={"Cache-Control": "no-store"},
    )


@require_http_methods(["GET", "HEAD"])
@login_required
def job_download(request, pk: int):
    job = get_object_for_user(ExportJob, request.user, pk)
    return download(request, job)


def download(request, job: ExportJob) -> HttpResponseBase:
    """The job's file, streamed from storage, and one access-log entry; 410 once it has expired, 404 before it
    is ready (and for anyone but the asker: the caller fetched the job through its door)."""
    if job.is_expired():
        message = _("This export has expired: files are kept for %(hours)d hours. Ask for it again.") % {
            "hours": settings.EXPORTS_KEEP_HOURS
        }
        return HttpResponse(message, status=410, content_type="text/plain; charset=utf-8")
    if job.status != ExportJob.Status.DONE or not job.file:
        raise Http404
    try:
        handle = job.file.open("rb")
    except FileNotFoundError as error:
        raise Http404 from error
    record_access(
        request=request,
        action=AccessLog.Action.EXPORT,
        model=apps.get_model(job.log_model) if job.log_model else None,
        object_id=job.log_object_id,
        description=job.log_description or f"export {job.kind} ({job.file_format})",
        count=job.row_count if job.row_count is not None else 1,
    )
    response = FileResponse(handle, as_attachment=True, filename=job.filename, content_type=job.content_type)
    response["Cache-Control"] = "no-store"
    return response
