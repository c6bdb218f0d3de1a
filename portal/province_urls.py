from django.urls import path

from . import province_views as views

app_name = "provinces"

urlpatterns = [
    path("", views.province_list, name="list"),
    path("<int:code>/", views.province_detail, name="detail"),
    path("<int:code>/working-group/new/", views.member_create, name="member_create"),
    path("<int:code>/working-group/<int:pk>/edit/", views.member_edit, name="member_edit"),
    path("<int:code>/working-group/import/", views.working_group_import, name="working_group_import"),
    path("<int:code>/working-group/export/", views.working_group_export, name="working_group_export"),
    path("<int:code>/plans/<int:fiscal_year>/", views.plan_edit, name="plan_edit"),
]
