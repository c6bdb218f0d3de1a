"""`{% can "meetings.write" meeting as may_edit %}`: templates ask the door (accounts.access.can), as views
do, to decide which links and buttons to show; they never read a user's scope themselves."""

from typing import Any

from django import template

from accounts import access

register = template.Library()


@register.simple_tag(takes_context=True)
def can(context: template.Context, action: str, obj: Any = None) -> bool:
    # No request (a page rendered outside one, such as the 500 page): nobody, so nothing is shown.
    return access.can(getattr(context.get("request"), "user", None), action, obj)
