"""The eight universities whose teams support the provinces (ทีมส่งยิ้มภูมิภาค)."""

from django.db import transaction

from provinces.reference_data import SyncResult, sync_rows

from .models import University

# (short code, Thai name, English name, coordinating team)
UNIVERSITIES = [
    ("KKU", "มหาวิทยาลัยขอนแก่น", "Khon Kaen University", False),
    ("UP", "มหาวิทยาลัยพะเยา", "University of Phayao", False),
    ("KU", "มหาวิทยาลัยเกษตรศาสตร์", "Kasetsart University", False),
    ("RMUTTO", "มหาวิทยาลัยเทคโนโลยีราชมงคลตะวันออก", "Rajamangala University of Technology Tawan-ok", False),
    ("TSU", "มหาวิทยาลัยทักษิณ", "Thaksin University", False),
    ("PSU", "มหาวิทยาลัยสงขลานครินทร์", "Prince of Songkla University", False),
    (
        "MU-IPSR",
        "มหาวิทยาลัยมหิดล (สถาบันวิจัยประชากรและสังคม)",
        "Mahidol University (Institute for Population and Social Research)",
        True,
    ),
    ("NU", "มหาวิทยาลัยนเรศวร", "Naresuan University", False),
]


def load_universities() -> SyncResult:
    rows = [
        University(code=code, name_th=name_th, name_en=name_en, is_coordinating=coordinating)
        for code, name_th, name_en, coordinating in UNIVERSITIES
    ]
    with transaction.atomic():
        return sync_rows(University, rows, key="code")
