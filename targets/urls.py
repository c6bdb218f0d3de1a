from django.urls import path

from . import views

app_name = "targets"

# Mounted at /records/ (abe_portal/urls.py). No URL carries a name or an identifier: a search is
# kept in the session and reached by an opaque key (targets.views, "search").
urlpatterns = [
    path("", views.record_list, name="list"),
    path("export/", views.record_export, name="export"),
    path("new/", views.record_create, name="create"),
    path("<int:pk>/", views.record_detail, name="detail"),
    path("<int:pk>/edit/", views.record_edit, name="edit"),
    path("<int:pk>/help/new/", views.help_add, name="help_add"),
    path("<int:pk>/status/", views.status_change, name="status"),
]
