from django.urls import path

from . import views

app_name = "identity"

# Mounted at /identity/ (abe_portal/urls.py). No address carries an identifier: the other record's is sent
# in the proposal's form (a POST).
urlpatterns = [
    path("merges/", views.proposal_list, name="list"),
    path("merges/<int:pk>/", views.proposal_detail, name="detail"),
    path("merges/<int:pk>/confirm/", views.confirm, name="confirm"),
    path("merges/<int:pk>/reject/", views.reject, name="reject"),
    path("merges/<int:pk>/undo/", views.undo, name="undo"),
    path("records/<int:record_pk>/merge/", views.propose, name="propose"),
]
