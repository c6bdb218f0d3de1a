"""The eight universities whose teams support the provinces (ทีมส่งยิ้มภูมิภาค)."""

from django.db import transaction

from provinces.reference_data import SyncResult, sync_rows

from .models import University

# (short code, Thai short name, Thai name, English name, coordinating team). The Thai short names are the
# universities' own abbreviations; IPSR's team is known by its university's (ม.มหิดล).
UNIVERSITIES = [
    ("KKU", "มข.", "มหาวิทยาลัยขอนแก่น", "Khon Kaen University", False),
    ("UP", "มพ.", "มหาวิทยาลัยพะเยา", "University of Phayao", False),
    ("KU", "มก.", "มหาวิทยาลัยเกษตรศาสตร์", "Kasetsart University", False),
    (
        "RMUTTO",
        "มทร.ตะวันออก",
        "มหาวิทยาลัยเทคโนโลยีราชมงคลตะวันออก",
        "Rajamangala University of Technology Tawan-ok",
        False,
    ),
    ("TSU", "มทษ.", "มหาวิทยาลัยทักษิณ", "Thaksin University", False),
    ("PSU", "ม.อ.", "มหาวิทยาลัยสงขลานครินทร์", "Prince of Songkla University", False),
    (
        "MU-IPSR",
        "ม.มหิดล",
        "มหาวิทยาลัยมหิดล (สถาบันวิจัยประชากรและสังคม)",
        "Mahidol University (Institute for Population and Social Research)",
        True,
    ),
    ("NU", "มน.", "มหาวิทยาลัยนเรศวร", "Naresuan University", False),
]


def load_universities() -> SyncResult:
    rows = [
        University(code=code, short_name_th=short, name_th=name_th, name_en=name_en, is_coordinating=coordinating)
        for code, short, name_th, name_en, coordinating in UNIVERSITIES
    ]
    with transaction.atomic():
        return sync_rows(University, rows, key="code")
