from typing import Any

from django.contrib.auth.decorators import login_required
from django.db.models import F
from django.shortcuts import render
from django.templatetags.static import static
from django.utils import timezone
from django.views.generic import RedirectView

from accounts.models import AnyUser
from core.buddhist_dates import current_fiscal_year, fiscal_year_bounds
from meetings.models import ActionItem, Meeting
from universities.models import SupportAssignment

# The home page lists the user's open action items (overdue first: oldest due date first) and their
# next meetings; the full lists are at meetings:actions and meetings:list.
HOME_ACTION_ITEMS = 10
HOME_MEETINGS = 5


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
            "memberships": request.user.memberships.select_related("province", "university"),
            "fiscal_year": fiscal_year,
            "fiscal_year_bounds": fiscal_year_bounds(fiscal_year),
            "today": timezone.localdate(),
            "assignments": assignments,
            **_meetings_of(request.user),
        },
    )


def _meetings_of(user: AnyUser) -> dict[str, Any]:
    """The user's open action items (as a person, a province, a university), flagged when overdue,
    and the next meetings they may see: two queries (three for a provincial role, whose meetings
    include those of the universities supporting the province)."""
    items = list(
        ActionItem.objects.visible_to(user)
        .owned_by(user)
        .open()
        .select_related("meeting", "owner_user", "owner_province", "owner_university")
        .order_by(F("due_date").asc(nulls_last=True), "pk")[: HOME_ACTION_ITEMS + 1]
    )
    return {
        "action_items": items[:HOME_ACTION_ITEMS],
        "more_action_items": len(items) > HOME_ACTION_ITEMS,
        "overdue_count": sum(item.is_overdue for item in items[:HOME_ACTION_ITEMS]),
        "upcoming_meetings": list(
            Meeting.objects.visible_to(user).upcoming().order_by("starts_on", "pk")[:HOME_MEETINGS]
        ),
    }


class FaviconView(RedirectView):
    """Browsers ask for /favicon.ico on every page that names no icon (admin, the API's pages, files opened
    directly): it leads to the portal's icon. Not permanent, since the icon's hashed name changes with the file."""

    permanent = False

    def get_redirect_url(self, *args, **kwargs) -> str:
        return static("img/favicon.svg")
