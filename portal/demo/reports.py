"""Demo progress reports: two quarterly reports (demo_periods) for each of the 12 demo provinces, at
different stages so that every status, and a report sent back once, appears. Every date is possible
(issue 12), the texts are made up from the province's name, and every report is marked `is_demo`.

The steps are written here directly, following reports.services.TRANSITIONS, not through
`transition()`: most demo provinces have no account to act as, and loading demo data must not mail
anyone. A report's created_by is the province's demo coordinator where one exists, else the demo
admin or the first superuser.
"""

import datetime

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from core.buddhist_dates import fiscal_year_of
from core.periods import period_bounds
from portal.demo.provinces import DEMO_ADMIN_EMAIL, DEMO_LEADS, DEMO_USERS
from provinces.models import Province
from reports.models import ProgressReport, ReportEvent, Status, submission_opens
from reports.services import TRANSITIONS
from universities.models import University

# The steps each report has taken, by stage.
STEPS = {
    "draft": [],
    "sent_back": ["submit", "return"],
    "submitted": ["submit"],
    "reviewed": ["submit", "review"],
    "accepted": ["submit", "review", "accept"],
    "accepted_after_return": ["submit", "return", "submit", "review", "accept"],
}
# (older quarter's stage, recent quarter's stage), taken in turn by the provinces in DEMO_LEADS order.
PLANS = [
    ("accepted", "draft"),
    ("accepted", "submitted"),
    ("accepted_after_return", "reviewed"),
    ("reviewed", "sent_back"),
]
RETURN_COMMENTS = {
    "submitted": "ขอให้เพิ่มตัวเลขเด็กที่กลับเข้าสู่ระบบการศึกษาแยกตามอำเภอ และระบุหน่วยงานที่รับส่งต่อ",
    "reviewed": "ส่วนข้อเสนอแนะยังไม่ระบุว่าขอการสนับสนุนจากหน่วยงานใด กรุณาเพิ่มเติมก่อนรับรอง",
}
STEP_COMMENTS = {
    "review": "ทีมมหาวิทยาลัยตรวจทานแล้ว ข้อมูลสอดคล้องกับแผนจังหวัด",
    "accept": "รับรองรายงาน ขอบคุณคณะทำงานจังหวัด",
}


def _figures(code: int) -> dict[str, int]:
    """Made-up but consistent figures for a province (by its DOPA code)."""
    found = 140 + (code * 37) % 260
    returned = found * (18 + code % 9) // 100
    flexible = found * (12 + code % 7) // 100
    vocational = found * (8 + code % 5) // 100
    return {
        "found": found,
        "returned": returned,
        "flexible": flexible,
        "vocational": vocational,
        "referred": 5 + code % 11,
        "districts": 4 + code % 9,
        "schools": 12 + code % 17,
        "meetings": 2 + code % 3,
        "target": found + 60 + (code * 13) % 120,
    }


def demo_periods(today: datetime.date) -> tuple[tuple[int, str], tuple[int, str]]:
    """(older, recent): the two latest quarters, as (fiscal year, period), whose last month has begun by `today`."""
    quarters = [(year, q) for year in range(fiscal_year_of(today), fiscal_year_of(today) - 3, -1) for q in QUARTERS]
    open_ones = [(year, q) for year, q in quarters if submission_opens(year, q) <= today]
    return open_ones[1], open_ones[0]


QUARTERS = ("Q4", "Q3", "Q2", "Q1")  # latest first


def _sections(province: Province, university: University, older: bool, *, complete: bool) -> dict[str, str]:
    name, uni, f = province.name_th, university.name_th, _figures(province.code)
    if older:
        situation = (
            f"ไตรมาสนี้ จังหวัด{name}สำรวจและยืนยันตัวตนเด็กและเยาวชนนอกระบบการศึกษาได้ "
            f"{f['found']} คน จากเป้าหมายทั้งปี {f['target']} คน ใน {f['districts']} อำเภอ "
            "ส่วนใหญ่อายุ 15–18 ปี หลุดจากระบบในช่วงรอยต่อชั้นมัธยมศึกษาตอนต้นและตอนปลาย "
            "สาเหตุหลักคือปัญหาเศรษฐกิจของครอบครัวและการย้ายถิ่นตามผู้ปกครอง"
        )
        mechanisms = (
            f"คณะทำงานระดับจังหวัดประชุม {f['meetings']} ครั้ง โดยมีรองผู้ว่าราชการจังหวัดเป็นประธาน "
            "สำนักงานศึกษาธิการจังหวัดเป็นเลขานุการ ร่วมกับ สพป. สพม. สกร.จังหวัด องค์กรปกครองส่วนท้องถิ่น "
            f"และภาคประชาสังคม มี{uni}เป็นทีมหนุนเสริม มีมติให้ใช้ฐานข้อมูลกลางของจังหวัดในการติดตามรายบุคคล"
        )
        progress = (
            f"ส่งกลับเข้าสู่ระบบการศึกษาแล้ว {f['returned']} คน เข้าเรียนการศึกษาทางเลือกหรือ กศน. "
            f"{f['flexible']} คน เข้ารับการฝึกอาชีพ {f['vocational']} คน และส่งต่อหน่วยงานที่เกี่ยวข้อง "
            f"{f['referred']} ราย โรงเรียนนำร่อง {f['schools']} แห่งเริ่มใช้ระบบเฝ้าระวังเด็กกลุ่มเสี่ยงหลุดออกจากระบบ"
        )
        recommendations = (
            "ขอให้ กสศ. สนับสนุนทุนเสมอภาคสำหรับเด็กที่กลับเข้าเรียนกลางภาคเรียน "
            "และขอให้สถานศึกษาอาชีวะในจังหวัดเปิดหลักสูตรระยะสั้นที่ยืดหยุ่นสำหรับเยาวชนวัยแรงงาน"
        )
        lessons = (
            "การลงพื้นที่ร่วมกันระหว่างครู อาสาสมัครในชุมชน และเจ้าหน้าที่ท้องถิ่น ทำให้พบตัวเด็กได้เร็วขึ้น "
            "การมีผู้ประสานงานรายอำเภอช่วยลดความซ้ำซ้อนของข้อมูล"
        )
    else:
        situation = (
            f"ไตรมาสนี้ จังหวัด{name}ติดตามเด็กกลุ่มเป้าหมายต่อเนื่องจากไตรมาสก่อน "
            f"รวมที่ยืนยันตัวตนแล้ว {f['found'] + 35} คน พบเด็กย้ายออกนอกพื้นที่หรือไม่พบตัว {f['referred'] + 3} คน "
            "และพบกลุ่มเสี่ยงหลุดออกจากระบบเพิ่มขึ้นช่วงปิดภาคเรียน"
        )
        mechanisms = (
            f"คณะทำงานจังหวัดแต่งตั้งคณะทำงานระดับอำเภอครบทั้ง {f['districts']} อำเภอ "
            f"{uni}จัดเวทีแลกเปลี่ยนการใช้ข้อมูลรายบุคคลเพื่อวางแผนช่วยเหลือร่วมกับหน่วยงานในจังหวัด"
        )
        progress = (
            f"เด็กที่กลับเข้าสู่ระบบเรียนต่อเนื่องครบภาคเรียน {f['returned'] - 4} คน "
            f"ป้องกันการหลุดออกจากระบบของนักเรียนกลุ่มเสี่ยงได้ {f['schools'] * 3} คน "
            f"เยาวชนจบหลักสูตรฝึกอาชีพและมีรายได้ {f['vocational'] - 2} คน"
        )
        recommendations = (
            "ควรเชื่อมข้อมูลนักเรียนยากจนพิเศษกับข้อมูลเด็กนอกระบบของจังหวัด เพื่อให้โรงเรียนเห็นสัญญาณเสี่ยงก่อนเด็กหลุดออกจากระบบ"
        )
        lessons = "แผนช่วยเหลือรายบุคคลที่ครอบครัวมีส่วนร่วมตั้งแต่ต้นได้ผลดีกว่าการช่วยเหลือแบบเดียวกันทุกราย"
    texts = {
        "situation": situation,
        "mechanisms": mechanisms,
        "progress": progress,
        "recommendations": recommendations,
        "lessons_learned": lessons,
    }
    if not complete:  # a draft being written: the last two sections are still empty
        texts["recommendations"] = texts["lessons_learned"] = ""
    return texts


def _demo_actors() -> tuple[dict[str, User], User | None]:
    """The demo accounts by email, and the account to fall back on (demo admin, else a superuser)."""
    users = get_user_model().objects
    by_email = {u.email: u for u in users.filter(email__in=[row[0] for row in DEMO_USERS] + [DEMO_ADMIN_EMAIL])}
    fallback = by_email.get(DEMO_ADMIN_EMAIL) or users.filter(is_superuser=True, is_active=True).order_by("pk").first()
    return by_email, fallback


def _timeline(
    steps: list[str], *, fiscal_year: int, period: str, older: bool, index: int, now: datetime.datetime
) -> tuple[datetime.datetime, list[datetime.datetime]]:
    """When the report was created and when each of its steps was taken, all possible (issue 12).

    A draft is written from some days before its period's last month; it is submitted from the first day of
    that month (reports.services). The older quarter, long over, took its steps two days apart in office hours,
    its review and acceptance after the period ended. The recent one takes its steps between the opening of
    its last month and now, spread evenly however little time that is.
    """
    local = timezone.get_current_timezone()
    opens = submission_opens(fiscal_year, period)
    opens_at = datetime.datetime.combine(opens, datetime.time(9, 0), tzinfo=local)
    created = opens_at - datetime.timedelta(days=12 - index % 6, hours=-(index % 5))
    if older:
        _start, end = period_bounds(fiscal_year, period)
        after_end = datetime.datetime.combine(end, datetime.time(10, index * 4), tzinfo=local)
        when, times = opens_at + datetime.timedelta(days=index % 8, minutes=30 + index * 2), []
        for action in steps:
            if action in ("review", "accept"):  # read once the quarter is over
                when = max(when, after_end + datetime.timedelta(days=2))
            times.append(when)
            when += datetime.timedelta(days=2, minutes=50)
        return min(created, now), [min(t, now) for t in times]
    # The recent quarter: its steps in the time from its last month's opening (midnight) to now.
    start = max(datetime.datetime.combine(opens, datetime.time(0, 0), tzinfo=local), min(created, now))
    span = max(now - start, datetime.timedelta(0))
    times = [start + span * (k + 1 + index / 24) / (len(steps) + 2) for k in range(len(steps))]
    return min(created, now), times


@transaction.atomic
def load_demo_reports(*, now: datetime.datetime | None = None) -> int:
    """Create the demo reports that are missing (with their workflow steps); return how many were created.

    `now`: the moment the demo is loaded at (tests load it as of other days)."""
    by_email, fallback = _demo_actors()
    if fallback is None and not by_email:
        return 0  # nobody to have written them (no demo accounts, no superuser)
    fallback = fallback or next(iter(by_email.values()))
    coordinators = {
        province: by_email[email]
        for email, _f, _l, role, province, _u in DEMO_USERS
        if role == "province_coordinator" and email in by_email
    }
    university_teams = {uni: by_email.get(email) for email, _f, _l, _r, _p, uni in DEMO_USERS if uni}
    eef = by_email.get("eef@demo.abe-portal.local") or fallback

    now = now or timezone.now()
    older, recent = demo_periods(timezone.localtime(now).date())
    provinces = Province.objects.in_bulk(list(DEMO_LEADS))
    universities = {u.code: u for u in University.objects.filter(code__in=set(DEMO_LEADS.values()))}
    existing = set(
        ProgressReport.objects.filter(province__in=list(DEMO_LEADS)).values_list("province_id", "fiscal_year", "period")
    )
    created = 0
    for index, (code, uni_code) in enumerate(DEMO_LEADS.items()):
        coordinator = coordinators.get(code) or fallback
        reviewer = university_teams.get(uni_code) or fallback
        actors = {"submit": coordinator, "review": reviewer, "accept": eef}
        for (year, period), stage in zip((older, recent), PLANS[index % len(PLANS)], strict=True):
            if (code, year, period) in existing:
                continue
            steps = STEPS[stage]
            started, times = _timeline(
                steps, fiscal_year=year, period=period, older=(year, period) == older, index=index, now=now
            )
            report = ProgressReport.objects.create(
                province=provinces[code],
                fiscal_year=year,
                period=period,
                created_by=coordinator,
                is_demo=True,
                **_sections(provinces[code], universities[uni_code], (year, period) == older, complete=bool(steps)),
            )
            events: list[ReportEvent] = []
            event_times: list[datetime.datetime] = []
            status: str = Status.DRAFT
            for action, when in zip(steps, times, strict=True):
                _sources, target = TRANSITIONS[action]
                if action == "return":
                    actor = eef if status == Status.REVIEWED else reviewer
                    comment = RETURN_COMMENTS[status]
                else:
                    actor, comment = actors[action], STEP_COMMENTS.get(action, "")
                events.append(
                    ReportEvent(
                        report=report, action=action, from_status=status, to_status=target, actor=actor, comment=comment
                    )
                )
                event_times.append(when)
                status = target
            for event, when in zip(ReportEvent.objects.bulk_create(events), event_times, strict=True):
                event.created_at = when  # auto_now_add set "now" on insert
            ReportEvent.objects.bulk_update(events, ["created_at"])
            # One version per step, as the workflow's own writes would have left it (core.versioning).
            ProgressReport.objects.filter(pk=report.pk).update(
                status=status,
                created_at=started,
                updated_at=times[-1] if times else min(started + datetime.timedelta(days=1), now),
                version=1 + len(events),
            )
            created += 1
    return created
