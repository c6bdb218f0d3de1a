"""Demo support work for `manage.py load_demo_data`: activities under the four roles and capacity
requests in every state, for the 12 demo provinces, marked as demo.

Everything goes through the rules of universities/services.py (an activity only where its
university supports the province in that fiscal year; a request to the province's lead university;
each state reached by the workflow's own steps). The demo has no users to act as, so it calls the
services' user-free steps and leaves `created_by` and `requested_by` empty. Idempotent: a second
run creates nothing.
"""

import datetime

from django.db import transaction
from django.utils import timezone

from core.buddhist_dates import current_fiscal_year, fiscal_year_bounds
from portal.demo.provinces import DEMO_LEADS
from provinces.models import Province
from universities import services
from universities.models import CapacityRequest, SupportActivity, SupportAssignment, SupportRole, University

# Two activities per role and fiscal year in each province: (title, description, participants).
ACTIVITIES = {
    SupportRole.COORDINATION: [
        ("ประชุมคณะทำงานระดับจังหวัด", "ร่วมประชุมคณะทำงานระดับจังหวัดเพื่อติดตามความก้าวหน้าและวางแผนไตรมาสถัดไป", 25),
        ("ประสานหน่วยงานภาคีในพื้นที่", "ประสานสำนักงานเขตพื้นที่การศึกษา กศน. และองค์กรปกครองส่วนท้องถิ่น", 12),
    ],
    SupportRole.CAPACITY: [
        ("อบรมการติดตามเด็กนอกระบบการศึกษา", "อบรมทีมอาสาสมัครเรื่องการค้นหาและติดตามเด็กนอกระบบ", 40),
        ("เวทีแลกเปลี่ยนเรียนรู้ผู้ประสานงานอำเภอ", "เวทีแลกเปลี่ยนเรียนรู้ระหว่างผู้ประสานงานระดับอำเภอ", 30),
    ],
    SupportRole.DATA: [
        ("วิเคราะห์ข้อมูลกลุ่มเป้าหมายรายอำเภอ", "จัดทำตารางสรุปกลุ่มเป้าหมายรายอำเภอเพื่อใช้วางแผน", 8),
        ("ออกแบบแบบเก็บข้อมูลการส่งต่อ", "ออกแบบแบบฟอร์มเก็บข้อมูลการส่งต่อระหว่างหน่วยงาน", 10),
    ],
    SupportRole.ACADEMIC: [
        ("ให้ข้อเสนอแนะแผนจังหวัด", "ทบทวนแผนจังหวัดร่วมกับ กสศ. และให้ข้อเสนอแนะเชิงวิชาการ", 15),
        ("ถอดบทเรียนกลไกจังหวัด", "ถอดบทเรียนการทำงานของกลไกจังหวัดเพื่อเผยแพร่", 20),
    ],
}

# Capacity requests: (topic, need, participants), and the states they are brought to.
REQUEST_TOPICS = [
    ("การใช้ข้อมูลเพื่อวางแผนช่วยเหลือเด็ก", "ทีมจังหวัดต้องการเรียนรู้การใช้ข้อมูลกลุ่มเป้าหมายในการวางแผน", 30),
    ("การจัดการศึกษาทางเลือก", "ต้องการแนวทางจัดการศึกษาทางเลือกสำหรับเยาวชนนอกระบบ", 25),
    ("การเขียนรายงานความก้าวหน้า", "ผู้ประสานงานอำเภอต้องการฝึกเขียนรายงานความก้าวหน้าให้ครบห้าหัวข้อ", 20),
    ("การส่งต่อเด็กระหว่างหน่วยงาน", "ต้องการออกแบบระบบส่งต่อเด็กระหว่างโรงเรียน กศน. และ อปท.", 35),
    ("การฝึกอาชีพสำหรับเยาวชน", "ต้องการหลักสูตรฝึกอาชีพระยะสั้นสำหรับเยาวชนวัยแรงงาน", 40),
    ("การระดมทุนในพื้นที่", "ต้องการเรียนรู้การระดมทรัพยากรจากภาคเอกชนในจังหวัด", 15),
    ("การติดตามเด็กกลุ่มเสี่ยง", "ต้องการเครื่องมือติดตามนักเรียนกลุ่มเสี่ยงหลุดออกจากระบบ", 45),
]
SCENARIOS = ("open", "accepted", "scheduled", "delivered", "closed", "declined", "overdue")
DECLINE_REASON = "ช่วงเวลาที่ขอตรงกับการลงพื้นที่เก็บข้อมูล ขอให้ยื่นคำขอใหม่ในไตรมาสถัดไป"
FEEDBACK = "วิทยากรอธิบายชัดเจน ผู้เข้าร่วมนำไปใช้ได้จริง"


def _lead_years(province: int) -> list[tuple[int, int]]:
    """(fiscal year, lead university id) for this year and the latest earlier year with a lead."""
    leads = SupportAssignment.objects.leads().filter(province_id=province, fiscal_year__lte=current_fiscal_year())
    return list(leads.order_by("-fiscal_year").values_list("fiscal_year", "university_id")[:2])


def _activity_dates(fiscal_year: int, seed: int, count: int) -> list[datetime.date]:
    """Spread dates over the fiscal year up to today (an activity is recorded once it took place)."""
    start, end = fiscal_year_bounds(fiscal_year)
    end = min(end, timezone.localdate())
    span = max((end - start).days, 0)
    return [start + datetime.timedelta(days=(seed * 37 + i * span // count + 5) % (span + 1)) for i in range(count)]


def _load_activities(provinces: dict[int, Province]) -> int:
    existing = set(
        SupportActivity.objects.filter(is_demo=True).values_list("university_id", "province_id", "date", "title")
    )
    universities = University.objects.in_bulk()
    created = 0
    for code, province in provinces.items():
        for fiscal_year, university_id in _lead_years(code):
            for role, rows in ACTIVITIES.items():
                dates = _activity_dates(fiscal_year, code + role, len(rows))
                for (title, description, participants), date in zip(rows, dates, strict=True):
                    if (university_id, code, date, title) in existing:
                        continue
                    services._create_activity(
                        university=universities[university_id],
                        province=province,
                        role=role,
                        date=date,
                        title=title,
                        description=description,
                        participants=participants,
                        is_demo=True,
                    )
                    created += 1
    return created


def _load_requests(provinces: dict[int, Province]) -> int:
    today = timezone.localdate()
    year_start = fiscal_year_bounds(current_fiscal_year())[0]
    existing = set(CapacityRequest.objects.filter(is_demo=True).values_list("province_id", "topic"))
    created = 0
    for index, (code, province) in enumerate(provinces.items()):
        if services.lead_university(province) is None:
            continue  # not in the programme this year: nobody to ask
        for slot in range(2):
            number = index * 2 + slot
            scenario = SCENARIOS[number % len(SCENARIOS)]
            topic, need, participants = REQUEST_TOPICS[number % len(REQUEST_TOPICS)]
            if (code, topic) in existing:
                continue
            request_obj = _create_in_state(
                scenario, province, topic, need, participants, today=today, year_start=year_start, seed=number
            )
            _filed_before_it_was_needed(request_obj, seed=number)
            created += 1
    return created


def _filed_before_it_was_needed(request_obj: CapacityRequest, *, seed: int) -> None:
    """A request is filed some weeks before the date it asks for, and before it was delivered (issue 12:
    nothing recorded before it happened): created_at goes back from "now" accordingly, never ahead of it."""
    local = timezone.get_current_timezone()
    filed_on = request_obj.desired_date - datetime.timedelta(days=21 + seed % 10)
    if request_obj.delivered_activity_id:
        delivered = SupportActivity.objects.only("date").get(pk=request_obj.delivered_activity_id).date
        filed_on = min(filed_on, delivered - datetime.timedelta(days=10 + seed % 5))
    filed = datetime.datetime.combine(filed_on, datetime.time(10, seed % 60), tzinfo=local)
    now = timezone.now()
    CapacityRequest.objects.filter(pk=request_obj.pk).update(created_at=min(filed, now))


def _create_in_state(scenario, province, topic, need, participants, *, today, year_start, seed) -> CapacityRequest:
    """File a request and walk it, step by step, to the scenario's state."""
    days = datetime.timedelta(days=1)
    desired = {
        "open": today + (20 + seed) * days,
        "accepted": today + (40 + seed) * days,
        "scheduled": today + (25 + seed) * days,
        "delivered": today - (5 + seed % 5) * days,
        "closed": today - (15 + seed % 5) * days,
        "declined": today + (10 + seed) * days,
        "overdue": today - (7 + seed % 5) * days,
    }[scenario]
    request_obj = services._create_request(
        province=province, topic=topic, need=need, desired_date=desired, participants=participants, is_demo=True
    )
    if scenario == "open":
        return request_obj
    if scenario == "declined":
        return services._decline(request_obj, DECLINE_REASON)
    services._accept(request_obj)
    if scenario in {"accepted", "overdue"}:
        return request_obj
    if scenario == "scheduled":
        return services._schedule(request_obj, desired - 2 * days)
    # Delivered within this fiscal year (the lead of this year delivers), and not after today.
    delivered_on = max(min(desired - 2 * days, today), year_start)
    services._deliver(request_obj, date=delivered_on, participants=participants - 3, is_demo=True)
    if scenario == "closed":
        services._close(request_obj)
    return services._rate(request_obj, 5 if scenario == "closed" else 4, FEEDBACK)


@transaction.atomic
def load_demo_support() -> dict:
    """Create the demo activities and capacity requests that are missing; return how many were created."""
    provinces = Province.objects.in_bulk(list(DEMO_LEADS))
    provinces = {code: provinces[code] for code in DEMO_LEADS if code in provinces}
    return {"support_activities": _load_activities(provinces), "capacity_requests": _load_requests(provinces)}
