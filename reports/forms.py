"""Forms of the progress-report pages. Choices come through the access door (accounts/access.py)."""

from typing import cast

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.access import only_province
from core.buddhist_dates import FISCAL_YEAR_MAX, FISCAL_YEAR_MIN, current_fiscal_year
from core.stale_edits import VersionedFormMixin, model_facts
from provinces.models import Province

from .models import SECTIONS, Period, ProgressReport, ReportEvent, Status

# What each section asks for, shown under its box (the fixed agenda of the provincial meeting).
SECTION_HELP = {
    "situation": _("The province's situation this period: target groups, numbers, what changed."),
    "mechanisms": _("The working group and the partners that move the work: who met, what was agreed."),
    "progress": _("What was done against the provincial plan and its goals, with figures."),
    "recommendations": _("What the province asks of its partners, the university team or EEF."),
    "lessons_learned": _("What worked, what did not, and what the province will do differently."),
}


class ReportFilterForm(forms.Form):
    """The list's filters (GET). Choices are given by the view from the rows the user can see, so
    that checking a choice needs no query of its own."""

    province = forms.TypedChoiceField(label=_("Province"), required=False, coerce=int, empty_value=None)
    fiscal_year = forms.TypedChoiceField(label=_("Fiscal year"), required=False, coerce=int, empty_value=None)
    period = forms.ChoiceField(label=_("Period"), required=False, choices=[("", _("All periods")), *Period.choices])
    status = forms.ChoiceField(label=_("Status"), required=False, choices=[("", _("All statuses")), *Status.choices])

    def __init__(self, *args, provinces: list[tuple[int, str]], fiscal_years: list[int], **kwargs):
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["province"]).choices = [("", _("All provinces")), *provinces]
        cast(forms.ChoiceField, self.fields["fiscal_year"]).choices = [
            ("", _("All years")),
            *((year, year) for year in fiscal_years),
        ]

    def filter(self, queryset):
        if not self.is_valid():
            return queryset
        data = self.cleaned_data
        if data["province"]:
            queryset = queryset.filter(province_id=data["province"])
        if data["fiscal_year"]:
            queryset = queryset.filter(fiscal_year=data["fiscal_year"])
        if data["period"]:
            queryset = queryset.filter(period=data["period"])
        if data["status"]:
            queryset = queryset.filter(status=data["status"])
        return queryset


class ReportCreateForm(forms.Form):
    province = forms.ModelChoiceField(label=_("Province"), queryset=Province.objects.none())
    fiscal_year = forms.IntegerField(
        label=_("Fiscal year (B.E.)"),
        min_value=FISCAL_YEAR_MIN,
        max_value=FISCAL_YEAR_MAX,
        help_text=_("October to September, named by the Buddhist Era year in which it ends."),
    )
    period = forms.ChoiceField(label=_("Period"), choices=Period.choices)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["province"].queryset = Province.objects.writable_by(user).order_by("name_th")
        if only_province(user, write=True) is not None:
            self.fields["province"].empty_label = None  # a coordinator's one province, chosen already
        self.fields["fiscal_year"].initial = current_fiscal_year()


def report_facts(report: ProgressReport, *, sections: bool = True) -> dict:
    """What a report's page shows of it, for the snapshot of a versioned form (core.stale_edits)."""
    return model_facts(report, ["status", *(name for name, _label in SECTIONS if sections)])


class ReportSectionsForm(VersionedFormMixin, forms.Form):
    """The five sections of a report, in their fixed order, and the version they were opened at."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, label in SECTIONS:
            self.fields[name] = forms.CharField(
                label=label,
                required=False,
                help_text=SECTION_HELP[name],
                widget=forms.Textarea(attrs={"rows": 6}),
            )

    @classmethod
    def for_report(cls, report: ProgressReport, data=None) -> "ReportSectionsForm":
        return cls(
            data,
            initial={name: getattr(report, name) for name, _label in SECTIONS},
            version=report.version,
            facts=report_facts(report, sections=False),
        )


class TransitionForm(VersionedFormMixin, forms.Form):
    """A workflow step, with the version of the report the page showed: a second click, or a step on
    a page opened before someone else's change, is refused (reports.services.transition)."""

    snapshot_fields = False  # the action and comment are the step's input; the report's values are facts

    action = forms.ChoiceField(choices=ReportEvent.Action.choices, widget=forms.HiddenInput)
    comment = forms.CharField(
        label=_("Comment"),
        required=False,
        max_length=5000,
        help_text=_("Required when you send the report back: say what should change."),
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    override_reason = forms.CharField(
        label=_("Reason for submitting early"),
        required=False,
        max_length=2000,
        help_text=_(
            "The period's last month has not begun. Say why the report is submitted now; "
            "the reason is kept in its history."
        ),
        widget=forms.Textarea(attrs={"rows": 2}),
    )
