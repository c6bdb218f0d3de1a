"""My work (the inbox), notifications, the agency directory and the agency's side of referrals."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
