"""The default categories, outcomes (statuses) and assistance types.

From ../shared/DOMAIN.md, "Target groups and their records".

Only missing rows are created: admins may rename or retire a default row, and a rerun keeps
their change.
"""

from django.db import transaction

from .models import AssistanceType, Category, Outcome

CATEGORIES = [
    # code, Thai, English
    ("out-of-school", "เด็กและเยาวชนนอกระบบการศึกษา", "Out of school"),
    ("at-risk", "กลุ่มเสี่ยงหลุดออกจากระบบ", "At risk of dropping out"),
    ("poor-student", "นักเรียนยากจน/ยากจนพิเศษ", "Poor or extremely poor student"),
    ("early-childhood", "เด็กปฐมวัย", "Early childhood"),
    ("disability", "เด็กพิการ", "With disability"),
    ("working-age-youth", "เยาวชนวัยแรงงาน", "Working-age youth"),
]

ACHIEVED = Outcome.Kind.ACHIEVED
IN_PROGRESS = Outcome.Kind.IN_PROGRESS
EXITED = Outcome.Kind.EXITED
RETURNED = Outcome.Group.RETURNED_TO_LEARNING
KEPT = Outcome.Group.KEPT_IN_SCHOOL
NO_GROUP = Outcome.Group.OTHER

OUTCOMES = [
    # code, Thai, English, kind, headline group (targets/migrations/0006 sets the same on older rows)
    ("in-follow-up", "อยู่ระหว่างติดตาม", "Being followed up", IN_PROGRESS, NO_GROUP),
    ("returned-to-school", "กลับเข้าสู่ระบบการศึกษา", "Returned to school", ACHIEVED, RETURNED),
    ("flexible-learning", "การศึกษาทางเลือก/กศน.", "In flexible or non-formal learning", ACHIEVED, RETURNED),
    ("vocational", "ฝึกอาชีพ", "Vocational skills or Learn-to-Earn", ACHIEVED, RETURNED),
    ("kept-in-school", "ป้องกันการหลุด", "Kept in school", ACHIEVED, KEPT),
    # A referral is what a plan aims at for some groups (children with disability): a result, in no headline.
    ("referred", "ส่งต่อหน่วยงาน", "Referred to another agency", ACHIEVED, NO_GROUP),
    ("not-found", "ไม่พบตัว/ย้ายออก", "Not found or moved away", EXITED, NO_GROUP),
]


ASSISTANCE_TYPES = [
    # code, Thai, English
    ("scholarship", "ทุนการศึกษา", "Scholarship or grant"),
    ("learning-support", "สนับสนุนการเรียน", "Learning support"),
    ("equipment", "อุปกรณ์การเรียนและเครื่องแบบ", "Learning materials and uniform"),
    ("travel", "ค่าเดินทาง", "Travel costs"),
    ("home-visit", "เยี่ยมบ้าน", "Home visit"),
    ("counselling", "ให้คำปรึกษา", "Counselling"),
    ("vocational-training", "ฝึกอาชีพ", "Vocational training"),
    ("referral", "ส่งต่อหน่วยงาน", "Referral to another agency"),
]


@transaction.atomic
def load_target_reference_data() -> dict[str, int]:
    """Create the default rows that are missing; return how many of each were created."""
    have = set(Category.objects.values_list("code", flat=True))
    new_categories = [
        Category(code=code, name_th=th, name_en=en, sort_order=i * 10)
        for i, (code, th, en) in enumerate(CATEGORIES, start=1)
        if code not in have
    ]
    Category.objects.bulk_create(new_categories)
    have = set(Outcome.objects.values_list("code", flat=True))
    new_outcomes = [
        Outcome(code=code, name_th=th, name_en=en, kind=kind, group=group, sort_order=i * 10)
        for i, (code, th, en, kind, group) in enumerate(OUTCOMES, start=1)
        if code not in have
    ]
    Outcome.objects.bulk_create(new_outcomes)
    have = set(AssistanceType.objects.values_list("code", flat=True))
    new_types = [
        AssistanceType(code=code, name_th=th, name_en=en, sort_order=i * 10)
        for i, (code, th, en) in enumerate(ASSISTANCE_TYPES, start=1)
        if code not in have
    ]
    AssistanceType.objects.bulk_create(new_types)
    return {"categories": len(new_categories), "outcomes": len(new_outcomes), "assistance_types": len(new_types)}
