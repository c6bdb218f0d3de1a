from django.urls import path

from . import views

app_name = "duplicates"

# Mounted at /duplicates/ (abe_portal/urls.py). Pairs are reached by their own id, never a name or an identifier.
urlpatterns = [
    path("", views.queue, name="queue"),
    path("<int:pk>/not-same/", views.not_same, name="not_same"),
]
