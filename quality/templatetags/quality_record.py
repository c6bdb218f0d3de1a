"""A record's data-quality issues on its page (targets/templates/targets/record_detail.html loads this, as it loads
the case section: targets imports nothing of quality). Two queries: the rule settings, and every rule over the one
record (quality.rules.issues_of)."""

from typing import Any

from django import template

from ..rules import active_rules, issues_of

register = template.Library()


@register.inclusion_tag("quality/record_issues.html")
def record_issues(record: Any) -> dict[str, Any]:
    return {"issues": issues_of(record.pk, active_rules())}
