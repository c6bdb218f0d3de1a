from django.urls import path

from . import views

app_name = "summaries"

# Mounted at /dashboards/ (abe_portal/urls.py).
urlpatterns = [
    path("", views.national, name="national"),
    path("university/<str:code>/", views.university, name="university"),
    path("province/<int:code>/", views.province, name="province"),
    path("province/<int:code>/district/<int:district>/", views.district, name="district"),
    path("run/", views.run, name="run"),
    # ?level=national|university|province&code=<university short code or province DOPA code>
    path("export.<str:fmt>", views.export, name="export"),
]
