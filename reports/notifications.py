"""Mail to the next people in a report's workflow (reports.services.transition sends it on commit).

submit → the lead university's team (its leads and members) for the report's fiscal year;
review → the EEF/IPSR admins; accept and return → the province's coordinators.
Each person gets their own message (no one sees the others' addresses), in Thai and English,
with the absolute link to the report's page.
"""

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage, get_connection
from django.template.loader import render_to_string
from django.urls import reverse

from accounts.models import UNIVERSITY_ROLES, Role
from universities.models import SupportAssignment

from .models import ReportEvent

logger = logging.getLogger(__name__)


def recipients(*, event: ReportEvent) -> list[str]:
    """The email addresses of the people who act next (never the person who just acted)."""
    report = event.report
    users = get_user_model().objects.filter(is_active=True).exclude(pk=event.actor_id)
    if event.action == ReportEvent.Action.SUBMIT:
        assignments = SupportAssignment.objects.for_fiscal_year(report.fiscal_year).leads()
        lead = assignments.filter(province_id=report.province_id)
        users = users.filter(
            memberships__role__in=UNIVERSITY_ROLES, memberships__university__in=lead.values("university_id")
        )
    elif event.action == ReportEvent.Action.REVIEW:
        users = users.filter(memberships__role=Role.EEF_ADMIN)
    else:  # accepted or sent back: the province's coordinators
        users = users.filter(memberships__role=Role.PROVINCE_COORDINATOR, memberships__province_id=report.province_id)
    return sorted(set(users.values_list("email", flat=True)))


def report_url(*, report, base_url: str = "") -> str:
    path = reverse("reports:detail", kwargs={"pk": report.pk})
    return base_url.rstrip("/") + path if base_url else path


def notify_transition(*, event: ReportEvent, base_url: str = "") -> int:
    """Send the mails of one workflow step; return how many were sent. A mail server that fails is
    logged and does not undo the step, which has already been committed."""
    addresses = recipients(event=event)
    if not addresses:
        return 0
    context = {
        "event": event,
        "report": event.report,
        "actor": event.actor,
        "url": report_url(report=event.report, base_url=base_url),
    }
    subject = " ".join(render_to_string("reports/email/transition_subject.txt", context).split())
    body = render_to_string("reports/email/transition_message.txt", context)
    messages = [EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [address]) for address in addresses]
    try:
        return get_connection().send_messages(messages) or 0
    except Exception:  # any mail backend error: the report has moved regardless
        logger.exception("could not send the mail of report step %s", event.pk)
        return 0
