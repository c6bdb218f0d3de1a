"""Forms of the meeting pages. Choices come through the access door (visible_to / writable_by);
who may save what is decided again by meetings.services."""

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.access import can, own_provinces, own_universities
from core.buddhist_dates import current_fiscal_year
from core.date_input import ThaiDateField, ThaiDateInput
from core.stale_edits import VersionedFormMixin, model_facts
from provinces.models import Province
from reports.models import ProgressReport
from universities.models import University

from . import services
from .attachments import ACCEPT_ATTRIBUTE, validate_attachment
from .models import ActionItem, AgendaItem, Attendance, Kind, LessonLearned, Meeting, Presentation

DATE = ThaiDateInput()
# Meetings are recorded from the programme's first fiscal year (2565) on, and planned a few years ahead.
MEETING_DATE = ThaiDateField.with_range(earliest=2021, years_ahead=3)
# A clock, not a calendar: the browser's time input shows 24-hour times in Thai and needs no พ.ศ.
TIME = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
FIRST_FISCAL_YEAR = 2565


class ProvinceChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return obj.name


class ProvinceMultipleChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj) -> str:
        return obj.name


class UniversityMultipleChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj) -> str:
        return f"{obj.code} · {obj.name}"


class UniversityChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return f"{obj.code} · {obj.name}"


def fiscal_year_choices() -> list[tuple[str, str]]:
    return [(str(y), str(y)) for y in range(current_fiscal_year() + 1, FIRST_FISCAL_YEAR - 1, -1)]


# --- meetings ------------------------------------------------------------------------------------
class MeetingForm(VersionedFormMixin, forms.ModelForm):
    """A meeting; when editing, also the version it was opened at (core.stale_edits)."""

    provinces = ProvinceMultipleChoiceField(
        Province.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label=_("Provinces concerned"),
        help_text=_("A provincial or regional meeting is seen by the people of these provinces."),
    )
    universities = UniversityMultipleChoiceField(
        University.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label=_("University teams concerned"),
    )
    organiser_provinces = ProvinceMultipleChoiceField(
        Province.objects.none(), required=False, widget=forms.CheckboxSelectMultiple, label=_("Organising provinces")
    )
    organiser_universities = UniversityMultipleChoiceField(
        University.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label=_("Organising universities"),
    )

    class Meta:
        model = Meeting
        fields = [
            "title",
            "kind",
            "status",
            "starts_on",
            "ends_on",
            "start_time",
            "end_time",
            "venue",
            "online_link",
            "description",
            "organised_by_eef",
            "organised_by_ipsr",
            "organiser_universities",
            "organiser_provinces",
            "provinces",
            "universities",
            "album_url",
        ]
        widgets = {
            "starts_on": DATE,
            "ends_on": DATE,
            "start_time": TIME,
            "end_time": TIME,
            "description": forms.Textarea(attrs={"rows": 4}),
        }
        help_texts = {
            "start_time": _("Thailand time, on the first day. Leave both times empty for an all-day meeting."),
            "end_time": _("Thailand time, on the last day."),
        }
        field_classes = {"starts_on": MEETING_DATE, "ends_on": MEETING_DATE}

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        kinds = services.allowed_kinds(user)
        self.fields["kind"].choices = [(k, label) for k, label in Kind.choices if k in kinds]
        # The meeting's own provinces stay choosable even if the user no longer sees them, so that
        # saving the form never drops them silently.
        provinces = Q(pk__in=Province.objects.visible_to(user).values("pk"))
        universities = Q(pk__in=University.objects.visible_to(user).values("pk"))
        if self.instance.pk:
            provinces |= Q(pk__in=self.instance.provinces.values("pk"))
            provinces |= Q(pk__in=self.instance.organiser_provinces.values("pk"))
            universities |= Q(pk__in=self.instance.universities.values("pk"))
        province_qs = Province.objects.filter(provinces).order_by("name_th")
        university_qs = University.objects.filter(universities).order_by("code")
        for name in ("provinces", "organiser_provinces"):
            self.fields[name].queryset = province_qs
        for name in ("universities", "organiser_universities"):
            self.fields[name].queryset = university_qs
        # A new meeting starts as the organiser's own: their university team, or their province.
        if not self.instance.pk and not self.is_bound and not can(user, "portal.national"):
            own = sorted(own_universities(user))
            self.initial.setdefault("universities", own)
            self.initial.setdefault("organiser_universities", own)
            if not own:
                provinces = sorted(own_provinces(user, write=True))
                self.initial.setdefault("provinces", provinces)
                self.initial.setdefault("organiser_provinces", provinces)

    def clean(self):
        cleaned = super().clean()
        starts_on, ends_on = cleaned.get("starts_on"), cleaned.get("ends_on")
        if starts_on and ends_on and ends_on < starts_on:
            self.add_error("ends_on", _("The meeting ends before it starts."))
        start_time, end_time = cleaned.get("start_time"), cleaned.get("end_time")
        if (start_time is None) != (end_time is None) and not self.has_error("start_time"):
            if not self.has_error("end_time"):
                missing = "end_time" if end_time is None else "start_time"
                self.add_error(missing, _("Give both the start and the end time, or neither."))
        elif start_time and end_time and starts_on and starts_on == ends_on and end_time <= start_time:
            self.add_error("end_time", _("The meeting ends before it starts."))
        return cleaned

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        return {
            "fields": {name: data[name] for name in services.MEETING_FIELDS if name in data},
            "provinces": data["provinces"],
            "universities": data["universities"],
            "organiser_provinces": data["organiser_provinces"],
            "organiser_universities": data["organiser_universities"],
        }


class MeetingDeleteForm(VersionedFormMixin, forms.Form):
    """The confirmation of a meeting's deletion, with the version the page showed: a meeting changed
    since is not deleted (meetings.services.delete_meeting)."""

    snapshot_fields = False

    def __init__(self, *args, meeting: Meeting, **kwargs):
        facts = model_facts(meeting, ["title", "kind", "status", "starts_on", "ends_on", "venue"])
        super().__init__(*args, version=meeting.version, facts=facts, **kwargs)


class MeetingFilterForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), required=False, choices=[("", _("All kinds")), *Kind.choices])
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("Any status")), *Meeting.Status.choices]
    )
    province = ProvinceChoiceField(
        Province.objects.none(), label=_("Province"), required=False, empty_label=_("All provinces")
    )
    year = forms.TypedChoiceField(label=_("Fiscal year"), required=False, coerce=int, empty_value=None)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["province"].queryset = Province.objects.visible_to(user).order_by("name_th")
        self.fields["year"].choices = [("", _("Any year")), *fiscal_year_choices()]


# --- parts of a meeting --------------------------------------------------------------------------
def _meeting_provinces(meeting: Meeting, user):
    """The provinces a part may name: the meeting's own, or (none listed) those the user sees."""
    own = meeting.provinces.all()
    return (own if own.exists() else Province.objects.visible_to(user)).order_by("name_th")


class AgendaItemForm(forms.ModelForm):
    class Meta:
        model = AgendaItem
        fields = ["order", "title", "presenter", "minutes", "decisions"]
        widgets = {"minutes": forms.Textarea(attrs={"rows": 6}), "decisions": forms.Textarea(attrs={"rows": 3})}
        help_texts = {"order": _("Leave empty to put the item last.")}

    def __init__(self, *args, meeting, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["order"].required = False


class AttendanceForm(forms.ModelForm):
    class Meta:
        model = Attendance
        fields = ["name", "organisation", "position", "role"]

    def __init__(self, *args, meeting, user, **kwargs):
        super().__init__(*args, **kwargs)

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("name") and not cleaned.get("organisation") and not self.instance.user_id:
            raise forms.ValidationError(_("Give a name or an organisation."))
        return cleaned


class PresentationForm(forms.ModelForm):
    province = ProvinceChoiceField(Province.objects.none(), label=_("Province"))

    class Meta:
        model = Presentation
        fields = ["province", "report", "presenter", "order", "notes"]
        widgets = {"notes": forms.Textarea(attrs={"rows": 4})}
        help_texts = {
            "report": _(
                "The province's progress report of the period in which the meeting is held. Leave empty to link it "
                "automatically when it exists."
            )
        }

    def __init__(self, *args, meeting, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.meeting = meeting
        self.fields["province"].queryset = _meeting_provinces(meeting, user)
        self.fields["report"].queryset = (
            services.reports_covering(meeting)
            .filter(pk__in=ProgressReport.objects.visible_to(user).values("pk"))
            .select_related("province")
            .order_by("province__name_th", "period")
        )
        self.fields["report"].required = False

    def clean(self):
        cleaned = super().clean()
        province, report = cleaned.get("province"), cleaned.get("report")
        if province and report and report.province_id != province.pk:
            self.add_error("report", _("This report is of another province."))
        return cleaned


class LessonForm(forms.ModelForm):
    province = ProvinceChoiceField(
        Province.objects.none(), label=_("Province"), required=False, empty_label=_("(the whole meeting)")
    )

    class Meta:
        model = LessonLearned
        fields = ["province", "theme", "text"]
        widgets = {"text": forms.Textarea(attrs={"rows": 5})}

    def __init__(self, *args, meeting, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["province"].queryset = _meeting_provinces(meeting, user)


class UserChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return str(obj)


def owner_candidates(meeting: Meeting, user):
    """People an action item may name: those with a role in the meeting's provinces or university
    teams (anyone with a role, for a national meeting), and the user themself."""
    people = Q(pk=user.pk)
    if meeting.kind == Kind.NATIONAL:
        people |= Q(memberships__isnull=False)
    else:
        people |= Q(memberships__province__in=meeting.provinces.all())
        people |= Q(memberships__university__in=meeting.universities.all())
    return (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(pk__in=get_user_model().objects.filter(people).values("pk"))
        .order_by("first_name", "last_name", "email")
    )


class ActionItemForm(forms.ModelForm):
    owner_user = UserChoiceField(get_user_model().objects.none(), label=_("Owner (person)"), required=False)
    owner_province = ProvinceChoiceField(Province.objects.none(), label=_("Owner (province)"), required=False)
    owner_university = UniversityChoiceField(University.objects.none(), label=_("Owner (university)"), required=False)

    class Meta:
        model = ActionItem
        fields = ["what", "owner_user", "owner_province", "owner_university", "due_date", "status", "note"]
        widgets = {
            "what": forms.Textarea(attrs={"rows": 3}),
            "note": forms.Textarea(attrs={"rows": 3}),
            "due_date": DATE,
        }
        field_classes = {"due_date": MEETING_DATE}

    def __init__(self, *args, meeting, user, **kwargs):
        super().__init__(*args, **kwargs)
        people = owner_candidates(meeting, user)
        if self.instance.owner_user_id:
            people = people | get_user_model().objects.filter(pk=self.instance.owner_user_id)
        self.fields["owner_user"].queryset = people
        self.fields["owner_province"].queryset = _meeting_provinces(meeting, user)
        self.fields["owner_university"].queryset = University.objects.visible_to(user).order_by("code")

    def clean(self):
        cleaned = super().clean()
        if not (cleaned.get("owner_user") or cleaned.get("owner_province") or cleaned.get("owner_university")):
            raise forms.ValidationError(_("Name an owner: a person, a province or a university."))
        if cleaned.get("status") == ActionItem.Status.DROPPED and not (cleaned.get("note") or "").strip():
            self.add_error("note", _("Say why the action item is dropped."))
        return cleaned


class ActionStatusForm(forms.Form):
    """What an owner may change: the status and a note."""

    status = forms.ChoiceField(label=_("Status"), choices=ActionItem.Status.choices)
    note = forms.CharField(label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("status") == ActionItem.Status.DROPPED and not (cleaned.get("note") or "").strip():
            self.add_error("note", _("Say why the action item is dropped."))
        return cleaned


class AttachmentForm(forms.Form):
    file = forms.FileField(
        label=_("File"),
        help_text=_("PDF, PNG or JPEG, Word, Excel or PowerPoint."),
        widget=forms.ClearableFileInput(attrs={"accept": ACCEPT_ATTRIBUTE}),
    )

    def clean_file(self):
        file = self.cleaned_data["file"]
        validate_attachment(file)
        return file


class AttendanceImportForm(forms.Form):
    file = forms.FileField(
        label=_("Sign-in sheet"),
        help_text=_(
            "Excel (.xlsx) or CSV, with the columns ชื่อ-สกุล (name), หน่วยงาน (organisation), "
            "ตำแหน่ง (position), บทบาท (role)."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".xlsx,.csv"}),
    )


# --- lists ---------------------------------------------------------------------------------------
class LessonSearchForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=200)
    province = ProvinceChoiceField(
        Province.objects.none(), label=_("Province"), required=False, empty_label=_("All provinces")
    )
    theme = forms.ChoiceField(label=_("Theme"), required=False)

    def __init__(self, *args, user, themes, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["province"].queryset = Province.objects.visible_to(user).order_by("name_th")
        self.fields["theme"].choices = [("", _("All themes")), *((t, t) for t in themes)]


class ActionFilterForm(forms.Form):
    STATUS_ALL = "all"

    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[*ActionItem.Status.choices, (STATUS_ALL, _("Any status"))],
    )
    owner = forms.ChoiceField(label=_("Owner"), required=False)
    overdue = forms.BooleanField(label=_("Overdue only"), required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        provinces = Province.objects.visible_to(user).order_by("name_th")
        universities = University.objects.visible_to(user).order_by("code")
        self.fields["owner"].choices = [
            ("", _("Anyone")),
            ("mine", _("Mine (me, my province, my university)")),
            (_("Provinces"), [(f"p{p.pk}", p.name) for p in provinces]),
            (_("Universities"), [(f"u{u.pk}", f"{u.code} · {u.name}") for u in universities]),
        ]
