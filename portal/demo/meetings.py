"""Demo meetings for `load_demo_data`: the national meeting of 30–31 March 2566 (../shared/seed/), and
regional and provincial meetings of the current fiscal year with action items in every state.

Attendees are made-up people (names drawn from portal.demo.provincial_work's lists, the same on every
run) of real kinds of organisation, so that the minutes' name column reads as it would. Every
meeting is marked `is_demo` and found again by its title, so a second run creates nothing (the
parts of a meeting are made with it).
"""

import datetime
from collections import Counter

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from core.buddhist_dates import current_fiscal_year, fiscal_year_bounds
from meetings.models import ActionItem, AgendaItem, Attendance, Kind, LessonLearned, Meeting, Presentation
from meetings.services import report_for
from portal.demo.provinces import DEMO_LEADS
from portal.demo.provincial_work import FEMALE_FIRST, LAST, MALE_FIRST
from provinces.models import Province
from universities.models import University

# --- the national meeting of ../shared/seed/meeting-news-2023-03.txt -------------------------------
SEED_TITLE = (
    "การประชุมชี้แจงแนวทางการดำเนินงาน โครงการพัฒนาระบบข้อมูล และกลไกเพื่อขับเคลื่อนการจัดการศึกษาเชิงพื้นที่ บนความร่วมมือของ 8 มหาวิทยาลัย"
)
SEED_STARTS_ON = datetime.date(2023, 3, 30)  # 30–31 มีนาคม 2566
SEED_ENDS_ON = datetime.date(2023, 3, 31)
SEED_VENUE = "โรงแรมอัศวิน แกรนด์ คอนเวนชั่น กรุงเทพฯ"
SEED_ALBUM = "https://www.facebook.com/media/set/?vanity=IPSRMAHIDOLUNIVERSITY&set=a.689647176292695"
SEED_DESCRIPTION = (
    "สถาบันวิจัยประชากรและสังคม มหาวิทยาลัยมหิดล และกองทุนเพื่อความเสมอภาคทางการศึกษา (กสศ.) จัดการประชุมชี้แจง"
    "แนวทางการดำเนินงาน โครงการพัฒนาระบบข้อมูล และกลไกเพื่อขับเคลื่อนการจัดการศึกษาเชิงพื้นที่ ร่วมกับคณะทำงาน"
    "ทีมส่งยิ้มภูมิภาคของ 8 มหาวิทยาลัย เพื่อรับฟังและแลกเปลี่ยนประสบการณ์การทำงานที่ผ่านมา"
)
IPSR = "สถาบันวิจัยประชากรและสังคม มหาวิทยาลัยมหิดล"
EEF = "กองทุนเพื่อความเสมอภาคทางการศึกษา (กสศ.)"
PROJECT_TEAM = f"คณะทำงานโครงการ {IPSR}"
SEED_AGENDA = [
    (
        "ชี้แจงวัตถุประสงค์การทำงานการจัดการศึกษาเชิงพื้นที่เพื่อลดความเหลื่อมล้ำ (ABE)",
        PROJECT_TEAM,
        "ชี้แจงวัตถุประสงค์ของโครงการให้คณะทำงานทีมส่งยิ้มภูมิภาครับทราบ เพื่อให้เกิดความเข้าใจบทบาทการดำเนินงาน "
        "และเข้าร่วมเป็นคณะทำงานโครงการพัฒนาระบบข้อมูล และกลไกเพื่อขับเคลื่อนการจัดการศึกษาเชิงพื้นที่ "
        "ให้ดำเนินงานได้อย่างมีประสิทธิภาพและประสิทธิผล",
        "",
    ),
    (
        "บทบาทของทีมส่งยิ้มภูมิภาค 4 ประเด็น",
        PROJECT_TEAM,
        "1. การประสานงานและสื่อสารการทำงานไปยังคณะทำงานระดับจังหวัดอย่างมีประสิทธิผล\n"
        "2. การหนุนเสริม และรับโจทย์ด้านการพัฒนาศักยภาพด้านต่าง ๆ เพื่อสนับสนุนการทำงานของจังหวัด\n"
        "3. การสนับสนุนกระบวนการทำงานด้านการออกแบบ การใช้ และการวิเคราะห์ข้อมูลสารสนเทศเพื่อการวางแผน\n"
        "4. การสนับสนุนทางวิชาการร่วมกับ กสศ. เพื่อหนุนเสริมกลไกของจังหวัดให้ช่วยเหลือกลุ่มเป้าหมายตามแผนของจังหวัด",
        "ทีมส่งยิ้มภูมิภาคดำเนินงานและบันทึกกิจกรรมการหนุนเสริมจังหวัดตามบทบาททั้ง 4 ประเด็น",
    ),
    (
        "นำเสนอและแลกเปลี่ยนประสบการณ์การทำงานที่ผ่านมาของทั้ง 12 จังหวัด",
        PROJECT_TEAM,
        "สถานการณ์ภาพรวมของแต่ละจังหวัด กลไกสำคัญในการขับเคลื่อนงานการจัดการศึกษาเชิงพื้นที่ "
        "ความก้าวหน้าของการดำเนินงาน และข้อเสนอแนะเกี่ยวกับแนวทางการทำงาน",
        "",
    ),
    (
        "ภาพรวมการสะท้อนการทำงานและข้อเรียนรู้ของการดำเนินงานที่ผ่านมา",
        PROJECT_TEAM,
        "ทบทวนการทำงานและข้อเรียนรู้ของการดำเนินงานที่ผ่านมา เพื่อเป็นประโยชน์ต่อการทำงานของแต่ละจังหวัด",
        "",
    ),
    (
        "แลกเปลี่ยนประสบการณ์ของทีมส่งยิ้ม และแนวทางการดำเนินงานโครงการศึกษากลไกการทำงานด้านการจัดการศึกษาเชิงพื้นที่ ปี 2566",
        "ทีมส่งยิ้มภูมิภาค 8 มหาวิทยาลัย",
        "แลกเปลี่ยนประสบการณ์ที่ผ่านมาของทีมส่งยิ้ม และแนวทางการขับเคลื่อนการจัดการศึกษาเชิงพื้นที่ (ABE) ปี 2566",
        "ทีมส่งยิ้มภูมิภาคจัดทำแผนการหนุนเสริมจังหวัดที่รับผิดชอบ ปี 2566 และส่งให้คณะทำงานโครงการ",
    ),
]
SEED_LESSONS = [
    (
        "การประสานงาน",
        None,
        "การประสานงานและสื่อสารกับคณะทำงานระดับจังหวัดอย่างสม่ำเสมอ ช่วยให้ทีมส่งยิ้มภูมิภาครับโจทย์ของจังหวัดได้ตรงความต้องการ",
    ),
    (
        "ข้อมูล",
        None,
        "จังหวัดต้องการการหนุนเสริมด้านการออกแบบ การใช้ และการวิเคราะห์ข้อมูลสารสนเทศ เพื่อวางแผนช่วยเหลือกลุ่มเป้าหมายได้ตรงตัว",
    ),
    ("กลไกจังหวัด", 40, "กลไกจังหวัดที่ผู้บริหารระดับจังหวัดเป็นประธาน ขับเคลื่อนงานได้ต่อเนื่องและหน่วยงานร่วมมือกันมากขึ้น"),
    ("การพัฒนาศักยภาพ", 56, "การพัฒนาศักยภาพคณะทำงานตามโจทย์ที่จังหวัดเสนอเอง ทำให้นำไปใช้ได้จริงมากกว่าการอบรมทั่วไป"),
    ("การส่งต่อ", 94, "การส่งต่อเด็กและเยาวชนระหว่างหน่วยงานต้องมีผู้รับผิดชอบชัดเจนในแต่ละขั้น จึงติดตามได้ไม่ตกหล่น"),
]
SEED_ACTIONS = [
    # what, owner university code, status, note
    ("รวบรวมข้อเสนอแนะของ 12 จังหวัด เสนอ กสศ.", "MU-IPSR", ActionItem.Status.DONE, "ส่งสรุปข้อเสนอแนะแล้ว"),
    ("จัดทำแผนการหนุนเสริมจังหวัดที่รับผิดชอบ ปี 2566", "KKU", ActionItem.Status.DONE, ""),
    (
        "จัดเวทีแลกเปลี่ยนระหว่างทีมส่งยิ้มภูมิภาคทุกไตรมาส",
        "MU-IPSR",
        ActionItem.Status.DROPPED,
        "รวมเข้ากับการประชุมประจำปีแทน",
    ),
]

# Partner organisations of a provincial working group, by role at its meetings ({province} is its name).
PROVINCIAL_ORGANISATIONS = [
    ("สำนักงานศึกษาธิการจังหวัด{province}", "ผู้แทนหน่วยงาน (เลขานุการคณะทำงาน)", Attendance.Role.ORGANISER),
    ("องค์การบริหารส่วนจังหวัด{province}", "ผู้แทนหน่วยงาน", Attendance.Role.PARTICIPANT),
    ("สำนักงานเขตพื้นที่การศึกษาประถมศึกษา{province} เขต 1", "ผู้แทนหน่วยงาน", Attendance.Role.PRESENTER),
    ("สำนักงานส่งเสริมการเรียนรู้ประจำจังหวัด{province}", "ผู้แทนหน่วยงาน", Attendance.Role.PARTICIPANT),
    ("สำนักงานพัฒนาสังคมและความมั่นคงของมนุษย์จังหวัด{province}", "ผู้แทนหน่วยงาน", Attendance.Role.PARTICIPANT),
]
DEMO_COORDINATOR_EMAIL = "khonkaen@demo.abe-portal.local"


def _made_up_name(seed: int) -> str:
    """A made-up Thai name with its title, the same for the same seed on every run."""
    last = LAST[(seed * 5 + 3) % len(LAST)]
    if seed % 2:
        return f"นาย{MALE_FIRST[seed * 7 % len(MALE_FIRST)]} {last}"
    title = "นางสาว" if seed % 3 == 0 else "นาง"
    return f"{title}{FEMALE_FIRST[seed * 7 % len(FEMALE_FIRST)]} {last}"


def _on(offset_days: int, today: datetime.date, fiscal_year: int) -> datetime.date:
    """`today + offset`, kept within the fiscal year so that the demo is of the current year."""
    start, end = fiscal_year_bounds(fiscal_year)
    return min(max(today + datetime.timedelta(days=offset_days), start), end)


class _Loader:
    def __init__(self):
        self.counts = Counter()
        self.today = timezone.localdate()
        self.fiscal_year = current_fiscal_year()
        self.universities = {u.code: u for u in University.objects.all()}
        self.provinces = {p.code: p for p in Province.objects.filter(code__in=DEMO_LEADS)}

    def meeting(self, *, title: str, provinces=(), universities=(), organiser_universities=(), **fields):
        meeting, created = Meeting.objects.get_or_create(title=title, is_demo=True, defaults=fields)
        if created:
            self.counts["meetings"] += 1
            meeting.provinces.set(provinces)
            meeting.universities.set(universities)
            meeting.organiser_universities.set(organiser_universities)
        return meeting, created

    def agenda(self, meeting, items) -> None:
        AgendaItem.objects.bulk_create(
            AgendaItem(meeting=meeting, order=i, title=t, presenter=p, minutes=m, decisions=d)
            for i, (t, p, m, d) in enumerate(items, start=1)
        )
        self.counts["agenda_items"] += len(items)

    def attendance(self, meeting, rows) -> None:
        seed = self.counts["attendance"] + len(meeting.title)
        Attendance.objects.bulk_create(
            Attendance(meeting=meeting, name=_made_up_name(seed + i), organisation=org, position=position, role=role)
            for i, (org, position, role) in enumerate(rows)
        )
        self.counts["attendance"] += len(rows)

    def presentations(self, meeting, province_codes, presenter: str) -> None:
        for order, code in enumerate(province_codes, start=1):
            Presentation.objects.create(
                meeting=meeting,
                province_id=code,
                presenter=presenter.format(province=self.provinces[code].name_th),
                order=order,
                report=report_for(meeting=meeting, province_id=code),
            )
        self.counts["presentations"] += len(province_codes)

    def lessons(self, meeting, rows) -> None:
        LessonLearned.objects.bulk_create(
            LessonLearned(meeting=meeting, theme=theme, province_id=province, text=text)
            for theme, province, text in rows
        )
        self.counts["lessons"] += len(rows)

    def actions(self, meeting, rows) -> None:
        ActionItem.objects.bulk_create(ActionItem(meeting=meeting, **row) for row in rows)
        self.counts["action_items"] += len(rows)

    def link_reports(self) -> None:
        """Presentations made before the reports existed get the report of their period now."""
        for presentation in Presentation.objects.filter(meeting__is_demo=True, report__isnull=True).select_related(
            "meeting"
        ):
            report = report_for(meeting=presentation.meeting, province_id=presentation.province_id)
            if report is not None:
                presentation.report = report
                presentation.save(update_fields=["report"])
                self.counts["presentations_linked"] += 1

    # --- the meetings ----------------------------------------------------------------------------
    def seed_meeting(self) -> None:
        meeting, created = self.meeting(
            title=SEED_TITLE,
            kind=Kind.NATIONAL,
            starts_on=SEED_STARTS_ON,
            ends_on=SEED_ENDS_ON,
            start_time=datetime.time(8, 30),
            end_time=datetime.time(16, 30),
            venue=SEED_VENUE,
            description=SEED_DESCRIPTION,
            status=Meeting.Status.HELD,
            album_url=SEED_ALBUM,
            organised_by_eef=True,
            organised_by_ipsr=True,  # IPSR once: the flag, not also MU-IPSR among the organising universities
            provinces=list(DEMO_LEADS),
            universities=list(self.universities.values()),
        )
        if not created:
            return
        self.agenda(meeting, SEED_AGENDA)
        self.attendance(
            meeting,
            [
                (IPSR, "ผู้จัดการประชุม", Attendance.Role.ORGANISER),
                (EEF, "ผู้จัดการประชุม", Attendance.Role.ORGANISER),
                (PROJECT_TEAM, "คณะทำงานโครงการ", Attendance.Role.PRESENTER),
                *(
                    (f"ทีมส่งยิ้มภูมิภาค {u.name_th}", "คณะทำงานทีมส่งยิ้มภูมิภาค", Attendance.Role.PARTICIPANT)
                    for u in sorted(self.universities.values(), key=lambda u: u.code)
                ),
            ],
        )
        self.presentations(meeting, list(DEMO_LEADS), PROJECT_TEAM)
        self.lessons(meeting, SEED_LESSONS)
        self.actions(
            meeting,
            [
                {
                    "what": what,
                    "owner_university": self.universities[code],
                    "due_date": datetime.date(2023, 6, 30),
                    "status": status,
                    "note": note,
                }
                for what, code, status, note in SEED_ACTIONS
            ],
        )

    def regional_meetings(self) -> None:
        fy = self.fiscal_year
        for index, code in enumerate(sorted(self.universities)):
            university = self.universities[code]
            provinces = [p for p, lead in DEMO_LEADS.items() if lead == code]
            if not provinces:
                continue
            # Spread around today: the first ones (KKU's among them) held, the last ones ahead.
            day = _on(-45 + index * 12, self.today, fy)
            meeting, created = self.meeting(
                title=f"ประชุมทีมส่งยิ้มภูมิภาค {university.name_th} กับคณะทำงานจังหวัด ครั้งที่ 1/{fy}",
                kind=Kind.REGIONAL,
                starts_on=day,
                ends_on=day,
                start_time=datetime.time(9, 0),
                end_time=datetime.time(12, 0),
                venue=university.name_th,
                online_link=f"https://meet.example.org/abe-{code.lower()}-{fy}",
                status=Meeting.Status.HELD if day < self.today else Meeting.Status.PLANNED,
                description=f"ทีมส่งยิ้มภูมิภาค {university.name_th} ติดตามความก้าวหน้าและรับโจทย์จากจังหวัดที่หนุนเสริม",
                provinces=provinces,
                universities=[university],
                organiser_universities=[university],
            )
            if not created:
                continue
            names = [self.provinces[p].name_th for p in provinces]
            self.agenda(
                meeting,
                [
                    ("ความก้าวหน้าการดำเนินงานของจังหวัด", "คณะทำงานระดับจังหวัด", "จังหวัดนำเสนอความก้าวหน้าตามแผนจังหวัด", ""),
                    ("การใช้ข้อมูลเพื่อวางแผนช่วยเหลือกลุ่มเป้าหมาย", f"ทีมส่งยิ้มภูมิภาค {university.name_th}", "", ""),
                    ("โจทย์การพัฒนาศักยภาพของจังหวัด", "", "", "จังหวัดส่งคำขอพัฒนาศักยภาพผ่านระบบ"),
                ],
            )
            self.attendance(
                meeting,
                [
                    (f"ทีมส่งยิ้มภูมิภาค {university.name_th}", "คณะทำงานทีมส่งยิ้มภูมิภาค", Attendance.Role.ORGANISER),
                    *((f"คณะทำงานระดับจังหวัด{n}", "ผู้ประสานงานจังหวัด", Attendance.Role.PRESENTER) for n in names),
                ],
            )
            self.presentations(meeting, provinces, "ผู้ประสานงานจังหวัด{province}")
            if meeting.status != Meeting.Status.HELD:
                continue  # lessons and action items come out of a meeting once it was held
            self.lessons(
                meeting,
                [("ข้อมูล", provinces[0], "การทบทวนรายชื่อกลุ่มเป้าหมายร่วมกันทุกไตรมาสช่วยลดรายชื่อซ้ำและตกหล่น")],
            )
            items = [
                {
                    "what": f"ส่งรายชื่อกลุ่มเป้าหมายที่ปรับปรุงแล้วของจังหวัด{names[0]}",
                    "owner_province_id": provinces[0],
                    "due_date": self.today - datetime.timedelta(days=5),
                },
                {
                    "what": "สรุปโจทย์การพัฒนาศักยภาพของจังหวัดที่หนุนเสริม",
                    "owner_university": university,
                    "due_date": self.today + datetime.timedelta(days=30),
                },
            ]
            if code == "KKU":
                items += [
                    {
                        "what": "จัดอบรมการวิเคราะห์ข้อมูลสำหรับคณะทำงานจังหวัด",
                        "owner_university": university,
                        "due_date": self.today - datetime.timedelta(days=10),
                        "status": ActionItem.Status.DONE,
                        "note": "จัดอบรมแล้ว มีผู้เข้าร่วมจากทุกจังหวัด",
                    },
                    {
                        "what": "สำรวจความต้องการอุปกรณ์ของศูนย์การเรียนรู้ชุมชน",
                        "owner_province_id": provinces[-1],
                        "due_date": self.today + datetime.timedelta(days=15),
                        "status": ActionItem.Status.DROPPED,
                        "note": "หน่วยงานในพื้นที่สำรวจไว้แล้ว ใช้ข้อมูลเดิม",
                    },
                ]
            self.actions(meeting, items)

    def provincial_meetings(self) -> None:
        fy = self.fiscal_year
        coordinator = get_user_model().objects.filter(email=DEMO_COORDINATOR_EMAIL).first()
        plans = [
            # province, number, offset from today (days), lead university
            (40, 1, -35),
            (40, 2, 14),
            (56, 1, -20),
            (94, 1, 21),
        ]
        for code, number, offset in plans:
            province = self.provinces[code]
            university = self.universities[DEMO_LEADS[code]]
            day = _on(offset, self.today, fy)
            held = day < self.today
            meeting, created = self.meeting(
                title=f"ประชุมคณะทำงานระดับจังหวัด{province.name_th} ครั้งที่ {number}/{fy}",
                kind=Kind.PROVINCIAL,
                starts_on=day,
                ends_on=day,
                **({} if code == 94 else {"start_time": datetime.time(13, 30), "end_time": datetime.time(16, 30)}),
                venue=f"ศาลากลางจังหวัด{province.name_th}",
                status=Meeting.Status.HELD if held else Meeting.Status.PLANNED,
                description=f"การประชุมคณะทำงานระดับจังหวัด{province.name_th} ติดตามการช่วยเหลือกลุ่มเป้าหมายตามแผนจังหวัด",
                provinces=[code],
                universities=[university],
            )
            if not created:
                continue
            meeting.organiser_provinces.set([code])
            self.agenda(
                meeting,
                [
                    ("เรื่องแจ้งเพื่อทราบ", "ประธานคณะทำงาน", "", ""),
                    ("ความก้าวหน้าการดำเนินงานตามแผนจังหวัด", "ผู้ประสานงานจังหวัด", "", ""),
                    ("การส่งต่อกลุ่มเป้าหมายระหว่างหน่วยงาน", "", "", ""),
                ],
            )
            self.attendance(
                meeting,
                [
                    *(
                        (org.format(province=province.name_th), pos, role)
                        for org, pos, role in PROVINCIAL_ORGANISATIONS
                    ),
                    (f"ทีมส่งยิ้มภูมิภาค {university.name_th}", "คณะทำงานทีมส่งยิ้มภูมิภาค", Attendance.Role.PARTICIPANT),
                ],
            )
            if not held:
                continue
            self.lessons(
                meeting,
                [("การส่งต่อ", code, "การประชุมร่วมกันทุกเดือนทำให้หน่วยงานรับส่งต่อเด็กได้เร็วขึ้น")],
            )
            items = [
                {
                    "what": "ติดตามเด็กนอกระบบการศึกษาที่ยังไม่พบตัว",
                    "owner_province_id": code,
                    "due_date": self.today - datetime.timedelta(days=3),
                },
                {
                    "what": "ประสานโรงเรียนรับเด็กกลับเข้าเรียนภาคเรียนหน้า",
                    "owner_province_id": code,
                    "due_date": self.today + datetime.timedelta(days=45),
                },
                {
                    "what": "สรุปผลการส่งต่อเด็กให้ กศน.",
                    "owner_province_id": code,
                    "due_date": self.today - datetime.timedelta(days=12),
                    "status": ActionItem.Status.DONE,
                    "note": "ส่งสรุปแล้ว",
                },
                {
                    "what": "จัดทำแบบสำรวจใหม่",
                    "owner_university": university,
                    "due_date": self.today - datetime.timedelta(days=1),
                    "status": ActionItem.Status.DROPPED,
                    "note": "ใช้แบบสำรวจกลางของโครงการแทน",
                },
            ]
            if coordinator is not None and code == 40:
                items.append(
                    {
                        "what": "ส่งรายงานความก้าวหน้าไตรมาสนี้ให้ทีมส่งยิ้มภูมิภาค",
                        "owner_user": coordinator,
                        "due_date": self.today - datetime.timedelta(days=2),
                    }
                )
            self.actions(meeting, items)


@transaction.atomic
def load_demo_meetings() -> dict:
    """Create the demo meetings that are missing; return how many rows of each kind were created."""
    loader = _Loader()
    loader.seed_meeting()
    loader.regional_meetings()
    loader.provincial_meetings()
    loader.link_reports()
    return dict(loader.counts)
