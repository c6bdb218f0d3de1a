"""One child's case (contacts, plan, referrals, closure) and assigning records to case workers."""

from django.urls import URLPattern, path

from . import views_case

# <pk> is the record's (a case's primary key is its record's).
urlpatterns: list[URLPattern] = [
    path("assign/", views_case.assign_many, name="assign"),
    path("unassigned/", views_case.unassigned, name="unassigned"),
    path("records/<int:pk>/assign/", views_case.assign_one, name="assign_one"),
    path("records/<int:pk>/contact/", views_case.contact_add, name="contact_add"),
    path("records/<int:pk>/step/", views_case.step_add, name="step_add"),
    path("records/<int:pk>/goal/", views_case.goal_set, name="goal"),
    path("records/<int:pk>/refer/", views_case.refer, name="refer"),
    path("records/<int:pk>/close/", views_case.close, name="close"),
    path("records/<int:pk>/reopen/", views_case.reopen, name="reopen"),
    path("records/<int:pk>/referrals/<int:referral>/status/", views_case.apply_outcome, name="apply_outcome"),
    path("steps/<int:pk>/done/", views_case.step_done, name="step_done"),
]
