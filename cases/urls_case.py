"""One child's case (contacts, plan, referrals, closure) and assigning records to case workers."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
