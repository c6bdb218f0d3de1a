from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.date_input import ThaiDateField, ThaiDateInput

from .models import WorkingGroupMember
from .resources import MAX_SHEET_BYTES


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
