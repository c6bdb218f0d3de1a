"""The provincial plan's form: the strategy and a grid of goals (portal.plans.save_plan writes them)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from core.stale_edits import VersionedFormMixin

from .plans import MAX_GOAL


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
