from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from . import health, views

# Django admin signs in through allauth: one login page, with its rate limits and two-factor step.
admin.site.login = secure_admin_login(admin.site.login)
admin.site.site_header = _("ABE Portal administration")
admin.site.site_title = _("ABE Portal")
admin.site.index_title = _("Administration")

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", health.healthz, name="healthz"),
    path("provinces/", include("provinces.urls")),
    path("reports/", include("reports.urls")),
    path("universities/", include("universities.urls")),
    path("records/", include("targets.urls")),
    path("uploads/", include("targets.upload.urls")),
    path("meetings/", include("meetings.urls")),
    path("dashboards/", include("summaries.urls")),
    path("api/", include("api.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
]
