from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.date_input import ThaiDateField, ThaiDateInput
from core.stale_edits import VersionedFormMixin

from .models import WorkingGroupMember
from .resources import MAX_SHEET_BYTES
from .services import MAX_GOAL


class WorkingGroupMemberForm(forms.ModelForm):
    """A member of one province's working group; the province comes from the page, never the form."""

    class Meta:
        model = WorkingGroupMember
        fields = (
            "name",
            "position",
            "organisation",
            "group_role",
            "phone",
            "email",
            "active_from",
            "active_until",
        )
        widgets = {
            "active_from": ThaiDateInput(),
            "active_until": ThaiDateInput(),
            "phone": forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}),
        }
        # Working groups go back to the programme's pilot provinces; a term is planned a few years ahead.
        field_classes = {
            "active_from": ThaiDateField.with_range(earliest=2000, years_ahead=5),
            "active_until": ThaiDateField.with_range(earliest=2000, years_ahead=10),
        }
        help_texts = {
            "name": _("Spreadsheet imports match members by name: keep one spelling."),
            "active_until": _("Leave blank while the member is in the group."),
        }

    def __init__(self, *args, province, **kwargs):
        super().__init__(*args, **kwargs)
        self.province = province
        self.instance.province = province

    def clean_name(self) -> str:
        name = " ".join(self.cleaned_data["name"].split())
        twins = WorkingGroupMember.objects.filter(province=self.province, name=name).exclude(pk=self.instance.pk)
        if twins.exists():
            raise forms.ValidationError(gettext("The working group already has a member of this name."))
        return name


class WorkingGroupImportForm(forms.Form):
    sheet = forms.FileField(
        label=_("Spreadsheet (.xlsx or .csv)"),
        widget=forms.ClearableFileInput(attrs={"accept": ".xlsx,.csv"}),
    )

    def clean_sheet(self):
        sheet = self.cleaned_data["sheet"]
        if sheet.size > MAX_SHEET_BYTES:
            raise forms.ValidationError(gettext("The file is larger than 2 MB."))
        return sheet


class WorkingGroupConfirmForm(forms.Form):
    """The signed sheet of the preview, sent back to apply it."""

    payload = forms.CharField(widget=forms.HiddenInput)


def goal_field_name(category_id: int, outcome_id: int) -> str:
    return f"goal_{category_id}_{outcome_id}"


class PlanForm(VersionedFormMixin, forms.Form):
    """A plan's strategy and its goals grid: one number field per (category, outcome), blank = no goal;
    and the version of the plan the form was opened at (0: no plan yet), see core.stale_edits."""

    strategy = forms.CharField(
        label=_("Strategy"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=_("How the province means to reach its goals this fiscal year."),
    )

    def __init__(self, *args, categories, outcomes, **kwargs):
        super().__init__(*args, **kwargs)
        self.categories = list(categories)
        self.outcomes = list(outcomes)
        for category in self.categories:
            for outcome in self.outcomes:
                self.fields[goal_field_name(category.pk, outcome.pk)] = forms.IntegerField(
                    label=f"{category} → {outcome}",
                    required=False,
                    min_value=0,
                    max_value=MAX_GOAL,
                    widget=forms.NumberInput(attrs={"min": 0, "step": 1, "inputmode": "numeric"}),
                )

    def goals(self) -> dict[tuple[int, int], int | None]:
        """The grid as save_plan takes it (after is_valid())."""
        return {
            (category.pk, outcome.pk): self.cleaned_data.get(goal_field_name(category.pk, outcome.pk))
            for category in self.categories
            for outcome in self.outcomes
        }

    def grid(self) -> list[tuple[object, list]]:
        """Rows for the template: (category, [bound field per outcome])."""
        return [
            (category, [self[goal_field_name(category.pk, outcome.pk)] for outcome in self.outcomes])
            for category in self.categories
        ]
