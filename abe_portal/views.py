from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from abe_portal.buddhist_dates import current_fiscal_year
from universities.models import SupportAssignment


@login_required
def home(request):
    fiscal_year = current_fiscal_year()
    assignments = (
        SupportAssignment.objects.for_fiscal_year(fiscal_year).leads().select_related("province__region", "university")
    )
    return render(request, "home.html", {"fiscal_year": fiscal_year, "assignments": assignments})
