"""Progress reports out to spreadsheets (django-import-export), through the access door.

Export only: reports are written on the portal's pages, where the workflow is enforced
(reports.services); a spreadsheet cannot bring one in or move it.
"""

import datetime

from django.core.exceptions import PermissionDenied
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from import_export import fields

from accounts.admin_access import ScopedResource
from core.spreadsheet_safety import neutralise_formula

from .models import ProgressReport


class ProgressReportResource(ScopedResource):
    province_code = fields.Field(attribute="province__code", column_name=_("province code"))
    province = fields.Field(attribute="province__name_th", column_name=_("province"))
    fiscal_year = fields.Field(attribute="fiscal_year", column_name=_("fiscal year (B.E.)"))
    period = fields.Field(attribute="period", column_name=_("period"))
    status = fields.Field(attribute="status", column_name=_("status"))
    situation = fields.Field(attribute="situation", column_name=_("Situation overview"))
    mechanisms = fields.Field(attribute="mechanisms", column_name=_("Key mechanisms"))
    progress = fields.Field(attribute="progress", column_name=_("Progress"))
    recommendations = fields.Field(attribute="recommendations", column_name=_("Recommendations"))
    lessons_learned = fields.Field(attribute="lessons_learned", column_name=_("Lessons learned"))
    created_by = fields.Field(attribute="created_by", column_name=_("created by"))
    updated_at = fields.Field(attribute="updated_at", column_name=_("updated at"))

    class Meta:
        model = ProgressReport
        fields = (
            "province_code",
            "province",
            "fiscal_year",
            "period",
            "status",
            "situation",
            "mechanisms",
            "progress",
            "recommendations",
            "lessons_learned",
            "created_by",
            "updated_at",
        )

    def dehydrate_province_code(self, report: ProgressReport) -> int:
        return report.province_id

    def dehydrate_fiscal_year(self, report: ProgressReport) -> int:
        return report.fiscal_year

    def dehydrate_status(self, report: ProgressReport) -> str:
        return str(report.get_status_display())

    def dehydrate_created_by(self, report: ProgressReport) -> str:
        return str(report.created_by)

    def dehydrate_updated_at(self, report: ProgressReport) -> datetime.datetime:
        # Excel has no time zones: local (Bangkok) time, as the pages show it.
        return timezone.localtime(report.updated_at).replace(tzinfo=None)

    def export_field(self, field, instance, **kwargs):
        # Every text cell, whichever field it comes from: no cell may start a formula.
        return neutralise_formula(super().export_field(field, instance, **kwargs))

    def before_import(self, dataset, **kwargs):
        raise PermissionDenied("progress reports are written on the portal, not imported")
