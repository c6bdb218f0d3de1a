from django.urls import URLPattern, path

from . import views

app_name = "transfers"

urlpatterns: list[URLPattern] = [
    path("", views.inbox, name="inbox"),
    path("new/", views.new, name="new"),
    path("<int:pk>/", views.detail, name="detail"),
]
