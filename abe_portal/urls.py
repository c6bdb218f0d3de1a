from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from portal import views

from . import health

# Django admin signs in through allauth: one login page, with its rate limits and two-factor step.
admin.site.login = secure_admin_login(admin.site.login)  # type: ignore[method-assign]  # allauth's documented way
admin.site.site_header = _("ABE Portal administration")
admin.site.site_title = _("ABE Portal")
admin.site.index_title = _("Administration")

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", health.healthz, name="healthz"),
    path("favicon.ico", views.FaviconView.as_view(), name="favicon"),
    path("provinces/", include("portal.province_urls")),
    path("reports/", include("reports.urls")),
    path("universities/", include("universities.urls")),
    path("records/", include("targets.urls")),
    path("cases/", include("cases.urls")),
    path("identity/", include("identity.urls")),
    path("transfers/", include("transfers.urls")),
    path("duplicates/", include("duplicates.urls")),
    path("quality/", include("quality.urls")),
    path("uploads/", include("targets.upload.urls")),
    path("meetings/", include("meetings.urls")),
    path("dashboards/", include("summaries.urls")),
    path("exports/", include("exports.urls")),
    path("analysis/", include("analysis.urls")),
    path("api/", include("api.urls")),
    path("field/", include("fieldwork.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
]

# 403, 404 and the CSRF failure are Django's own views with templates/403.html, 404.html, 403_csrf.html; the 500 page
# needs a view of its own that renders without the database (abe_portal/errors.py).
handler500 = "abe_portal.errors.server_error"
