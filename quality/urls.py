from django.urls import path

from . import views

app_name = "quality"

# Mounted at /quality/ (abe_portal/urls.py). A province by its code; a rule by its code (quality.rules.RULES).
urlpatterns = [
    path("<int:code>/", views.province, name="province"),
    path("<int:code>/records.xlsx", views.export, name="export"),
    path("<int:code>/<slug:rule>/", views.rule_records, name="rule_records"),
]
