"""Pages of case follow-up that are not one child's case: my work (the inbox), notifications, the agency's
side of referrals (its list, one referral, one child as the agency sees it) and the agency directory.

An agency sees only what a referral needs of the child (REFERRAL_FACTS below), the identifier masked
unless the referral shares it; every page that shows a child writes an access-log entry. Writes go
through cases.services.
"""

import datetime
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_safe

from accounts.access import can, get_object_for_user, require, restrict
from audit.access_log import record_access
from audit.models import AccessLog
from core.forms import add_service_errors
from core.thai_id import format_identifier, mask_identifier
from core.versioning import StaleEdit
from provinces.models import District, Province
from targets.models import Outcome, TargetRecord

from . import notification_links, selectors, services, waiting_elsewhere
from .models import Agency, AgencyType, EmailPreference, Notification, Referral, ReferralEvent, ReferralState

NOTIFICATIONS_PER_PAGE = 30
REFERRALS_PER_PAGE = 50

# The inbox's sections, in the page's order, with their headings.
SECTIONS = {
    "overdue": gettext_lazy("Overdue"),
    "due_this_week": gettext_lazy("Due this week"),
    "referrals_waiting": gettext_lazy("Referrals waiting for your answer"),
    "referrals_overdue": gettext_lazy("Referrals past their deadline"),
    "new": gettext_lazy("Newly assigned to you"),
}

# What each notification says; the page adds the link, never the child's name or identifier.
NOTIFICATION_TEXT: dict[str, Any] = {
    Notification.Kind.ASSIGNED: gettext_lazy("A child's case was assigned to you."),
    Notification.Kind.CHILD_FOUND: gettext_lazy(
        "A case worker noted a newly found child in your province: check the new record and complete it."
    ),
    Notification.Kind.REFERRAL_RECEIVED: gettext_lazy("A referral was sent to your agency."),
    Notification.Kind.REFERRAL_CHANGED: gettext_lazy("A referral was answered or moved on."),
    Notification.Kind.REFERRAL_OVERDUE: gettext_lazy("A referral is past its deadline."),
    Notification.Kind.CONTACT_OVERDUE: gettext_lazy("A child's next contact is overdue."),
    # About transfers and merges: nothing of the record, nor of the other province, before the answer.
    Notification.Kind.TRANSFER_REQUESTED: gettext_lazy("A transfer request is waiting for your answer."),
    Notification.Kind.TRANSFER_ACCEPTED: gettext_lazy(
        "Your transfer request was accepted: the record is now in your province."
    ),
    Notification.Kind.TRANSFER_DECLINED: gettext_lazy("Your transfer request was declined; the reason is on its page."),
    Notification.Kind.TRANSFER_WITHDRAWN: gettext_lazy(
        "A transfer request that waited for your answer was withdrawn: nothing to answer."
    ),
    Notification.Kind.MOVED_IN: gettext_lazy(
        "EEF moved a record into your province, with its history; the reason is on the move's page. Assign a case "
        "worker to it."
    ),
    Notification.Kind.MOVED_OUT: gettext_lazy("EEF moved a record of your province to another province."),
    Notification.Kind.MERGE_PROPOSED: gettext_lazy("A merge of two records is waiting for your confirmation."),
    Notification.Kind.MERGE_CONFIRMED: gettext_lazy("Your merge proposal was confirmed: the two records are now one."),
    Notification.Kind.MERGE_REJECTED: gettext_lazy("Your merge proposal was rejected; the reason is on its page."),
}


def age_on(born: datetime.date | None, today: datetime.date) -> int | None:
    if born is None:
        return None
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _referral_url(user: Any, referral: Referral) -> str:
    """The agency's page for its side of a referral; the record's page for the referring side."""
    if can(user, "cases.is_agency_side", referral):
        return reverse("cases:referral", kwargs={"pk": referral.pk})
    return reverse("targets:detail", kwargs={"pk": referral.case_id})


# --- my work ---------------------------------------------------------------------------------------------


@require_safe
@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    user = request.user
    require(user, "cases.inbox")
    work = selectors.inbox(user)
    sections = []
    shown = 0
    for key, heading in SECTIONS.items():
        section = work.sections.get(key)
        if section is None:
            continue
        rows = []
        for row in section.rows:
            if isinstance(row, Referral):
                rows.append({"referral": row, "url": _referral_url(user, row), "due": row.deadline,
                             "agency": row.agency})  # fmt: skip
            elif isinstance(row, TargetRecord):
                rows.append({"record": row, "url": reverse("targets:detail", kwargs={"pk": row.pk}),
                             "assigned": row.case_assigned_at})  # fmt: skip
            else:  # a Case
                rows.append({"record": row.record, "url": reverse("targets:detail", kwargs={"pk": row.pk}),
                             "due": row.due_on})  # fmt: skip
        shown += len(rows)
        sections.append({"key": key, "heading": heading, "rows": rows, "total": section.total})
    if shown:
        record_access(request=request, action=AccessLog.Action.VIEW, model=TargetRecord, description="my work",
                      count=shown)  # fmt: skip
    # Transfer requests and merge proposals waiting for the user: a count and a link each, from their apps.
    elsewhere = waiting_elsewhere.for_user(user)
    return render(
        request,
        "cases/inbox.html",
        {"sections": sections, "today": work.today, "total": work.total, "elsewhere": elsewhere},
    )


# --- notifications -----------------------------------------------------------------------------------------


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def notifications(request: HttpRequest) -> HttpResponse:
    """The person's own notifications, newest first; a POST marks them all read or sets the daily email."""
    user = request.user
    if request.method == "POST":
        if request.POST.get("action") == "read_all":
            count = services.mark_read(user=user)  # type: ignore[arg-type]
            messages.success(request, _("%(count)s notifications marked as read.") % {"count": count})
        elif request.POST.get("action") == "digest":
            wanted = request.POST.get("daily_digest") == "on"
            # The weekly and monthly toggles are shown only to those who get such a digest: the others keep theirs.
            weekly = request.POST.get("weekly_digest") == "on" if can(user, "cases.weekly_digest") else None
            monthly = request.POST.get("monthly_digest") == "on" if can(user, "cases.monthly_digest") else None
            services.set_digests(
                user=user,  # type: ignore[arg-type]
                daily_digest=wanted,
                weekly_digest=weekly,
                monthly_digest=monthly,
            )
            messages.success(
                request,
                _("You will get the daily email.") if wanted else _("You will no longer get the daily email."),
            )
        return redirect("cases:notifications")
    rows = Notification.objects.visible_to(user).select_related("referral").order_by("-created_at", "-pk")
    page = Paginator(rows, NOTIFICATIONS_PER_PAGE).get_page(request.GET.get("page"))
    lines = []
    for note in page.object_list:
        # "Open" goes through open_notification, which marks the notification read on the way.
        url = reverse("cases:open_notification", kwargs={"pk": note.pk}) if _notification_target(user, note) else ""
        lines.append({"note": note, "text": NOTIFICATION_TEXT.get(note.kind, note.get_kind_display()), "url": url})
    preference = EmailPreference.objects.filter(user_id=user.pk or 0).first() or EmailPreference()
    return render(
        request,
        "cases/notifications.html",
        {
            "page": page,
            "lines": lines,
            "daily_digest": preference.daily_digest,
            # Each toggle for those who get that digest (digests/): None hides it.
            "weekly_digest": preference.weekly_digest if can(user, "cases.weekly_digest") else None,
            "monthly_digest": preference.monthly_digest if can(user, "cases.monthly_digest") else None,
        },
    )


def _notification_target(user, note: Notification) -> str:
    """Where a notification leads: its referral, else its child's record page, else the page of the row of
    another app it is about (the owning app's link: cases.notification_links); "" for none."""
    if note.subject_id is not None:
        return notification_links.link_for(user, note) or ""
    if note.referral is not None:
        return _referral_url(user, note.referral)
    if note.case_id is not None:
        return reverse("targets:detail", kwargs={"pk": note.case_id})
    return ""


@require_http_methods(["GET", "HEAD"])
@login_required
def open_notification(request: HttpRequest, pk: int) -> HttpResponse:
    """Open one of the person's own notifications: marked read, then on to what it is about (the list when it
    is about nothing to open). Another person's notification: 404."""
    note = get_object_or_404(Notification.objects.visible_to(request.user).select_related("referral"), pk=pk)
    if note.read_at is None and request.method == "GET":
        services.mark_read(user=request.user, ids=[note.pk])  # type: ignore[arg-type]
    return redirect(_notification_target(request.user, note) or reverse("cases:notifications"))


# --- the agency's side of referrals ------------------------------------------------------------------------


def _child_facts(record: TargetRecord, *, full_identifier: bool, today: datetime.date) -> dict[str, Any]:
    """Only what a referral needs of the child."""
    return {
        "name": str(record),
        "sex": record.get_sex_display(),
        "age": age_on(record.birth_date, today),
        "district": record.district,
        "sub_district": record.sub_district,
        "guardian_name": record.guardian_name,
        "phone": record.phone,
        "identifier": format_identifier(record.identifier) if full_identifier else mask_identifier(record.identifier),
        "identifier_full": full_identifier,
    }


@require_safe
@login_required
def referral_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    require(user, "cases.agency_user")
    referrals = restrict(Referral.objects.all(), user, "cases.agency_referrals").select_related(
        "agency", "case__record__district"
    )
    state = request.GET.get("state", "")
    if state in ReferralState.values:
        referrals = referrals.filter(state=state)
    else:
        state = ""
    page = Paginator(referrals.order_by("-sent_at", "-pk"), REFERRALS_PER_PAGE).get_page(request.GET.get("page"))
    if page.object_list:
        record_access(request=request, action=AccessLog.Action.VIEW, model=Referral, description="agency referrals",
                      count=len(page.object_list))  # fmt: skip
    return render(
        request,
        "cases/referral_list.html",
        {"page": page, "state": state, "states": ReferralState.choices, "today": timezone.localdate()},
    )


class ReferralAnswerForm(forms.Form):
    """One step of the agency's answer; the version is the referral's as the page showed it."""

    to_state = forms.ChoiceField(choices=ReferralState.choices)
    seen_version = forms.IntegerField(widget=forms.HiddenInput)
    note = forms.CharField(label=gettext_lazy("Why declined"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    outcome = forms.ModelChoiceField(
        label=gettext_lazy("Outcome"), queryset=Outcome.objects.filter(kind=Outcome.Kind.ACHIEVED, is_active=True),
        required=False,
    )  # fmt: skip
    feedback = forms.CharField(label=gettext_lazy("Feedback"), required=False,
                               widget=forms.Textarea(attrs={"rows": 3}))  # fmt: skip


def _referral_queryset() -> QuerySet[Referral]:
    return Referral.objects.select_related(
        "agency__type", "outcome", "case__record__district", "case__record__sub_district", "case__record__province"
    )


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def referral_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    referral = get_object_for_user(_referral_queryset(), user, pk)
    may_answer = can(user, "cases.answer_referral", referral)
    form = ReferralAnswerForm(request.POST or None)
    status, stale = 200, None
    if request.method == "POST":
        if not may_answer:
            raise PermissionDenied
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.move_referral(
                    user=user, referral=referral, to_state=data["to_state"], version=data["seen_version"],
                    note=data["note"], outcome=data["outcome"], feedback=data["feedback"],
                )  # fmt: skip
            except StaleEdit:
                status = 409
                stale = {
                    "message": _("Someone changed this referral after you opened the page: nothing was done."),
                    "advice": _("Check it as it is now, below, and answer again if it still needs it."),
                }
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                messages.success(request, _("The referral is now %(state)s.") % {
                    "state": ReferralState(data["to_state"]).label})  # fmt: skip
                return redirect("cases:referral", pk=referral.pk)
        referral = get_object_for_user(_referral_queryset(), user, pk)
    full = can(user, "cases.read_referral_identifier", referral)
    record = referral.case.record
    record_access(
        request=request,
        action=AccessLog.Action.FULL_IDENTIFIER_VIEW if full else AccessLog.Action.VIEW,
        obj=record,
        description=f"agency referral {referral.pk}",
    )
    events = ReferralEvent.objects.filter(referral=referral).select_related("by").order_by("at", "pk")
    next_states = set(referral.next_states()) if may_answer else set()
    return render(
        request,
        "cases/referral_detail.html",
        {
            "referral": referral,
            "child": _child_facts(record, full_identifier=full, today=timezone.localdate()),
            "events": events,
            "may_answer": may_answer,
            "next_states": next_states,
            "states": ReferralState,
            "form": form,
            "outcomes": form.fields["outcome"].queryset,  # type: ignore[attr-defined]
            "stale": stale,
            "agency_side": can(user, "cases.is_agency_side", referral),
        },
        status=status,
    )


@require_safe
@login_required
def agency_child(request: HttpRequest, record_pk: int) -> HttpResponse:
    """The child as the agency sees it, with the referrals to the agency: 404 unless one names the child."""
    referrals = list(
        restrict(_referral_queryset().filter(case_id=record_pk), request.user, "cases.agency_referrals").order_by(
            "-sent_at", "-pk"
        )
    )
    if not referrals:
        raise Http404
    record = referrals[0].case.record
    full = any(can(request.user, "cases.read_referral_identifier", r) for r in referrals)
    record_access(
        request=request,
        action=AccessLog.Action.FULL_IDENTIFIER_VIEW if full else AccessLog.Action.VIEW,
        obj=record,
        description="agency child",
    )
    return render(
        request,
        "cases/agency_child.html",
        {
            "child": _child_facts(record, full_identifier=full, today=timezone.localdate()),
            "referrals": referrals,
            "record_pk": record.pk,
            "today": timezone.localdate(),
        },
    )


# --- the agency directory --------------------------------------------------------------------------------


class AgencyForm(forms.ModelForm):
    class Meta:
        model = Agency
        fields = ("name", "type", "district", "contact_name", "phone", "email", "is_active")

    def __init__(self, *args: Any, province: Province, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["type"].queryset = AgencyType.objects.filter(is_active=True)  # type: ignore[attr-defined]
        self.fields["district"].queryset = District.objects.filter(province=province).order_by("name_th")  # type: ignore[attr-defined]

    def validate_unique(self) -> None:
        """The service checks the province's names (the form has no province field)."""


def _managed_provinces(user: Any) -> list[Province]:
    return [p for p in Province.objects.order_by("name_th") if can(user, "cases.manage_agencies", p.pk)]


@require_safe
@login_required
def agency_list(request: HttpRequest) -> HttpResponse:
    agencies = Agency.objects.visible_to(request.user).select_related("type", "district", "province")
    codes = set(agencies.values_list("province_id", flat=True).distinct())
    provinces = list(Province.objects.filter(pk__in=codes).order_by("name_th"))
    try:
        chosen = int(request.GET.get("province") or 0)
    except ValueError:
        chosen = 0
    province = next((p for p in provinces if p.pk == chosen), provinces[0] if len(provinces) == 1 else None)
    if province is not None:
        agencies = agencies.filter(province=province)
    groups: dict[Any, list[Agency]] = {}
    for agency in agencies.order_by("province__name_th", "type__sort_order", "type__code", "name"):
        groups.setdefault(agency.type, []).append(agency)
    return render(
        request,
        "cases/agency_list.html",
        {
            "groups": list(groups.items()),
            "provinces": provinces,
            "province": province,
            "may_add": bool(_managed_provinces(request.user)),
        },
    )


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def agency_new(request: HttpRequest) -> HttpResponse:
    choices = _managed_provinces(request.user)
    if not choices:
        raise PermissionDenied
    try:
        code = int(request.POST.get("province") or request.GET.get("province") or choices[0].pk)
    except ValueError:
        code = choices[0].pk
    province = next((p for p in choices if p.pk == code), None)
    if province is None:
        if request.method == "POST":
            raise PermissionDenied  # never quietly another province than the one asked for
        province = choices[0]
    form = AgencyForm(request.POST or None, province=province)
    if request.method == "POST" and form.is_valid():
        try:
            agency = services.create_agency(user=request.user, province_id=province.pk, **form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("%(name)s was added to the directory.") % {"name": agency.name})
            return redirect(f"{reverse('cases:agencies')}?province={province.pk}")
    return render(request, "cases/agency_form.html", {"form": form, "province": province, "provinces": choices})


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def agency_edit(request: HttpRequest, pk: int) -> HttpResponse:
    agency = get_object_for_user(Agency.objects.select_related("province"), request.user, pk)
    require(request.user, "cases.manage_agencies", agency.province_id)
    form = AgencyForm(request.POST or None, instance=agency, province=agency.province)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_agency(user=request.user, agency=agency, **form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("The agency has been saved."))
            return redirect(f"{reverse('cases:agencies')}?province={agency.province_id}")
    return render(request, "cases/agency_form.html", {"form": form, "province": agency.province, "agency": agency})
