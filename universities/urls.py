from django.urls import path

from . import views

app_name = "universities"

# "<str:code>/" comes last: it would otherwise take "activities/" and "requests/" for a university's code.
urlpatterns = [
    path("", views.university_list, name="list"),
    path("activities/", views.activity_list, name="activity_list"),
    path("activities/new/", views.activity_create, name="activity_create"),
    path("activities/export/", views.activity_export, name="activity_export"),
    path("activities/<int:pk>/", views.activity_detail, name="activity_detail"),
    path("activities/<int:pk>/attachment/", views.activity_attachment, name="activity_attachment"),
    path("requests/", views.request_list, name="request_list"),
    path("requests/new/", views.request_create, name="request_create"),
    path("requests/<int:pk>/", views.request_detail, name="request_detail"),
    path("requests/<int:pk>/action/", views.request_action, name="request_action"),
    path("<str:code>/", views.university_detail, name="detail"),
]
