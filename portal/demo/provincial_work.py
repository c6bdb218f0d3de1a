"""Demo working groups and plans for the 12 demo provinces (`load_demo_data` calls this).

Members have role-style positions (the governor chairs, the provincial education office is
secretary, ...) and names made up from common Thai first and last names: they are nobody in
particular. Rows are marked is_demo; a rerun creates nothing, and a province that already has real
(non-demo) members or a plan for the year is left alone.
"""

import datetime

from django.db import transaction

from core.buddhist_dates import current_fiscal_year, fiscal_year_bounds
from portal.demo.provinces import DEMO_LEADS
from provinces.models import PlanGoal, Province, ProvincialPlan, WorkingGroupMember
from targets.models import Category, Outcome
from universities.models import SupportAssignment

MALE_FIRST = ("สมชาย", "สมศักดิ์", "วิชัย", "ประเสริฐ", "สุริยา", "อนุชา", "ธนากร", "กิตติพงษ์", "ณัฐพล", "วีระพงษ์", "ชัยวัฒน์")
FEMALE_FIRST = ("สมศรี", "มาลี", "วันเพ็ญ", "สุภาพร", "กาญจนา", "รัตนา", "พรทิพย์", "อรุณี", "นภาพร", "จันทร์เพ็ญ", "ศิริพร")
LAST = (
    "ใจดี", "ศรีสุข", "ทองดี", "แก้วมณี", "บุญมา", "สุขสวัสดิ์", "วงศ์ใหญ่", "พรหมมา", "มีสุข", "ชัยมงคล",
    "ศรีวงศ์", "อินทร์แก้ว", "จันทร์หอม", "สายบุญ", "ทองคำ", "รุ่งเรือง", "บุญเรือง",
)  # fmt: skip

# (position, organisation with {p} for the province's name, role in the group)
SEATS = (
    ("ผู้ว่าราชการจังหวัด{p}", "ศาลากลางจังหวัด{p}", WorkingGroupMember.GroupRole.CHAIR),
    ("ศึกษาธิการจังหวัด{p}", "สำนักงานศึกษาธิการจังหวัด{p}", WorkingGroupMember.GroupRole.SECRETARY),
    ("ผู้ประสานงานโครงการจังหวัด", "สำนักงานศึกษาธิการจังหวัด{p}", WorkingGroupMember.GroupRole.COORDINATOR),
    ("นายกองค์การบริหารส่วนจังหวัด{p}", "อบจ.{p}", WorkingGroupMember.GroupRole.MEMBER),
    ("ผู้อำนวยการสำนักงาน กศน. จังหวัด{p}", "สำนักงาน กศน. จังหวัด{p}", WorkingGroupMember.GroupRole.MEMBER),
    ("ผู้อำนวยการโรงเรียน", "โรงเรียนบ้านหนองบัว จังหวัด{p}", WorkingGroupMember.GroupRole.MEMBER),
    (
        "พัฒนาสังคมและความมั่นคงของมนุษย์จังหวัด{p}",
        "สำนักงานพัฒนาสังคมและความมั่นคงของมนุษย์จังหวัด{p}",
        WorkingGroupMember.GroupRole.MEMBER,
    ),
    ("ผู้อำนวยการสำนักงานเขตพื้นที่การศึกษาประถมศึกษา", "สพป.{p} เขต 1", WorkingGroupMember.GroupRole.MEMBER),
    ("ประธานสภาเด็กและเยาวชนจังหวัด{p}", "สภาเด็กและเยาวชนจังหวัด{p}", WorkingGroupMember.GroupRole.MEMBER),
)

# (category code, outcome code, base goal): scaled a little per province.
GOALS = (
    ("out-of-school", "returned-to-school", 120),
    ("out-of-school", "flexible-learning", 150),
    ("out-of-school", "vocational", 60),
    ("at-risk", "kept-in-school", 300),
    ("poor-student", "kept-in-school", 250),
    ("working-age-youth", "vocational", 80),
    ("disability", "referred", 30),
)

STRATEGY = (
    "จังหวัด{p}ขับเคลื่อนการจัดการศึกษาเชิงพื้นที่ผ่านคณะทำงานระดับจังหวัด โดยใช้ข้อมูลรายบุคคลจากหน่วยงานในพื้นที่ "
    "ค้นหาและช่วยเหลือเด็กและเยาวชนนอกระบบการศึกษาและกลุ่มเสี่ยงหลุดออกจากระบบ "
    "ประสานโรงเรียน กศน. อบจ. และภาคประชาสังคม ให้ทุกคนได้เรียนรู้ในรูปแบบที่เหมาะกับตน "
    "พร้อมเชื่อมโยงการฝึกอาชีพสำหรับเยาวชนวัยแรงงาน โดยมี{u}เป็นทีมหนุนเสริมด้านข้อมูลและวิชาการ"
)


def _name(code: int, seat: int) -> str:
    """A made-up name, the same for the same province and seat on every run."""
    index = code * 7 + seat * 5
    if (code + seat) % 2:
        return f"นาย{MALE_FIRST[index % len(MALE_FIRST)]} {LAST[(code + seat * 3) % len(LAST)]}"
    title = "นางสาว" if seat % 3 == 0 else "นาง"
    return f"{title}{FEMALE_FIRST[index % len(FEMALE_FIRST)]} {LAST[(code + seat * 3) % len(LAST)]}"


def _members_for(province: Province) -> list[WorkingGroupMember]:
    seats = 6 + province.pk % 4  # 6 to 9 members
    start = fiscal_year_bounds(2567)[0]
    return [
        WorkingGroupMember(
            province=province,
            name=_name(province.pk, seat),
            position=position.format(p=province.name_th),
            organisation=organisation.format(p=province.name_th),
            group_role=role,
            email=f"wg{province.pk}.{seat + 1}@demo.abe-portal.local",
            active_from=start + datetime.timedelta(days=seat * 14),
            is_demo=True,
        )
        for seat, (position, organisation, role) in enumerate(SEATS[:seats])
    ]


@transaction.atomic
def load_demo_provincial_work() -> dict:
    """Working groups and this fiscal year's plans for the demo provinces; returns what was created."""
    fiscal_year = current_fiscal_year()
    provinces = list(Province.objects.filter(pk__in=DEMO_LEADS))
    with_real_members = set(
        WorkingGroupMember.objects.filter(province__in=provinces, is_demo=False).values_list("province_id", flat=True)
    )
    existing = set(WorkingGroupMember.objects.filter(province__in=provinces).values_list("province_id", "name"))
    members = [
        member
        for province in provinces
        if province.pk not in with_real_members
        for member in _members_for(province)
        if (province.pk, member.name) not in existing
    ]
    WorkingGroupMember.objects.bulk_create(members)

    planned = set(ProvincialPlan.objects.filter(fiscal_year=fiscal_year).values_list("province_id", flat=True))
    leads = dict(
        SupportAssignment.objects.for_fiscal_year(fiscal_year)
        .leads()
        .filter(province__in=provinces)
        .values_list("province_id", "university__name_th")
    )
    plans = ProvincialPlan.objects.bulk_create(
        [
            ProvincialPlan(
                province=province,
                fiscal_year=fiscal_year,
                strategy=STRATEGY.format(p=province.name_th, u=leads.get(province.pk, "ทีมมหาวิทยาลัย")),
                is_demo=True,
            )
            for province in provinces
            if province.pk not in planned
        ]
    )
    # bulk_create does not return primary keys on every database: read the new plans back.
    new_plans = ProvincialPlan.objects.filter(fiscal_year=fiscal_year, province__in=[p.province_id for p in plans])
    categories = {c.code: c.pk for c in Category.objects.all()}
    # Goals are only ever achieved outcomes (an admin may have changed a default outcome's kind).
    outcomes = {o.code: o.pk for o in Outcome.objects.filter(kind=Outcome.Kind.ACHIEVED)}
    goals = [
        PlanGoal(
            plan=plan,
            category_id=categories[category],
            outcome_id=outcomes[outcome],
            target=base + (plan.province_id * 13) % 7 * 10,
        )
        for plan in new_plans
        for category, outcome, base in GOALS
        if category in categories and outcome in outcomes
    ]
    PlanGoal.objects.bulk_create(goals)
    return {"members": len(members), "plans": len(plans), "goals": len(goals)}
