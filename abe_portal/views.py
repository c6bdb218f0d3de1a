from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import timezone

from abe_portal.buddhist_dates import current_fiscal_year, fiscal_year_bounds
from accounts.access import scope_for
from universities.models import SupportAssignment


@login_required
def home(request):
    """Each role's starting page: what the user's scope holds this fiscal year."""
    fiscal_year = current_fiscal_year()
    assignments = (
        SupportAssignment.objects.visible_to(request.user)
        .for_fiscal_year(fiscal_year)
        .leads()
        .select_related("province__region", "university")
        .order_by("province__name_th")
    )
    return render(
        request,
        "home.html",
        {
            "scope": scope_for(request.user),
            "memberships": request.user.memberships.select_related("province", "university"),
            "fiscal_year": fiscal_year,
            "fiscal_year_bounds": fiscal_year_bounds(fiscal_year),
            "today": timezone.localdate(),
            "assignments": assignments,
        },
    )
