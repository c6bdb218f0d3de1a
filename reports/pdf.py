"""One progress report as a PDF (WeasyPrint, the portal's Thai fonts: core/thai_pdf.py), dates in พ.ศ. for Thai.

`render_report_pdf(report, language=...)` is called by the report's page (reports.views.report_pdf) after the
report was fetched through its access door; it reads the report's steps in one query and writes the PDF in the
requested language.
"""

from django.utils import timezone, translation
from django.utils.translation import gettext as _

from core.thai_pdf import font_context, write_pdf

from .models import ProgressReport, period_bounds


def report_filename(report: ProgressReport) -> str:
    return f"progress-report-{report.province_id}-{report.fiscal_year}-{report.period}.pdf"


def render_report_pdf(report: ProgressReport, *, language: str = "th") -> bytes:
    """The PDF of `report` (with province and created_by selected) in `language`."""
    with translation.override(language):
        period_start, period_end = period_bounds(report.fiscal_year, report.period)
        context = {
            "report": report,
            "events": list(report.events.select_related("actor")),
            "period_start": period_start,
            "period_end": period_end,
            "printed_at": timezone.now(),
            "language": language,
            **font_context(page_label=_("Page")),
        }
        return write_pdf("reports/pdf.html", context, what="The report's PDF")
