"""The review queue of probable duplicates: a coordinator sees their province's open pairs, EEF/IPSR every
province's. Each pair side by side with only what the viewer may see (the identifier masked unless they may read
it in full; a record that has since moved to a province they cannot read is not shown), and two actions: "not the
same person" (remembered: duplicates.services.mark_not_same) and "merge", a link to identity's proposal page
(`identity:propose`)."""

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST, require_safe

from accounts.access import can, get_object_for_user, require
from audit.access_log import record_access
from audit.models import AccessLog
from core.templatetags.thai_dates import be_date
from core.thai_id import mask_identifier
from provinces.models import Province
from targets.models import TargetRecord

from . import services
from .models import DuplicateCandidate

PAIRS_PER_PAGE = 25

# The finder's reasons (duplicates.finder.REASONS) as the reviewer reads them.
REASON_TEXT = {
    "name_same": gettext_lazy("the same name once normalised"),
    "name_close": gettext_lazy("names differ by a letter or two"),
    "date_same": gettext_lazy("the same birth date"),
    "date_day_month_swapped": gettext_lazy("day and month of birth swapped"),
    "date_one_part_differs": gettext_lazy("birth dates differ in the day, the month or the year"),
    "same_district": gettext_lazy("the same district"),
    "district_unknown": gettext_lazy("one has no district"),
    "identifier_kinds_differ": gettext_lazy("a G-code and a national ID"),
}


def merge_url(candidate: DuplicateCandidate) -> str:
    """identity's page that proposes merging the pair's first record with the other, which it fills in for a
    reviewer who may read it. Record ids only: no identifier in a URL."""
    base = reverse("identity:propose", kwargs={"record_pk": candidate.record_a_id})
    return f"{base}?{urlencode({'other': candidate.record_b_id})}"


def _side(user, record: TargetRecord) -> dict:
    """One record of a pair as the viewer may see it."""
    if not can(user, "targets.read", record.province_id):
        return {"hidden": True}
    full = can(user, "targets.read_identifiers", record.province_id)
    return {
        "hidden": False,
        "record": record,
        "identifier": record.identifier if full else mask_identifier(record.identifier),
        "birth_date": be_date(record.birth_date) if record.birth_date else "",
    }


@require_safe
@login_required
def queue(request):
    require(request.user, "duplicates.review_any")
    provinces = Province.objects.visible_to(request.user).filter(
        pk__in=DuplicateCandidate.objects.visible_to(request.user).open().values("province_id")
    )
    pairs = (
        DuplicateCandidate.objects.visible_to(request.user)
        .open()
        .select_related(
            "province",
            "record_a__district",
            "record_a__category",
            "record_a__status",
            "record_b__district",
            "record_b__category",
            "record_b__status",
        )
        .order_by("province_id", "-score", "pk")
    )
    chosen = request.GET.get("province", "")
    if chosen.isdigit():
        pairs = pairs.filter(province_id=int(chosen))
    page = Paginator(pairs, PAIRS_PER_PAGE).get_page(request.GET.get("page"))
    rows = [
        {
            "candidate": c,
            "a": _side(request.user, c.record_a),
            "b": _side(request.user, c.record_b),
            "reasons": [REASON_TEXT.get(r, r) for r in c.reasons],
            "merge_url": merge_url(c),
        }
        for c in page.object_list
    ]
    if rows:
        record_access(
            request=request,
            action=AccessLog.Action.VIEW,
            model=DuplicateCandidate,
            description=f"probable duplicates, page {page.number}",
            count=2 * len(rows),
        )
    return render(
        request,
        "duplicates/queue.html",
        {"page": page, "rows": rows, "provinces": list(provinces), "chosen": chosen},
    )


@require_POST
@login_required
def not_same(request, pk: int):
    candidate = get_object_for_user(DuplicateCandidate, request.user, pk, write=True)
    try:
        services.mark_not_same(candidate=candidate, user=request.user)
    except services.AlreadyDecided:
        messages.info(request, _("This pair was already decided."))
    else:
        messages.success(request, _("Noted: not the same person. This pair will not be proposed again."))
    return redirect("duplicates:queue")
