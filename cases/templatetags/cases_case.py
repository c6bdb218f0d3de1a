"""`{% case_section record %}`: the record page's case follow-up section, rendered by the cases app.

targets sits below cases (import-linter's layers), so the record page cannot import it: its template
loads this library by name, and the section's reads are cases.views_case.section_context's.
"""

from typing import Any

from django import template

from ..views_case import section_context

register = template.Library()


@register.inclusion_tag("cases/case_section.html", takes_context=True)
def case_section(context: template.Context, record: Any) -> dict[str, Any]:
    request = context["request"]
    return {"request": request, "csrf_token": context.get("csrf_token"),
            **section_context(request.user, record)}  # fmt: skip
