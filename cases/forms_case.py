"""The forms of one child's case (cases/views_case.py): contacts, the plan, referrals, closure and assignment.

Forms that change the case or the record carry the version the page showed (core.stale_edits), so that
a click on an old page is refused with what changed, never applied.
"""

from typing import Any, cast

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from core.date_input import ThaiDateField, ThaiDateTimeField
from core.stale_edits import VersionedFormMixin, model_facts
from targets.models import Outcome

from .models import Agency, Case, CloseReason, ContactKind

TEXTAREA = {"rows": 3}


def case_facts(case: Case) -> dict:
    """What the case pages show of the case besides the form's fields, for the snapshot."""
    return model_facts(case, ("goal", "close_reason", "failed_attempts", "next_contact_due"))


class NamedChoiceField(forms.ModelChoiceField):
    """A choice of rows shown by their name in the page's language (BilingualName)."""

    def label_from_instance(self, obj: Any) -> str:
        return str(obj.name)


class AgencyChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.name} ({obj.type.name})"


class ContactForm(forms.Form):
    kind = forms.ChoiceField(label=_("type of contact"), choices=ContactKind.choices)
    happened_at = ThaiDateTimeField(label=_("date and time"), years_back=2, years_ahead=0)
    reached = forms.BooleanField(
        label=_("reached the child or family"),
        required=False,
        initial=True,
        help_text=_("Untick for a failed attempt, e.g. not found at home."),
    )
    with_whom = forms.CharField(label=_("who"), max_length=200, required=False,
                                help_text=_("Whom you met or spoke to."))  # fmt: skip
    findings = forms.CharField(label=_("what was found"), required=False, widget=forms.Textarea(attrs=TEXTAREA))
    next_step = forms.CharField(label=_("next step"), required=False, widget=forms.Textarea(attrs=TEXTAREA))
    next_due = ThaiDateField(label=_("next contact due"), required=False, years_back=0, years_ahead=2)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {}).setdefault(
            "happened_at", timezone.localtime().replace(second=0, microsecond=0)
        )
        super().__init__(*args, **kwargs)


class StepForm(forms.Form):
    text = forms.CharField(label=_("step"), max_length=300)
    due_on = ThaiDateField(label=_("due date"), required=False, years_back=1, years_ahead=3)
    responsible = forms.ModelChoiceField(label=_("who does it"), queryset=User.objects.none(), required=False,
                                         empty_label="–")  # fmt: skip

    def __init__(self, *args: Any, people: list[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast("forms.ModelChoiceField[Any]", self.fields["responsible"])
        field.queryset = User.objects.filter(pk__in=[p.pk for p in people])


class GoalForm(VersionedFormMixin, forms.Form):
    goal = NamedChoiceField(
        label=_("goal"),
        queryset=Outcome.objects.filter(is_active=True, kind=Outcome.Kind.ACHIEVED),
        required=False,
        empty_label="–",
        help_text=_("The outcome the follow-up aims at, e.g. returned to school."),
    )


class ReferralForm(forms.Form):
    agency = AgencyChoiceField(label=_("agency"), queryset=Agency.objects.none(), empty_label="–")
    reason = forms.CharField(label=_("reason"), widget=forms.Textarea(attrs=TEXTAREA))
    services = forms.CharField(label=_("services requested"), widget=forms.Textarea(attrs=TEXTAREA))
    deadline = ThaiDateField(label=_("answer by"), years_back=0, years_ahead=2)
    share_identifier = forms.BooleanField(
        label=_("share the identifier"),
        required=False,
        help_text=_("The agency sees the child's full identifier only when the referral needs it."),
    )

    def __init__(self, *args: Any, agencies: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast("forms.ModelChoiceField[Any]", self.fields["agency"])
        field.queryset = agencies


class CloseForm(VersionedFormMixin, forms.Form):
    snapshot_fields = False  # the reason chosen is the step's input; the case's values are facts

    reason = forms.ChoiceField(label=_("reason for closing"), choices=[("", "–"), *CloseReason.choices])
    note = forms.CharField(label=_("note"), required=False, widget=forms.Textarea(attrs=TEXTAREA))


class ReopenForm(VersionedFormMixin, forms.Form):
    snapshot_fields = False

    note = forms.CharField(label=_("why it is reopened"), widget=forms.Textarea(attrs=TEXTAREA))


class ConfirmForm(VersionedFormMixin, forms.Form):
    """A confirmation button with the version of the record the page showed (the status from a referral)."""

    snapshot_fields = False


class WorkerForm(forms.Form):
    """The case-worker select: one record (its page) or many (the assignment list)."""

    worker = forms.ModelChoiceField(label=_("case worker"), queryset=User.objects.none(), empty_label="–")

    def __init__(self, *args: Any, workers: list[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast("forms.ModelChoiceField[Any]", self.fields["worker"])
        field.queryset = User.objects.filter(pk__in=[w.pk for w in workers])
        # The choices from the list the view has, without a query of their own.
        field.choices = [("", "–"), *((w.pk, worker_label(w)) for w in workers)]


def worker_label(user: User) -> str:
    name = user.get_full_name()
    return f"{name} ({user.email})" if name else user.email
