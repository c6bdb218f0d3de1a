"""The default agency types children are referred to (DOMAIN.md; issue 14's list of the agencies Thai
provinces work with). Only missing rows are created: admins may rename, retire or add types."""

from django.db import transaction

from .models import AgencyType

AGENCY_TYPES = [
    # code, Thai, English
    ("non-formal-education", "สำนักงานส่งเสริมการเรียนรู้ (สกร./กศน.)", "Non-formal education office (NFE)"),
    ("local-government", "องค์กรปกครองส่วนท้องถิ่น (อบต./เทศบาล)", "Local government"),
    ("social-development", "สำนักงานพัฒนาสังคมและความมั่นคงของมนุษย์จังหวัด (พมจ.)", "Provincial social development office"),
    ("school", "สถานศึกษา / เขตพื้นที่การศึกษา (สพป./สพม.)", "School or educational service area"),
    ("health", "โรงพยาบาลส่งเสริมสุขภาพตำบล (รพ.สต.)", "Sub-district health promotion hospital"),
    ("labour", "สำนักงานแรงงาน / พัฒนาฝีมือแรงงาน", "Labour and skill-development office"),
    ("other", "หน่วยงานอื่น", "Other agency"),
]


@transaction.atomic
def load_agency_types() -> int:
    """Create the default agency types that are missing; return how many were created."""
    have = set(AgencyType.objects.values_list("code", flat=True))
    new = [
        AgencyType(code=code, name_th=th, name_en=en, sort_order=i * 10)
        for i, (code, th, en) in enumerate(AGENCY_TYPES, start=1)
        if code not in have
    ]
    AgencyType.objects.bulk_create(new)
    return len(new)
