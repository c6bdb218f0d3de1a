"""Forms of the target-group record pages: the list's filters and search, a record, help given, status.

A record's form is read as one spreadsheet row by the upload's own validator (targets.upload.validation
RowValidator), so a record typed into a form and one uploaded in a file pass exactly the same rules and
get the same messages. The fields are text with a select to pick from: the validator, not the form,
decides what a value may be.
"""

from django import forms
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.date_input import ThaiDateField, ThaiDateInput, format_date_input
from core.stale_edits import VersionedFormMixin, fact, model_facts, secret_fact
from core.thai_id import mask_identifier
from provinces.models import District, Province, SubDistrict

from .models import AssistanceType, Category, EducationStatus, Outcome, Sex, TargetRecord
from .upload.columns import FIELDS, TEMPLATE_FIELDS, ColumnMap, label
from .upload.validation import PREFIXES, CleanRow, RowValidator


def _label(field: str):
    model_field = TargetRecord._meta.get_field(field)
    return model_field.verbose_name if isinstance(model_field, models.Field) else field


# --- The upload's validation for one record ------------------------------------------------------------

# The record's fields in the order of the upload's template; each is a form field of the same name.
RECORD_COLUMNS = tuple(f for f in TEMPLATE_FIELDS if f != "case_worker")  # the form's case section assigns
_COLUMN_MAP = {field: index for index, field in enumerate(RECORD_COLUMNS)}


def validate_record(*, province: Province, data: dict[str, str]) -> tuple[CleanRow | None, dict[str | None, list[str]]]:
    """Check one record's values (text, keyed by the upload's field names) as an upload row of
    `province`: the cleaned row, or the messages per field (None: not a field's)."""
    validator = RowValidator(province=province, columns=ColumnMap(fields=dict(_COLUMN_MAP), unknown=[], duplicates=[]))
    row = [data.get(field, "") for field in RECORD_COLUMNS]
    clean_row, errors = validator.validate(row, 1)
    by_label = {label(field): field for field in FIELDS}
    messages: dict[str | None, list[str]] = {}
    for column, reason in errors:
        reasons = messages.setdefault(by_label.get(column), [])
        if reason not in reasons:  # the validator may say the same twice (a formula in the first name)
            reasons.append(reason)
    return clean_row, messages


# Name prefixes in their standard form (the validator's), Thai first.
PREFIX_CHOICES = [("", "–"), *((p, p) for p in dict.fromkeys(PREFIXES.values()))]
YES, NO = "yes", "no"  # consent, as the validator reads it (targets.upload.validation.YES, NO)


class SubDistrictSelect(forms.Select):
    """Sub-districts grouped by district, each option marked with its district (data-district) so that
    static/js/targets-address.js can offer only the chosen district's; without script the groups do."""

    def __init__(self, *args, district_of: dict[str, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.district_of = district_of or {}

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        district = self.district_of.get(str(value))
        if district:
            option["attrs"]["data-district"] = district
        return option


def _text(field: str, **kwargs) -> forms.CharField:
    return forms.CharField(label=_label(field), required=False, **kwargs)


def _select(field: str, **kwargs) -> forms.CharField:
    # Text with a select: an unknown value is the validator's to refuse, in the upload's words.
    return forms.CharField(label=_label(field), required=False, widget=forms.Select, **kwargs)


def record_facts(record: TargetRecord, *, fields=()) -> dict:
    """What a page shows of `record` besides its form's fields, for a versioned form's snapshot
    (core.stale_edits): its identifier (masked, as the pages show it) and province, and the
    model fields named. Reads only the relations the record pages select."""
    return {
        "identifier": secret_fact(_label("identifier"), record.identifier, mask_identifier(record.identifier)),
        "province": fact(_label("province"), record.province_id, record.province.name),
        **model_facts(record, fields),
    }


# A record's fields its page shows, for the snapshot of its status button (targets:status).
DETAIL_FACTS = (
    "name_prefix", "first_name", "last_name", "sex", "birth_date", "district", "sub_district", "category", "status",
    "education_status", "last_grade", "school", "guardian_name", "phone", "consent", "notes",
)  # fmt: skip


class RecordForm(VersionedFormMixin, forms.Form):
    """A record's fields; when editing, also the version it was opened at (core.stale_edits)."""

    # The identifier field is a new identifier (EEF/IPSR): the record's own is a fact of the snapshot.
    snapshot_exclude = ("identifier",)

    identifier = forms.CharField(
        label=FIELDS["identifier"][0],
        max_length=32,
        help_text=_("13 digits (1-2345-67890-12-1, spaces or dashes allowed) or a G-code: G and 12 digits."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "inputmode": "text"}),
    )
    name_prefix = _select("name_prefix")
    first_name = forms.CharField(label=_label("first_name"), max_length=100)
    last_name = _text("last_name", max_length=100, help_text=_("Leave it empty for someone who has no family name."))
    sex = _select("sex", help_text=_("Taken from the name prefix when left empty."))
    birth_date = _text(
        "birth_date",
        max_length=30,
        help_text=_("Day/month/year, the year in พ.ศ. or ค.ศ., e.g. 15/03/2553."),
        # Text read by the upload's validator (a year alone, "2553", is a year of birth), in the date input.
        widget=ThaiDateInput(),
    )
    district = _select("district")
    sub_district = forms.CharField(label=_label("sub_district"), required=False)
    category = forms.CharField(label=_label("category"), widget=forms.Select)
    status = forms.CharField(label=_label("status"), widget=forms.Select)
    education_status = _select("education_status")
    last_grade = _text("last_grade", max_length=20, widget=forms.TextInput(attrs={"placeholder": "ม.2"}))
    school = _text("school", max_length=200)
    guardian_name = _text("guardian_name", max_length=200)
    phone = _text(
        "phone",
        max_length=20,
        help_text=_("Optional: 10 digits starting 06, 08 or 09."),
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}),
    )
    consent = forms.BooleanField(label=_label("consent"), required=False)
    notes = _text("notes", widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, data=None, *, province: Province, record: TargetRecord | None = None, can_edit_identifier=True,
                 **kwargs):  # fmt: skip
        self.province = province
        self.record = record
        if record is not None and "initial" not in kwargs:
            kwargs["initial"] = self.initial_from(record)
        super().__init__(data, **kwargs)
        districts = list(District.objects.filter(province=province).order_by("name_th"))
        subs = list(SubDistrict.objects.filter(district__province=province).order_by("name_th"))
        categories = list(Category.objects.filter(is_active=True))
        statuses = list(Outcome.objects.filter(is_active=True))
        fields = self.fields
        fields["name_prefix"].widget.choices = PREFIX_CHOICES
        fields["sex"].widget.choices = [("", "–"), *Sex.choices]
        fields["district"].widget.choices = [("", "–"), *((str(d.code), d.name) for d in districts)]
        district_names = {d.code: d.name for d in districts}
        grouped: dict[int, list] = {}
        for sub in subs:
            grouped.setdefault(sub.district_id, []).append((str(sub.code), sub.name))
        fields["sub_district"].widget = SubDistrictSelect(
            choices=[("", "–"), *((district_names.get(code, code), options) for code, options in grouped.items())],
            district_of={str(sub.code): str(sub.district_id) for sub in subs},
        )
        fields["category"].widget.choices = [("", "–"), *((c.code, c.name) for c in categories)]
        fields["status"].widget.choices = [(s.code, s.name) for s in statuses]
        fields["education_status"].widget.choices = [("", "–"), *EducationStatus.choices]
        if record is None:
            fields["status"].initial = "in-follow-up"
        else:
            # Only EEF/IPSR change an identifier (targets.record_services.update_record): left empty, it stays.
            if can_edit_identifier:
                fields["identifier"].required = False
                fields["identifier"].label = _("new identifier")
                fields["identifier"].help_text = _(
                    "Leave empty to keep %(identifier)s. The identifier is the person's key across the country: "
                    "change it only to correct a mistyped one."
                ) % {"identifier": mask_identifier(record.identifier)}
            else:
                del fields["identifier"]

    @staticmethod
    def initial_from(record: TargetRecord) -> dict:
        return {
            "name_prefix": record.name_prefix,
            "first_name": record.first_name,
            "last_name": record.last_name,
            "sex": record.sex,
            "birth_date": format_date_input(record.birth_date),
            "district": str(record.district_id or ""),
            "sub_district": str(record.sub_district_id or ""),
            "category": record.category.code,
            "status": record.status.code,
            "education_status": record.education_status,
            "last_grade": record.last_grade,
            "school": record.school,
            "guardian_name": record.guardian_name,
            "phone": record.phone,
            "consent": record.consent,
            "notes": record.notes,
        }

    def clean(self):
        cleaned = super().clean()
        data = {field: cleaned.get(field) or "" for field in RECORD_COLUMNS}
        data["consent"] = YES if cleaned.get("consent") else NO
        self.identifier_changed = bool(data["identifier"])
        if self.record is not None and not data["identifier"]:
            data["identifier"] = self.record.identifier
        self.clean_row, messages = validate_record(province=self.province, data=data)
        for field, reasons in messages.items():
            target = field if field in self.fields else None
            if target is not None and target in self._errors:
                continue  # the field's own check said it already (e.g. too long)
            for reason in reasons:
                self.add_error(target, reason)
        return cleaned


class ProvinceForm(forms.Form):
    """EEF/IPSR choose the province of a new record (or of a record they move) before its form."""

    province = forms.TypedChoiceField(label=_("province"), coerce=int)

    def __init__(self, data=None, *, provinces, **kwargs):
        super().__init__(data, **kwargs)
        self.fields["province"].choices = [(p.pk, p.name) for p in provinces]


# --- Help given, status --------------------------------------------------------------------------------


class AssistanceForm(forms.Form):
    type = forms.ModelChoiceField(
        label=_("type of help"), queryset=AssistanceType.objects.filter(is_active=True), empty_label="–"
    )
    date = ThaiDateField(
        label=_("date"),
        years_back=10,
        years_ahead=0,
        help_text=_("Day/month/year, the year in พ.ศ. or ค.ศ., e.g. 15/03/2567."),
    )
    given_by = forms.CharField(
        label=_("given by"), max_length=200, help_text=_("The agency or person who gave the help, e.g. อบต.")
    )
    outcome = forms.CharField(label=_("outcome"), required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", {}).setdefault("date", timezone.localdate())
        super().__init__(*args, **kwargs)
        self.fields["type"].label_from_instance = lambda t: t.name


class StatusForm(VersionedFormMixin, forms.Form):
    """The record page's status button, with the version of the record the page showed."""

    snapshot_fields = False  # the chosen status is the step's input; the record's values are facts

    status = forms.ModelChoiceField(
        label=_("new status"), queryset=Outcome.objects.filter(is_active=True), empty_label=_("choose the new status")
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["status"].label_from_instance = lambda o: o.name


# --- The list's filters and search -----------------------------------------------------------------------

ANY = [("", _("All"))]
# Age bands (completed years at today), as (youngest, oldest or None).
AGE_BANDS = {
    "0-5": (0, 5),
    "6-11": (6, 11),
    "12-14": (12, 14),
    "15-17": (15, 17),
    "18-24": (18, 24),
    "25+": (25, None),
}


class RecordFilterForm(forms.Form):
    """?province=&category=&status=&district=&sub_district=&school=&age=&help= on the list and its export.

    None of these can hold an identifier or a name: a search does (SearchForm), and never goes into
    a URL. The choices are (value, label) lists the view built, so checking them costs no query.
    """

    province = forms.TypedChoiceField(label=_("province"), required=False, coerce=int, empty_value=None)
    category = forms.TypedChoiceField(label=_("category"), required=False, coerce=int, empty_value=None)
    status = forms.TypedChoiceField(label=_("status"), required=False, coerce=int, empty_value=None)
    district = forms.TypedChoiceField(label=_("district"), required=False, coerce=int, empty_value=None)
    sub_district = forms.TypedChoiceField(label=_("sub-district"), required=False, coerce=int, empty_value=None)
    school = forms.CharField(label=_("school"), required=False, max_length=100)
    age = forms.ChoiceField(label=_("age"), required=False)
    help = forms.ChoiceField(label=_("help given"), required=False)

    def __init__(self, data=None, *, provinces, districts, categories, statuses, sub_districts=(), **kwargs):
        super().__init__(data, **kwargs)
        self.fields["province"].choices = ANY + [(p.pk, p.name) for p in provinces]
        self.fields["category"].choices = ANY + [(c.pk, c.name) for c in categories]
        self.fields["status"].choices = ANY + [(s.pk, s.name) for s in statuses]
        self.fields["district"].choices = ANY + [(d.pk, d.name) for d in districts]
        # The sub-districts of the chosen district (none chosen: no such filter).
        self.fields["sub_district"].choices = ANY + [(s.pk, s.name) for s in sub_districts]
        self.fields["age"].choices = ANY + [(key, _("25 and over") if key == "25+" else key) for key in AGE_BANDS]
        self.fields["help"].choices = [*ANY, ("yes", _("with help given")), ("no", _("no help yet"))]
        if len(provinces) <= 1:
            del self.fields["province"]
        if not districts:
            del self.fields["district"]
        if not sub_districts:
            del self.fields["sub_district"]


class SearchForm(forms.Form):
    q = forms.CharField(
        label=_("name or identifier"),
        max_length=100,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "type": "search"}),
    )
