"""The dashboards: national, university and province figures from the stored summaries, their exports
and the EEF admins' "compute now" button.

Pages read the snapshots, never the records (but for the live district and sub-district tables of the
drill-down, summaries.drilldown: one aggregate query each), in a fixed number of queries whatever the data, and
through the one door: a province or university outside the user's scope answers 404, as one that
does not exist. The national dashboard is EEF/IPSR's; it sends everyone else to their own (a
university team to its university's, a province's people to their province's); no role gets 403.
"""

import dataclasses
import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts.access import Principal, can, get_object_for_user, home_provinces, own_universities, require
from analysis.cohorts import cohorts_for
from core.buddhist_dates import (
    DateParseError,
    current_fiscal_year,
    file_date,
    fiscal_year_of,
    parse_fiscal_year,
    parse_thai_date,
)
from core.replica import reads_from_replica
from exports import views as export_jobs
from provinces.models import District, Province
from quality.rules import active_rules
from universities.models import University

from . import charts, drilldown, exports
from . import export_jobs as export_kinds
from .figures import (
    DEFAULT_SORT,
    GROUPS,
    SORTS,
    Links,
    Row,
    TrendPoint,
    case_follow_up,
    dashboard_url,
    freshness,
    headlines,
    number_text,
    percent_text,
    point_as_of,
    progress_of,
    quality_help,
    quality_label,
    quality_text,
    reference_labels,
    report_status_label,
    sort_rows,
    trend,
    url_with,
    warnings_of,
)
from .map import map_svg
from .models import Level, Snapshot, SummaryRun
from .schema import Figures
from .services import request_summary

# The days a dashboard may be asked the figures of: the programme's years, with room (31/12/10542 is no day of it).
AS_OF_RANGE = (datetime.date(2000, 1, 1), datetime.date(2200, 12, 31))
# An on-demand run requested within this many minutes of another still running is not started again.
RUN_AGAIN_AFTER_MINUTES = 10


def _fiscal_year(request, as_of: datetime.date | None = None) -> int:
    """?fiscal_year=, else the fiscal year of the "as of" day, else the current one."""
    default = fiscal_year_of(as_of) if as_of else current_fiscal_year()
    return parse_fiscal_year(request.GET.get("fiscal_year"), default=default)


def _as_of(request) -> tuple[datetime.date | None, str]:
    """?as_of=: the day whose figures the dashboard shows (2566-06-30, 30/06/2566, 2023-06-30: read as the
    portal reads every date, core.buddhist_dates), and what is wrong with it if it cannot be read (the page
    then shows the latest figures and says so)."""
    value = request.GET.get("as_of", "").strip()
    if not value:
        return None, ""
    try:
        day = parse_thai_date(value)
    except DateParseError:
        day = None
    if day is None or not AS_OF_RANGE[0] <= day <= AS_OF_RANGE[1]:
        return None, gettext(
            "The date “%(value)s” could not be read: write it as 30/06/2566 or 2566-06-30. The latest figures are "
            "shown."
        ) % {"value": value[:40]}
    return day, ""


def _past(as_of: datetime.date | None) -> bool:
    """A past day's figures: the lists behind the cards and charts show today's records, which would not add up
    to them, so such a page links to none of them (summaries.figures.Links, enabled=False)."""
    return as_of is not None and as_of < timezone.localdate()


def _pick(points: list[TrendPoint], as_of: datetime.date | None, error: str) -> tuple[TrendPoint | None, dict]:
    """The trend's point the page shows (the last one on or before `as_of`, else the latest) and the "as of"
    control's context: no query, the points are the trend the page reads anyway."""
    point = point_as_of(points, as_of) if as_of else (points[-1] if points else None)
    days = sorted({timezone.localdate(p.as_of) for p in points}, reverse=True)
    shown = timezone.localdate(point.as_of) if point and as_of else None
    return point, {
        "as_of": as_of,
        "as_of_past": _past(as_of),
        "as_of_error": error,
        "as_of_before_any": as_of is not None and point is None,
        "as_of_choices": [(file_date(day), day, day == shown) for day in days],
    }


def _sort(request) -> tuple[str, bool]:
    key = request.GET.get("sort", DEFAULT_SORT)
    if key not in SORTS:
        key = DEFAULT_SORT
    descending = request.GET.get("order", "asc" if key == "name" else "desc") != "asc"
    return key, descending


def _sort_links(request, key: str, descending: bool) -> dict[str, dict]:
    """For each sortable column: the link that sorts by it (the other way if it is the current one)
    and its aria-sort state."""
    links = {}
    for column in SORTS:
        query = request.GET.copy()
        query["sort"] = column
        if column == key:
            query["order"] = "asc" if descending else "desc"
            state = "descending" if descending else "ascending"
        else:
            query["order"] = "asc" if column == "name" else "desc"
            state = "none"
        links[column] = {"url": f"?{query.urlencode()}", "state": state}
    return links


def _cards(figures: Figures, links: Links, *, rollup: bool, province: int | None = None) -> list[dict]:
    """The figures at the top of a dashboard, each linking to what is behind it; the headline ones say
    in their label and tooltip what they count (figures.headlines)."""
    records = figures.records.total
    progress = progress_of(figures)
    completeness = figures.completeness
    reports = figures.reports
    requests = figures.requests
    items = figures.action_items
    words = headlines()
    cards: list[dict[str, object]] = [
        {
            "label": words["records"].label,
            "tooltip": words["records"].help,
            "value": number_text(records),
            "note": gettext("%(n)s changed in the last 30 days") % {"n": number_text(figures.changed_30d)},
            "href": links.records(),
            "key": "records",
        }
    ]
    # Progress toward the goals, then its two headline groups: each the sum of its goal rows (#goals).
    for key in ("overall", *GROUPS):
        cards.append(
            {
                "label": words[key].label,
                "tooltip": words[key].help,
                "value": percent_text(progress[key].percent),
                "note": gettext("%(achieved)s of a goal of %(target)s")
                % {"achieved": number_text(progress[key].achieved), "target": number_text(progress[key].target)},
                "href": "#goals",
                "key": key,
            }
        )
    # Counted apart, and said so: records at an achieved outcome whatever the goals, and where the others stand.
    by_kind = figures.records.by_kind
    cards.append(
        {
            "label": words["achieved"].label,
            "tooltip": words["achieved"].help,
            "value": number_text(by_kind.get("achieved", 0)),
            "note": gettext("%(in_progress)s still being followed up · %(exited)s left without an outcome")
            % {
                "in_progress": number_text(by_kind.get("in_progress", 0)),
                "exited": number_text(by_kind.get("exited", 0)),
            },
            "href": "#statuses",
            "key": "achieved",
        }
    )
    share = completeness.share_incomplete
    cards.append(
        {
            "label": gettext("Records missing required fields"),
            "value": percent_text(share) if records else "–",
            "note": gettext("%(n)s records") % {"n": number_text(completeness.incomplete)},
            "href": "#completeness",
            "key": "completeness",
            "alert": (share or 0) > 10,
        }
    )
    # The data-quality score (README.md, "The quality score"), as a badge ({% quality_score %}): a province's links to
    # its quality page; a rollup's is its provinces' counts added up, each province's in the table below.
    quality = figures.quality
    cards.append(
        {
            "label": quality_label(),
            "tooltip": quality_help(quality),
            "value": quality_text(quality),
            "note": gettext("%(flagged)s of %(checked)s records found by a rule")
            % {"flagged": number_text(quality.flagged), "checked": number_text(quality.checked)}
            if quality is not None
            else gettext("not counted on this day"),
            "key": "quality",
            "quality": True,
            "province": province,
        }
    )
    if rollup:
        total = len(figures.provinces or ())
        report_value = f"{reports.provinces_in or 0} / {total}"
        report_note = gettext("provinces sent the current period's report")
    else:
        # The card's big word: whether the province has sent this period's report ("In" read as a typo in English).
        report_value = gettext("Sent") if reports.current_period_in else gettext("Not sent")
        report_note = gettext("the current period's progress report")
    cards.append(
        {
            "label": gettext("Progress reports"),
            "value": report_value,
            "note": report_note,
            "href": links.reports(),
            "key": "reports",
            "alert": not rollup and not reports.current_period_in,
        }
    )
    cards.append(
        {
            "label": gettext("Open capacity requests"),
            "value": number_text(requests.open),
            "note": gettext("%(overdue)s overdue · %(delivered)s delivered · mean rating %(rating)s")
            % {
                "overdue": number_text(requests.overdue),
                "delivered": number_text(requests.delivered),
                "rating": number_text(requests.mean_rating),
            },
            "href": links.requests(status="active"),
            "key": "requests",
            "alert": bool(requests.overdue),
        }
    )
    cards.append(
        {
            "label": gettext("Meetings held"),
            "value": number_text(figures.meetings_held),
            "note": gettext("this fiscal year"),
            "href": links.meetings(),
            "key": "meetings",
        }
    )
    cards.append(
        {
            "label": gettext("Open action items"),
            "value": number_text(items.open),
            "note": gettext("overdue: %(n)s") % {"n": number_text(items.overdue)},
            "href": links.actions(overdue=bool(items.overdue)),
            "key": "actions",
            "alert": bool(items.overdue),
        }
    )
    return cards


def _reports(figures: Figures, links: Links) -> list[dict]:
    by_status = figures.reports.by_status
    order = ["draft", "submitted", "reviewed", "accepted"]
    return [
        {"status": s, "label": report_status_label(s), "count": by_status.get(s, 0), "href": links.reports(s)}
        for s in order + sorted(set(by_status) - set(order))
    ]


def _exports(level: str, code, fiscal_year: int, as_of: datetime.date | None = None) -> dict[str, str]:
    query = {
        "level": str(level),
        "code": code,
        "fiscal_year": fiscal_year if fiscal_year != current_fiscal_year() else None,
        "as_of": as_of.isoformat() if as_of else None,  # a past day's figures, labelled with it
    }
    return {fmt: url_with("summaries:export", query, fmt=fmt) for fmt in exports.FORMATS}


def _crumbs(request, *pages: tuple[str, str]) -> list[tuple[str, str]]:
    """Links above a dashboard's title: the national dashboard for EEF/IPSR admins, then `pages`."""
    crumbs = (
        [(gettext("National dashboard"), reverse("summaries:national"))]
        if can(request.user, "summaries.read_national")
        else []
    )
    return crumbs + [(label, url) for label, url in pages if url]


def _base_context(request, *, fiscal_year: int, level: str, code=None, as_of: datetime.date | None = None) -> dict:
    return {
        "fiscal_year": fiscal_year,
        "current_fiscal_year": current_fiscal_year(),
        "exports": _exports(level, code, fiscal_year, as_of),
        "level": level,
    }


def _figures_context(
    snapshot: Snapshot, labels, links: Links, *, rollup: bool, points, as_of: datetime.date | None = None
) -> dict:
    figures = snapshot.figures
    fresh = freshness(snapshot)
    if as_of:  # figures of a past day asked for: old on purpose
        fresh = dataclasses.replace(fresh, stale=False)
    return {
        "snapshot": snapshot,
        "figures": figures,
        "fresh": fresh,
        "cards": _cards(figures, links, rollup=rollup, province=None if rollup else snapshot.province_id),
        "goals_chart": charts.goals_chart(figures, labels, links),
        "categories_chart": charts.categories_chart(figures, labels, links),
        "statuses_chart": charts.statuses_chart(figures, labels, links),
        "help_chart": charts.help_chart(figures, labels, links),
        "activities_chart": charts.activities_chart(figures.own_activities, links),
        "trend_chart": charts.trend_chart(points, marker=snapshot.as_of if as_of else None),
        "report_statuses": _reports(figures, links),
        "cases": case_follow_up(figures, labels),
        "links": links,
    }


# --- national --------------------------------------------------------------------------------------------------------


@require_safe
@login_required
@reads_from_replica  # DATABASE_REPLICA_URL (core/replica.py)
def national(request):
    user = request.user
    if not can(user, "summaries.read_national"):
        return _own_dashboard(user)
    as_of, as_of_error = _as_of(request)
    fiscal_year = _fiscal_year(request, as_of)
    context = _base_context(request, fiscal_year=fiscal_year, level=Level.NATIONAL, as_of=as_of)
    snapshots = Snapshot.objects.visible_to(user).current().filter(fiscal_year=fiscal_year)
    points = trend(snapshots.filter(level=Level.NATIONAL))
    point, picked = _pick(points, as_of, as_of_error)
    context |= picked
    if point:
        in_run = list(snapshots.filter(run_id=point.run_id).select_related("run", "province", "university"))
        subject = next(s for s in in_run if s.level == Level.NATIONAL)
        links = Links(fiscal_year=fiscal_year, enabled=not _past(as_of))
        context |= _figures_context(subject, reference_labels(), links, rollup=True, points=points, as_of=as_of)
        leads = {
            code: s.university.short_name
            for s in in_run
            if s.level == Level.UNIVERSITY
            for code in s.figures.leads or ()
        }
        rows = [
            Row(
                s.province_id,
                s.province.name,
                dashboard_url(Level.PROVINCE, s.province_id),
                s.figures,
                lead=leads.get(s.province_id, ""),
            )
            for s in in_run
            if s.level == Level.PROVINCE
        ]
        universities = [
            Row(
                s.university.code,
                s.university.name,
                dashboard_url(Level.UNIVERSITY, s.university.code),
                s.figures,
                short=s.university.short_name,
            )
            for s in in_run
            if s.level == Level.UNIVERSITY and s.figures.provinces
        ]
        context |= _tables(request, rows, universities, programme=set(subject.figures.provinces or ()))
    return render(request, "summaries/national.html", context)


def _own_dashboard(user: Principal):
    """Where the national dashboard sends someone who is not an EEF/IPSR admin."""
    if universities := own_universities(user):
        university = University.objects.filter(pk__in=universities).order_by("code").first()
        if university:
            return redirect("summaries:university", code=university.code)
    if provinces := home_provinces(user):
        return redirect("summaries:province", code=min(provinces))
    raise PermissionDenied


def _tables(request, rows: list[Row], universities: list[Row], *, programme: set[int]) -> dict:
    key, descending = _sort(request)
    rows = sort_rows(rows, key, descending=descending)
    by_name = sort_rows(rows, "name", descending=False)
    percents = {row.key: row.progress["overall"].percent for row in rows if isinstance(row.key, int)}  # provinces
    return {
        "rows": rows,
        "sort": {"key": key, "descending": descending, "links": _sort_links(request, key, descending)},
        "university_rows": sort_rows(universities, "name", descending=False),
        "progress_chart": charts.progress_by_subject(by_name),
        "map_svg": map_svg(
            percents=percents,
            programme=programme,
            links={row.key: row.url for row in rows if row.key in programme},
            quality={row.key: row.quality for row in rows if isinstance(row.key, int)},
        ),
        "map_rows": [row for row in by_name if row.key in programme],
        "headlines": headlines(),
    }


# --- university ------------------------------------------------------------------------------------------------------


@require_safe
@login_required
@reads_from_replica
def university(request, code: str):
    user = request.user
    as_of, as_of_error = _as_of(request)
    fiscal_year = _fiscal_year(request, as_of)
    context = _base_context(request, fiscal_year=fiscal_year, level=Level.UNIVERSITY, code=code, as_of=as_of)
    snapshots = Snapshot.objects.visible_to(user).current().filter(fiscal_year=fiscal_year)
    points = trend(snapshots.filter(level=Level.UNIVERSITY, university__code=code))
    point, picked = _pick(points, as_of, as_of_error)
    context |= picked
    if not point:
        found = get_object_or_404(University.objects.visible_to(user), code=code)
        if not can(user, "summaries.read_university", found.pk):
            raise Http404
        context["university"] = found
        context["crumbs"] = _crumbs(
            request, (gettext("The university's page"), url_with("universities:detail", code=code))
        )
        return render(request, "summaries/university.html", context)
    in_run = list(
        snapshots.filter(run_id=point.run_id)
        .filter(Q(level=Level.UNIVERSITY, university__code=code) | Q(level=Level.PROVINCE))
        .select_related("run", "university", "province")
    )
    subject = next(s for s in in_run if s.level == Level.UNIVERSITY)
    supported = set(subject.figures.provinces or ())
    leads = set(subject.figures.leads or ())
    links = Links(fiscal_year=fiscal_year, university=subject.subject_university.code, enabled=not _past(as_of))
    context |= _figures_context(subject, reference_labels(), links, rollup=True, points=points, as_of=as_of)
    rows = [
        Row(
            s.province_id,
            s.subject_province.name,
            dashboard_url(Level.PROVINCE, s.province_id),
            s.figures,
            lead=subject.subject_university.short_name if s.province_code in leads else "",
        )
        for s in in_run
        if s.level == Level.PROVINCE and s.province_id in supported
    ]
    context |= _tables(request, rows, [], programme=supported)
    # The cohort view of the supported provinces, as known on the "as of" day (analysis.cohorts: cached; on a
    # miss three queries, whatever the number of records).
    cohorts = cohorts_for(user=user, provinces=supported, as_of=as_of)
    context |= {
        "cohorts": cohorts,
        "cohort_chart": charts.cohort_chart(cohorts),
        "cohort_outcomes": charts.cohort_outcome_table(cohorts),
    }
    context["university"] = subject.university
    context["own"] = subject.figures.own
    context["crumbs"] = _crumbs(request, (gettext("The university's page"), url_with("universities:detail", code=code)))
    return render(request, "summaries/university.html", context)


# --- province --------------------------------------------------------------------------------------------------------


@require_safe
@login_required
@reads_from_replica
def province(request, code: int):
    user = request.user
    if not can(user, "summaries.read_province", code):
        raise Http404
    as_of, as_of_error = _as_of(request)
    fiscal_year = _fiscal_year(request, as_of)
    context = _base_context(request, fiscal_year=fiscal_year, level=Level.PROVINCE, code=code, as_of=as_of)
    subject = (
        Snapshot.objects.visible_to(user)
        .current()
        .filter(level=Level.PROVINCE, province_id=code, fiscal_year=fiscal_year)
    )
    points = trend(subject)
    point, picked = _pick(points, as_of, as_of_error)
    context |= picked
    context["crumbs"] = _crumbs(request, (gettext("The province's page"), url_with("provinces:detail", code=code)))
    if not point:
        context["province"] = get_object_for_user(Province.objects.select_related("region"), user, code)
        return render(request, "summaries/province.html", context)
    snapshot = subject.select_related("run", "province__region").get(pk=point.pk)
    links = Links(fiscal_year=fiscal_year, province=code, enabled=not _past(as_of))
    labels = reference_labels()
    context |= _figures_context(snapshot, labels, links, rollup=False, points=points, as_of=as_of)
    context["province"] = snapshot.province
    context["warnings"] = warnings_of(snapshot.figures, links=links, can_upload=can(user, "province.write", code))
    context |= _districts(request, code, snapshot, labels, as_of=as_of, fiscal_year=fiscal_year)
    return render(request, "summaries/province.html", context)


def _districts(request, code: int, snapshot: Snapshot, labels, *, as_of: datetime.date | None, fiscal_year: int):
    """The province's district table (summaries.drilldown): live figures, so today's, and shown only beside
    today's figures of the current fiscal year; beside a past day's (or year's) the page says so and links to
    today's instead of showing today's figures under a past date. Two queries (the rules' settings, the table)."""
    if _past(as_of) or fiscal_year != current_fiscal_year():
        return {"districts_today_url": reverse("summaries:province", kwargs={"code": code})}
    goals = drilldown.goal_pairs_of_snapshot(snapshot.figures, labels)  # the plan's goals, as the page shows them
    table = drilldown.district_table(request.user, province=code, goals=goals, rules=active_rules())
    return {"districts": table, "districts_records_url": url_with("targets:list", {"province": code})}


@require_safe
@login_required
@reads_from_replica
def district(request, code: int, district: int):
    """A district's sub-districts (summaries.drilldown), live: for whoever may see the province's dashboard; 404
    for anyone else, and for a district of another province. Queries: the district with its province, the
    rules' settings, the plan's goals of the current fiscal year, the table (one aggregate)."""
    user = request.user
    if not can(user, "summaries.read_province", code):
        raise Http404
    place = get_object_for_user(District.objects.filter(province_id=code).select_related("province"), user, district)
    fiscal_year = current_fiscal_year()
    goals = drilldown.plan_goal_pairs(user, province=code, fiscal_year=fiscal_year)
    table = drilldown.sub_district_table(user, province=code, district=district, goals=goals, rules=active_rules())
    province_url = reverse("summaries:province", kwargs={"code": code})
    # Bangkok's districts (เขต) carry their prefix in their name; the others' (อำเภอ) do not.
    named = place.name_th.startswith("เขต") and not (translation.get_language() or "th").startswith("en")
    heading = place.name if named else gettext("District %(name)s") % {"name": place.name}
    return render(
        request,
        "summaries/district.html",
        {
            "district": place,
            "heading": heading,
            "province": place.province,
            "fiscal_year": fiscal_year,
            "table": table,
            "crumbs": _crumbs(request, (place.province.name, province_url)),
            "province_url": province_url,
            "records_url": url_with("targets:list", {"province": code, "district": district}),
        },
    )


# --- run now and exports ---------------------------------------------------------------------------------------------


@require_POST
@login_required
def run(request):
    """EEF/IPSR admins: compute the summaries now (a Celery task, or at once without a broker)."""
    require(request.user, "summaries.run")
    since = timezone.now() - datetime.timedelta(minutes=RUN_AGAIN_AFTER_MINUTES)
    if SummaryRun.objects.filter(status=SummaryRun.Status.RUNNING, created_at__gte=since).exists():
        messages.info(request, gettext("A summary is already being computed. Reload this page in a minute."))
    else:
        request_summary(trigger=SummaryRun.Trigger.ON_DEMAND, user=request.user)
        messages.success(request, gettext("A new summary is being computed. Reload this page in a minute."))
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=False):
        target = ""
    return redirect(target or "summaries:national")


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
@reads_from_replica
def export(request, fmt: str):
    """?level=national|university|province&code=...: the figures the user may see, as a workbook
    (one sheet per level) or a PDF meeting pack with the charts, made by an export job (POST starts it; a GET
    offers it). &as_of=: the figures of that day (the last summary on or before it), as the dashboard shows them,
    labelled with it; a date that cannot be read is a 404 (the dashboard never links one). Outsiders get 404."""
    if fmt not in exports.FORMATS:
        raise Http404
    level = request.GET.get("level", Level.NATIONAL)
    code = request.GET.get("code", "")
    as_of, as_of_error = _as_of(request)
    if as_of_error:
        raise Http404
    params = {"level": level, "code": code, "fiscal_year": _fiscal_year(request, as_of)}
    if as_of:
        params["as_of"] = as_of.isoformat()
    # No summary yet: a message on the dashboard it came from.
    return export_jobs.ask(
        request, kind=export_kinds.KIND, file_format=fmt, params=params, refused_url=lambda: dashboard_url(level, code)
    )
