"""My work (the inbox), notifications, the agency directory and the agency's side of referrals."""

from django.urls import URLPattern, path

from . import views_work

urlpatterns: list[URLPattern] = [
    path("", views_work.inbox, name="inbox"),
    path("notifications/", views_work.notifications, name="notifications"),
    path("notifications/<int:pk>/open/", views_work.open_notification, name="open_notification"),
    path("referrals/", views_work.referral_list, name="referrals"),
    path("referrals/<int:pk>/", views_work.referral_detail, name="referral"),
    path("children/<int:record_pk>/", views_work.agency_child, name="agency_child"),
    path("agencies/", views_work.agency_list, name="agencies"),
    path("agencies/new/", views_work.agency_new, name="agency_new"),
    path("agencies/<int:pk>/edit/", views_work.agency_edit, name="agency_edit"),
]
