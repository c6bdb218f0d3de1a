"""The data-quality rules' settings in Django admin: EEF/IPSR admins switch a rule off or set its threshold; nobody
else sees them. A rule without a row runs with its defaults (quality.models)."""

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from accounts.admin_access import Access, ScopedModelAdmin

from .models import RuleSetting
from .rules import BY_CODE, RULES


class RuleSettingForm(forms.ModelForm):
    code = forms.ChoiceField(label=_("rule"), choices=[])

    class Meta:
        model = RuleSetting
        fields = ("code", "enabled", "threshold")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["code"].choices = [(rule.code, f"{rule.code} · {rule.name}") for rule in RULES]


@admin.register(RuleSetting)
class RuleSettingAdmin(ScopedModelAdmin):
    view_access = Access.NATIONAL
    write_access = Access.NATIONAL
    form = RuleSettingForm
    list_display = ("code", "rule_name", "enabled", "threshold", "default_threshold")
    list_editable = ("enabled", "threshold")

    @admin.display(description=_("name"))
    def rule_name(self, obj: RuleSetting) -> str:
        rule = BY_CODE.get(obj.code)
        return str(rule.name) if rule else "–"

    @admin.display(description=_("default threshold"))
    def default_threshold(self, obj: RuleSetting) -> str:
        rule = BY_CODE.get(obj.code)
        if rule is None or rule.default_threshold is None:
            return "–"
        return f"{rule.default_threshold} {rule.threshold_unit or ''}".strip()
