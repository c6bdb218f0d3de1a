from import_export import fields
from import_export.widgets import ForeignKeyWidget

from accounts.admin_access import ScopedResource
from provinces.models import Province

from .models import SupportAssignment, University


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
