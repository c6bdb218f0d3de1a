from django.urls import path

from . import views

app_name = "meetings"

urlpatterns = [
    path("", views.meeting_list, name="list"),
    path("calendar/<int:year>/<int:month>/", views.month, name="month"),
    path("new/", views.create, name="create"),
    path("lessons/", views.lessons, name="lessons"),
    path("actions/", views.actions, name="actions"),
    path("actions/<int:pk>/", views.action_edit, name="action_edit"),
    path("feed/", views.feed_settings, name="feed_settings"),
    path("feed/<str:token>.ics", views.feed, name="feed"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/edit/", views.edit, name="edit"),
    path("<int:pk>/delete/", views.delete, name="delete"),
    path("<int:pk>/minutes.<str:fmt>", views.minutes, name="minutes"),
    path("<int:pk>/agenda/new/", views.part_add, {"part": "agenda"}, name="agenda_add"),
    path("<int:pk>/agenda/<int:item_pk>/", views.part_edit, {"part": "agenda"}, name="agenda_edit"),
    path("<int:pk>/attendance/new/", views.part_add, {"part": "attendance"}, name="attendance_add"),
    path("<int:pk>/attendance/import/", views.attendance_import, name="attendance_import"),
    path("<int:pk>/attendance/<int:item_pk>/", views.part_edit, {"part": "attendance"}, name="attendance_edit"),
    path("<int:pk>/presentations/new/", views.part_add, {"part": "presentation"}, name="presentation_add"),
    path("<int:pk>/presentations/<int:item_pk>/", views.part_edit, {"part": "presentation"}, name="presentation_edit"),
    path("<int:pk>/lessons/new/", views.part_add, {"part": "lesson"}, name="lesson_add"),
    path("<int:pk>/lessons/<int:item_pk>/", views.part_edit, {"part": "lesson"}, name="lesson_edit"),
    path("<int:pk>/actions/new/", views.part_add, {"part": "action"}, name="action_add"),
    path("<int:pk>/attachments/new/", views.attachment_add, name="attachment_add"),
    path("<int:pk>/attachments/<int:attachment_pk>/", views.attachment, name="attachment"),
    path("<int:pk>/attachments/<int:attachment_pk>/delete/", views.attachment_delete, name="attachment_delete"),
]
