from django.urls import path

from . import views

app_name = "analysis"
urlpatterns = [
    path("", views.set_list, name="list"),
    path("<int:pk>/", views.set_detail, name="detail"),
    path("<int:pk>/download/", views.set_download, name="download"),
]
