"""The demo data set for `manage.py load_demo_data`, marked as demo wherever it lands.

Which 12 provinces take part and which university supports each is not public; these picks are
made up for demonstration, near each university's campus.
"""

from django.contrib.auth import get_user_model
from django.db import transaction

from core.buddhist_dates import current_fiscal_year
from universities.models import SupportAssignment, University

# The fiscal years of the seed meeting (2566) and the next; the current year is added at load
# time so that a demo on any date shows a programme in progress.
DEMO_FISCAL_YEARS = (2566, 2567)

# province DOPA code -> lead university code
DEMO_LEADS = {
    40: "KKU",  # ขอนแก่น
    32: "KKU",  # สุรินทร์
    56: "UP",  # พะเยา
    52: "UP",  # ลำปาง
    71: "KU",  # กาญจนบุรี
    24: "RMUTTO",  # ฉะเชิงเทรา
    93: "TSU",  # พัทลุง
    94: "PSU",  # ปัตตานี
    95: "PSU",  # ยะลา
    73: "MU-IPSR",  # นครปฐม
    65: "NU",  # พิษณุโลก
    63: "NU",  # ตาก
}
# From FY 2567 on, the coordinating team also supports two provinces beside their lead university.
DEMO_SUPPORTING = {40: "MU-IPSR", 94: "MU-IPSR"}

DEMO_ADMIN_EMAIL = "admin@demo.abe-portal.local"
DEMO_ADMIN_PASSWORD = "demo-admin-2567"  # noqa: S105 - printed by `make run`; DEBUG only
# One demo account per role, to see the portal as each of them does (same password, DEBUG only).
DEMO_USERS = [
    # email, first name, last name, role, province, university
    ("eef@demo.abe-portal.local", "เจ้าหน้าที่", "กสศ.", "eef_admin", None, None),
    ("kku@demo.abe-portal.local", "ทีม", "มข.", "university_lead", None, "KKU"),
    ("khonkaen@demo.abe-portal.local", "ผู้ประสานงาน", "ขอนแก่น", "province_coordinator", 40, None),
    ("phayao@demo.abe-portal.local", "ผู้ประสานงาน", "พะเยา", "province_coordinator", 56, None),
    ("viewer@demo.abe-portal.local", "ผู้ดูข้อมูล", "ขอนแก่น", "province_viewer", 40, None),
]


def demo_fiscal_years() -> list[int]:
    return sorted({*DEMO_FISCAL_YEARS, current_fiscal_year()})


@transaction.atomic
def load_demo_assignments() -> int:
    """Create the demo assignments that are missing; return how many were created.

    A province that already has a lead for a year (entered by an admin) keeps it: the demo
    never overrides real data.
    """
    years = demo_fiscal_years()
    universities = {u.code: u.pk for u in University.objects.all()}
    wanted = []
    for year in years:
        wanted += [(universities[uni], province, year, True) for province, uni in DEMO_LEADS.items()]
        if year >= 2567:
            wanted += [(universities[uni], province, year, False) for province, uni in DEMO_SUPPORTING.items()]
    existing = SupportAssignment.objects.filter(fiscal_year__in=years)
    taken = set(existing.values_list("university_id", "province_id", "fiscal_year"))
    led = set(existing.leads().values_list("province_id", "fiscal_year"))
    new = [
        SupportAssignment(university_id=u, province_id=p, fiscal_year=y, is_lead=lead, is_demo=True)
        for u, p, y, lead in wanted
        if (u, p, y) not in taken and not (lead and (p, y) in led)
    ]
    SupportAssignment.objects.bulk_create(new)
    return len(new)


@transaction.atomic
def ensure_demo_users() -> list[str]:
    """Create the demo account of each role once; return their emails."""
    from accounts.models import Membership, Role

    user_model = get_user_model()
    universities = {u.code: u.pk for u in University.objects.all()}
    for email, first, last, role, province, university in DEMO_USERS:
        # The EEF admin manages users and roles in Django admin (README.md), which only staff may enter.
        staff = role == Role.EEF_ADMIN
        user, created = user_model.objects.get_or_create(
            email=email, defaults={"first_name": first, "last_name": last, "is_staff": staff}
        )
        if created:
            user.set_password(DEMO_ADMIN_PASSWORD)
            user.save(update_fields=["password"])
            Membership.objects.create(
                user=user,
                role=role,
                province_id=province,
                university_id=universities.get(university) if university else None,
            )
        elif staff and not user.is_staff:  # created by an earlier version, which left it out of admin
            user.is_staff = True
            user.save(update_fields=["is_staff"])
    return [row[0] for row in DEMO_USERS]


def ensure_demo_admin() -> str:
    """Create the demo superuser once; report whether it was created, kept, or has a new password."""
    user_model = get_user_model()
    user, created = user_model.objects.get_or_create(
        email=DEMO_ADMIN_EMAIL,
        defaults={"is_staff": True, "is_superuser": True, "first_name": "Demo", "last_name": "Admin"},
    )
    if created:
        user.set_password(DEMO_ADMIN_PASSWORD)
        user.save(update_fields=["password"])
        return "created"
    return "exists" if user.check_password(DEMO_ADMIN_PASSWORD) else "password changed"
