"""The forms of the transfer pages (transfers/views.py); the rules are the services'."""

from django import forms
from django.utils.translation import gettext_lazy as _

from provinces.models import Province


class RequestForm(forms.Form):
    """A coordinator's request: what they have, nothing else."""

    identifier = forms.CharField(
        label=_("Identifier"),
        max_length=30,
        help_text=_("The national ID or G-code from your file or form."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "text"}),
    )
    note = forms.CharField(
        label=_("Note for the province that holds the record"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Why the child's record should move to your province, e.g. the family moved."),
    )
    province = forms.ModelChoiceField(label=_("To province"), queryset=Province.objects.none(), required=False)

    def __init__(self, *args, provinces=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if provinces is None or provinces.count() <= 1:
            del self.fields["province"]
        else:
            field = self.fields["province"]
            assert isinstance(field, forms.ModelChoiceField)  # noqa: S101 - declared above
            field.queryset = provinces
            field.required = True


class MoveForm(forms.Form):
    """EEF/IPSR's direct move: the record, where to, and why."""

    identifier = forms.CharField(label=_("Identifier"), max_length=30)
    province = forms.ModelChoiceField(label=_("To province"), queryset=Province.objects.order_by("name_th"))
    reason = forms.CharField(label=_("Reason"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))


class AnswerForm(forms.Form):
    action = forms.ChoiceField(
        choices=[("accept", _("Accept")), ("decline", _("Decline")), ("withdraw", _("Withdraw"))]
    )
    seen_version = forms.IntegerField(widget=forms.HiddenInput)
    reason = forms.CharField(
        label=_("Reason"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "If you decline, the requesting province reads this reason (it is never told which province you are)."
        ),
    )
