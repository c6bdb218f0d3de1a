from django import forms
from django.utils.translation import gettext_lazy as _


class ProposeForm(forms.Form):
    identifier = forms.CharField(
        label=_("Identifier of the other record"),
        max_length=40,
        help_text=_("The national ID or G-code of the other record of the same child."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "numeric"}),
    )
    reason = forms.CharField(
        label=_("Why they are the same person"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )


class RejectForm(forms.Form):
    note = forms.CharField(label=_("Why not"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
