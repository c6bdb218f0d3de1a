"""Mounted at /cases/ (abe_portal/urls.py): my work, notifications, the agency side (urls_work), one child's
case and assignment (urls_case)."""

from . import urls_case, urls_work

app_name = "cases"

urlpatterns = [*urls_work.urlpatterns, *urls_case.urlpatterns]
