from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from import_export import fields
from import_export.widgets import ForeignKeyWidget

from accounts.admin_access import ScopedResource
from core.spreadsheet_safety import neutralise_formula
from provinces.models import Province

from .models import CapacityRequest, SupportActivity, SupportAssignment, University
from .services import check_activity_place, may_record_for


class SupportAssignmentResource(ScopedResource):
    """Assignments in and out of spreadsheets, by university short code and province DOPA code."""

    university = fields.Field("university", "university", ForeignKeyWidget(University, "code"))
    province = fields.Field("province", "province", ForeignKeyWidget(Province, "code"))

    class Meta:
        model = SupportAssignment
        fields = ("fiscal_year", "province", "university", "is_lead")
        import_id_fields = ("fiscal_year", "province", "university")
        skip_unchanged = True
        report_skipped = True


class NeutralisedExportMixin:
    """Exported text cells cannot run as spreadsheet formulas (core/spreadsheet_safety.py)."""

    def export_field(self, field, instance, **kwargs):
        return neutralise_formula(super().export_field(field, instance, **kwargs))


class SupportActivityResource(NeutralisedExportMixin, ScopedResource):
    """Support activities in and out of spreadsheets, by university short code and province DOPA code.

    A row is saved only if the user may record activities for its university (the university's
    team, or EEF/IPSR) and the university supports the province in the fiscal year of the row's
    date: the rules of `universities.services.record_activity`. A row matching an existing activity
    (same university, province, date and title) updates it instead of adding another.
    """

    university = fields.Field("university", "university", ForeignKeyWidget(University, "code"))
    province = fields.Field("province", "province", ForeignKeyWidget(Province, "code"))

    class Meta:
        model = SupportActivity
        fields = ("date", "university", "province", "role", "title", "description", "participants")
        import_id_fields = ("university", "province", "date", "title")
        clean_model_instances = True
        skip_unchanged = True
        report_skipped = True

    def before_save_instance(self, instance, row, **kwargs):
        super().before_save_instance(instance, row, **kwargs)
        if not may_record_for(self.user, instance.university):
            raise ValidationError(
                {
                    "university": _("You may not record activities of %(university)s.")
                    % {"university": instance.university.code}
                }
            )
        check_activity_place(university=instance.university, province=instance.province, date=instance.date)
        if instance.pk is None:
            instance.created_by = self.user


class CapacityRequestResource(NeutralisedExportMixin, ScopedResource):
    """Capacity requests out to spreadsheets. Never in: a request is filed and moved through the
    services (universities/services.py), so that its workflow keeps its rules."""

    province = fields.Field("province", "province", ForeignKeyWidget(Province, "code"))
    university = fields.Field("university", "university", ForeignKeyWidget(University, "code"))

    class Meta:
        model = CapacityRequest
        fields = (
            "id",
            "province",
            "university",
            "topic",
            "need",
            "desired_date",
            "participants",
            "status",
            "scheduled_for",
            "decline_reason",
            "rating",
            "feedback",
            "created_at",
        )

    def before_import_row(self, row, **kwargs):
        raise ValidationError(_("Capacity requests are filed on the portal's pages, not imported."))
