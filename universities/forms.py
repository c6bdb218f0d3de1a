"""Forms of the universities' pages: filters, recording an activity, filing and moving a request.

The forms only parse and check input; the writes are the services' (universities/services.py).
Their choices come from the access door: the views hand in querysets already scoped to the user.
"""

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.attachments import max_attachment_megabytes
from core.date_input import ThaiDateField
from core.periods import Period
from core.stale_edits import VersionedFormMixin, model_facts
from provinces.models import Province

from .attachments import ACCEPT_ATTRIBUTE, validate_attachment
from .models import CapacityRequest, SupportActivity, SupportRole, University
from .services import check_activity_place


def _label(model, field: str):
    return model._meta.get_field(field).verbose_name


ANY = [("", _("All"))]


# --- Filters --------------------------------------------------------------------------------------


class ActivityFilterForm(forms.Form):
    """?role=&province=&university=&year=&period= on the activity list and its export.

    The choices are given as (value, label) lists built from querysets the view already evaluated,
    so that checking a choice costs no query.
    """

    role = forms.TypedChoiceField(label=_("support role"), required=False, coerce=int, empty_value=None)
    province = forms.TypedChoiceField(label=_("province"), required=False, coerce=int, empty_value=None)
    university = forms.ChoiceField(label=_("university"), required=False)
    year = forms.TypedChoiceField(label=_("fiscal year"), required=False, coerce=int, empty_value=None)
    period = forms.ChoiceField(label=_("period"), required=False)

    def __init__(self, data=None, *, provinces, universities, years, **kwargs):
        super().__init__(data, **kwargs)
        self.fields["role"].choices = ANY + list(SupportRole.choices)
        self.fields["province"].choices = ANY + [(p.pk, p.name) for p in provinces]
        self.fields["university"].choices = ANY + [(u.code, u.code) for u in universities]
        self.fields["year"].choices = ANY + [(y, y) for y in years]
        self.fields["period"].choices = [("", _("Whole year")), *Period.choices]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("period") and not cleaned.get("year"):
            self.add_error("year", _("Choose the fiscal year of the period."))
        return cleaned


class RequestFilterForm(forms.Form):
    status = forms.ChoiceField(label=_("status"), required=False)
    province = forms.TypedChoiceField(label=_("province"), required=False, coerce=int, empty_value=None)
    university = forms.ChoiceField(label=_("university"), required=False)
    overdue = forms.BooleanField(label=_("overdue only"), required=False)

    def __init__(self, data=None, *, provinces, universities, **kwargs):
        super().__init__(data, **kwargs)
        self.fields["status"].choices = [*ANY, ("active", _("in progress")), *CapacityRequest.Status.choices]
        self.fields["province"].choices = ANY + [(p.pk, p.name) for p in provinces]
        self.fields["university"].choices = ANY + [(u.code, u.code) for u in universities]


# --- Recording an activity ---------------------------------------------------------------------------


class ActivityForm(forms.Form):
    # The querysets are the user's (__init__).
    university: "forms.ModelChoiceField[University]" = forms.ModelChoiceField(
        label=_label(SupportActivity, "university"), queryset=None
    )
    province: "forms.ModelChoiceField[Province]" = forms.ModelChoiceField(
        label=_label(SupportActivity, "province"), queryset=None
    )
    role = forms.TypedChoiceField(label=_label(SupportActivity, "role"), coerce=int, choices=SupportRole.choices)
    date = ThaiDateField(label=_label(SupportActivity, "date"), years_back=5, years_ahead=0)
    title = forms.CharField(label=_label(SupportActivity, "title"), max_length=200)
    description = forms.CharField(
        label=_label(SupportActivity, "description"), required=False, widget=forms.Textarea(attrs={"rows": 5})
    )
    participants = forms.IntegerField(label=_label(SupportActivity, "participants"), required=False, min_value=0)
    attachment = forms.FileField(
        label=_label(SupportActivity, "attachment"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": ACCEPT_ATTRIBUTE}),
    )

    def __init__(self, *args, universities, provinces, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["university"].queryset = universities
        self.fields["province"].queryset = provinces
        self.fields["province"].label_from_instance = lambda p: p.name
        self.fields["university"].label_from_instance = lambda u: f"{u.code} · {u.name}"
        # Built here, not at import, so that it is in the user's language.
        self.fields["attachment"].help_text = _("PDF, image or Office document, up to %(limit)s MB.") % {
            "limit": max_attachment_megabytes()
        }

    def clean_date(self):
        date = self.cleaned_data["date"]
        if date > timezone.localdate():
            raise forms.ValidationError(_("Record an activity once it has taken place."))
        return date

    def clean_attachment(self):
        attachment = self.cleaned_data.get("attachment")
        if attachment:
            validate_attachment(attachment)
        return attachment

    def clean(self):
        cleaned = super().clean()
        university, province, date = (cleaned.get(f) for f in ("university", "province", "date"))
        if university and province and date:
            # Said at once, with the other errors; record_activity checks it again when saving.
            try:
                check_activity_place(university=university, province=province, date=date)
            except ValidationError as error:
                self.add_error(None, error)
        return cleaned


# --- Filing a capacity request -----------------------------------------------------------------------


class CapacityRequestForm(forms.Form):
    province: "forms.ModelChoiceField[Province]" = forms.ModelChoiceField(
        label=_label(CapacityRequest, "province"), queryset=None
    )
    topic = forms.CharField(label=_label(CapacityRequest, "topic"), max_length=200)
    need = forms.CharField(
        label=_label(CapacityRequest, "need"),
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("Who needs what, and why: the team will plan the session from this."),
    )
    desired_date = ThaiDateField(label=_label(CapacityRequest, "desired_date"), years_back=1, years_ahead=3)
    participants = forms.IntegerField(label=_label(CapacityRequest, "participants"), required=False, min_value=0)

    def __init__(self, *args, provinces, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["province"].queryset = provinces
        self.fields["province"].label_from_instance = lambda p: p.name


# --- Moving a capacity request (one form per action; field names are the services' arguments) -------


def request_facts(request_obj: CapacityRequest) -> dict:
    """What the request's page shows of it, for the snapshot of its step forms (core.stale_edits)."""
    return model_facts(
        request_obj,
        ["status", "topic", "need", "desired_date", "participants", "scheduled_for", "decline_reason", "rating",
         "feedback"],
    )  # fmt: skip


class StepForm(VersionedFormMixin, forms.Form):
    """A step of a request, with the version of the request the page showed: a second click, or a step
    on a page opened before someone else's, is refused (universities.services)."""

    snapshot_fields = False  # the step's input; the request's values are facts


class AcceptForm(StepForm):
    pass


class CloseForm(StepForm):
    pass


class ScheduleForm(StepForm):
    scheduled_for = ThaiDateField(label=_("date of the session"), years_back=1, years_ahead=3)


class DeliverForm(StepForm):
    date = ThaiDateField(label=_("date delivered"), years_back=2, years_ahead=1)
    participants = forms.IntegerField(label=_("participants"), required=False, min_value=0)
    description = forms.CharField(
        label=_("what was done"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Recorded with the support activity (role 2); the request's need is used if left empty."),
    )


class DeclineForm(StepForm):
    reason = forms.CharField(label=_("reason for declining"), widget=forms.Textarea(attrs={"rows": 3}))


class RateForm(StepForm):
    rating = forms.TypedChoiceField(
        label=_("rating"),
        coerce=int,
        choices=[(n, str(n)) for n in range(5, 0, -1)],
        widget=forms.RadioSelect,
        help_text=_("5 excellent · 1 poor"),
    )
    feedback = forms.CharField(label=_("feedback"), required=False, widget=forms.Textarea(attrs={"rows": 3}))


ACTION_FORMS = {
    "accept": AcceptForm,
    "schedule": ScheduleForm,
    "deliver": DeliverForm,
    "close": CloseForm,
    "decline": DeclineForm,
    "rate": RateForm,
}


def action_form(action: str, data=None, **kwargs) -> forms.Form:
    """The form of one action, with ids of its own (several share the request's page)."""
    return ACTION_FORMS[action](data, auto_id=f"id_{action}_%s", **kwargs)
