"""The pages of merges (identity/urls.py): propose from a record's page, the proposals (EEF/IPSR nationally,
coordinators for their provinces), one proposal with its confirmation, rejection and undo.

What a page shows of a record: everything to those who read its province; the proposer's own record to the
other province's coordinators (they judge whether it is the same child); nothing at all of the other
province's record to the proposer, not even the province, until the merge is confirmed."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts.access import can, get_object_for_user, require
from audit.access_log import record_access
from audit.models import AccessLog
from core.forms import add_service_errors
from core.thai_id import mask_identifier
from targets import id_probes
from targets.models import TargetRecord

from . import selectors, services
from .forms import ProposeForm, RejectForm
from .models import MergeProposal

LIST_LIMIT = 200


@require_safe
@login_required
def proposal_list(request: HttpRequest) -> HttpResponse:
    require(request.user, "identity.list")
    state = request.GET.get("state", "")
    proposals = selectors.with_records().visible_to(request.user)
    if state in MergeProposal.State.values:
        proposals = proposals.filter(state=state)
    rows = [{"proposal": p, **selectors.sides(request.user, p)} for p in proposals[:LIST_LIMIT]]
    return render(
        request,
        "identity/proposal_list.html",
        {"rows": rows, "state": state, "states": MergeProposal.State.choices, "limit": LIST_LIMIT},
    )


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def propose(request: HttpRequest, record_pk: int) -> HttpResponse:
    record = get_object_for_user(TargetRecord.objects.select_related("province"), request.user, record_pk)
    require(request.user, "identity.propose", record)
    initial = {}
    other_pk = request.GET.get("other", "")
    if request.method != "POST" and other_pk.isdigit():
        # From the duplicates' review queue: the pair's other record, by its id, prefilled only if the
        # proposer may read it (visible_to, the one door), else left for them to type.
        other = TargetRecord.objects.visible_to(request.user).filter(pk=int(other_pk)).exclude(pk=record.pk).first()
        if other is not None:
            initial["identifier"] = other.identifier
    form = ProposeForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            proposal = services.propose(
                user=request.user,
                record=record,
                other_identifier=form.cleaned_data["identifier"],
                reason=form.cleaned_data["reason"],
                asker=id_probes.Asker.of_request(request),
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("The merge has been proposed."))
            return redirect(proposal.get_absolute_url())
    return render(
        request,
        "identity/propose.html",
        {"form": form, "record": record, "identifier": mask_identifier(record.identifier)},
    )


@require_safe
@login_required
def proposal_detail(request: HttpRequest, pk: int) -> HttpResponse:
    proposal = get_object_for_user(selectors.with_records(), request.user, pk)
    return _render_detail(request, proposal, RejectForm())


def _render_detail(request: HttpRequest, proposal: MergeProposal, reject_form: RejectForm, status: int = 200):
    sides = selectors.sides(request.user, proposal)
    for side in sides.values():
        if side["shown"]:
            record_access(request=request, action=AccessLog.Action.VIEW, obj=side["record"], description="merge page")
    user = request.user
    return render(
        request,
        "identity/proposal_detail.html",
        {
            "proposal": proposal,
            **sides,
            "may_confirm": can(user, "identity.confirm", proposal),
            "may_reject": can(user, "identity.reject", proposal),
            "may_undo": can(user, "identity.undo", proposal),
            "undo_until": services.undo_until(proposal),
            "reject_form": reject_form,
            "survivor_confirmed": proposal.survivor_side_confirmed_by_id is not None,
            "merged_confirmed": proposal.merged_side_confirmed_by_id is not None,
        },
        status=status,
    )


def _act(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    proposal = get_object_for_user(selectors.with_records(), request.user, pk)
    reject_form = RejectForm(request.POST if action == "reject" else None)
    try:
        if action == "confirm":
            proposal = services.confirm(user=request.user, proposal=proposal)
            if proposal.state == MergeProposal.State.CONFIRMED:
                messages.success(request, _("The records have been merged."))
            else:
                messages.success(
                    request, _("Your province's confirmation is recorded; the other province confirms next.")
                )
        elif action == "undo":
            services.undo(user=request.user, proposal=proposal)
            messages.success(request, _("The merge has been undone: both records are as they were."))
        else:
            if not reject_form.is_valid():
                return _render_detail(request, proposal, reject_form, status=400)
            services.reject(user=request.user, proposal=proposal, note=reject_form.cleaned_data["note"])
            messages.success(request, _("The proposal has been rejected."))
    except PermissionDenied:
        raise
    except services.Busy:
        messages.error(request, _("An upload is being applied just now. Nothing was changed; try again in a minute."))
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    return redirect(proposal.get_absolute_url())


@require_POST
@login_required
def confirm(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, "confirm")


@require_POST
@login_required
def reject(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, "reject")


@require_POST
@login_required
def undo(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, "undo")
