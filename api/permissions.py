"""May this caller use this endpoint at all? (Which rows it sees is the access door's business:
every view's queryset comes from visible_to / writable_by.)

- A partner key: its permission for the view's resource, "read" for GET/HEAD/OPTIONS and "write"
  for anything else; reference data is readable with any valid key.
- A signed-in user: any role of the portal (someone without one gets 403). Writes then go through
  the same services as the pages, which check the province (records: the door's "targets.write").
"""

from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import SAFE_METHODS, BasePermission

from accounts.access import can

from .authentication import is_partner


class ResourcePermission(BasePermission):
    message = _("This key or account may not use this endpoint.")

    def has_permission(self, request, view) -> bool:
        user = request.user
        if user is None or not user.is_authenticated:
            return False
        if not hasattr(view, request.method.lower()):
            return True  # the view answers 405 Method Not Allowed, which is more to the point than 403
        write = request.method not in SAFE_METHODS
        if is_partner(user):
            return user.key.allows(getattr(view, "resource", ""), write=write)
        if not can(user, "portal.use"):
            self.message = _("Your account has no role in the portal.")
            return False
        return True
