from django.utils.functional import SimpleLazyObject

from .access import scope_for


def access(request) -> dict:
    """`access_scope` in every template, e.g. to show navigation by role; computed only if used."""
    return {"access_scope": SimpleLazyObject(lambda: scope_for(getattr(request, "user", None)))}
