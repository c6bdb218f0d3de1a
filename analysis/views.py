"""The pages of analysis sets: my requests and the form to ask for one, one set's page, its one download."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe

from accounts.access import get_object_for_user, require
from audit.access_log import record_access
from audit.models import AccessLog

from . import services
from .forms import AnalysisSetForm
from .models import AnalysisSetRequest

RECENT = 50


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def set_list(request):
    require(request.user, "analysis.request")
    form = AnalysisSetForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            analysis_set = services.request_set(
                user=request.user, provinces=form.cleaned_data["provinces"], purpose=form.cleaned_data["purpose"]
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            codes = ", ".join(str(code) for code in sorted(form.cleaned_data["provinces"]))
            record_access(
                request=request,
                action=AccessLog.Action.EXPORT,
                obj=analysis_set,
                description=f"analysis set requested: provinces {codes}; purpose: {analysis_set.purpose}"[:255],
                count=0,
            )
            messages.success(request, _("Your analysis set is being built."))
            return redirect(analysis_set)
    # 1 the user's recent sets
    sets = list(AnalysisSetRequest.objects.visible_to(request.user).recent().defer("secret")[:RECENT])
    return render(request, "analysis/list.html", {"sets": sets, "form": form})


@require_safe
@login_required
def set_detail(request, pk: int):
    analysis_set = get_object_for_user(AnalysisSetRequest.objects.prefetch_related("provinces"), request.user, pk)
    return render(request, "analysis/detail.html", {"set": analysis_set})


@require_http_methods(["GET", "HEAD"])
@login_required
def set_download(request, pk: int):
    """The set's zip, once, and one access-log entry; afterwards a message that it was downloaded (410)."""
    analysis_set = get_object_for_user(AnalysisSetRequest, request.user, pk)
    if analysis_set.status == AnalysisSetRequest.Status.DOWNLOADED:
        return HttpResponse(
            _("This analysis set has already been downloaded: a set can be downloaded only once. Ask for a new one."),
            status=410,
            content_type="text/plain; charset=utf-8",
        )
    if analysis_set.status != AnalysisSetRequest.Status.READY or not analysis_set.file:
        raise Http404
    try:
        handle = analysis_set.file.open("rb")
    except FileNotFoundError as error:
        raise Http404 from error
    if not services.claim_download(analysis_set):  # downloaded meanwhile, by another request
        handle.close()
        return HttpResponse(
            _("This analysis set has already been downloaded: a set can be downloaded only once. Ask for a new one."),
            status=410,
            content_type="text/plain; charset=utf-8",
        )
    record_access(
        request=request,
        action=AccessLog.Action.EXPORT,
        obj=analysis_set,
        description=f"analysis set downloaded: purpose: {analysis_set.purpose}"[:255],
        count=analysis_set.row_count or 0,
    )
    response = FileResponse(handle, as_attachment=True, filename=analysis_set.filename, content_type="application/zip")
    response["Cache-Control"] = "no-store"
    return response
