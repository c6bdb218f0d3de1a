"""Mounted at /field/ (abe_portal/urls.py): the web app's shell, its manifest, its service worker and its API."""

from django.urls import path

from . import views, views_sync

app_name = "fieldwork"

urlpatterns = [
    path("", views.shell, name="shell"),
    path("manifest.webmanifest", views.manifest, name="manifest"),
    path("sw.js", views.service_worker, name="service_worker"),
    path("api/my-cases/", views.my_cases, name="my_cases"),
    path("api/sync/", views_sync.sync_changes, name="sync"),
]
