from django.urls import path

# The upload admin (targets/upload/admin.py) is registered here, at URL loading: targets/admin.py,
# which Django's admin autodiscovery imports, belongs to the record pages. The project's URLconf
# includes this module before it builds admin.site.urls, so the model is registered in time.
from targets.upload import admin as _upload_admin  # noqa: F401

from . import views

app_name = "uploads"

urlpatterns = [
    path("", views.upload_list, name="list"),
    path("new/", views.upload_new, name="new"),
    path("template.xlsx", views.upload_template, name="template"),
    path("<int:pk>/", views.upload_detail, name="detail"),
    path("<int:pk>/progress.json", views.upload_progress, name="progress"),
    path("<int:pk>/confirm/", views.upload_confirm, name="confirm"),
    path("<int:pk>/cancel/", views.upload_cancel, name="cancel"),
    path("<int:pk>/rejections.xlsx", views.upload_rejections, name="rejections"),
]
