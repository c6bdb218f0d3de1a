from typing import cast

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.access import can
from provinces.models import Province


class AnalysisSetForm(forms.Form):
    provinces = forms.TypedMultipleChoiceField(
        label=_("Provinces"), coerce=int, widget=forms.CheckboxSelectMultiple, choices=()
    )
    purpose = forms.CharField(
        label=_("Purpose"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        help_text=_("What the set is for: it is written to the access log with your request."),
    )

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # The provinces the asker may include (EEF: every province; a team: the provinces it supports).
        field = cast(forms.TypedMultipleChoiceField, self.fields["provinces"])
        field.choices = [
            (province.pk, province.name)
            for province in Province.objects.order_by("name_th")
            if can(user, "analysis.province", province.pk)
        ]
