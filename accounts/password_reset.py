"""Password reset that costs the request the same whether or not the address has an account.

allauth's form makes and mails a token for a known address only, in the request: 15–35 ms against
about 8 ms for an unknown one, enough for an outsider to tell which addresses have accounts. Here the
request only enqueues `accounts.tasks.send_password_reset`, which looks the address up (README.md,
"Accounts, roles and who sees what", on the embedded default, where tasks run inline).
"""

import contextlib
import logging
from dataclasses import asdict, dataclass
from urllib.parse import quote

from allauth.account.adapter import get_adapter
from allauth.account.forms import ResetPasswordForm, default_token_generator
from allauth.account.internal.userkit import filter_users_by_email
from allauth.account.utils import user_pk_to_url_str
from django.conf import settings
from django.contrib.sites.shortcuts import get_current_site
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext_noop
from kombu.exceptions import OperationalError as BrokerError

logger = logging.getLogger(__name__)

# Stands for "<uidb36>-<token>" in the link the request builds; the task, which makes the token, puts
# it in. Letters only, so allauth's quote() leaves it as it is.
KEY_PLACEHOLDER = "RESETKEYPLACEHOLDER"
TEMPLATE_PREFIX = "account/email/password_reset_key"
# allauth's template asks for this text, and allauth's own Thai for it is broken: the portal's catalog
# translates it, and naming it here keeps it there when `make messages` rebuilds the catalog.
RESET_MAIL_TEXT = gettext_noop(
    "You're receiving this email because you or someone else has requested a password reset for your user "
    "account.\nIt can be safely ignored if you did not request a password reset. Click the link below to reset "
    "your password."
)


@dataclass(frozen=True)
class ResetRequest:
    """What the task needs from the request that asked (JSON for Celery): all of it is computed the
    same way for every address, so the request does the same work for a known and an unknown one."""

    email: str
    link: str  # the absolute reset link (frontend URL and protocol settings applied), with KEY_PLACEHOLDER
    site_name: str
    site_domain: str
    language: str


class PasswordResetForm(ResetPasswordForm):
    """allauth's reset form without the lookup in the request (ACCOUNT_FORMS["reset_password"]).

    allauth's own clean_email refuses unknown addresses only with ACCOUNT_PREVENT_ENUMERATION off;
    it is on (the default), so every well-formed address is accepted, as here.
    """

    def clean_email(self) -> str:
        return get_adapter().clean_email(self.cleaned_data["email"].lower())

    def save(self, request, **kwargs) -> str:
        adapter = get_adapter(request)
        site = get_current_site(request)
        reset = ResetRequest(
            email=self.cleaned_data["email"],
            link=adapter.get_reset_password_from_key_url(KEY_PLACEHOLDER),
            site_name=site.name,
            site_domain=site.domain,
            language=translation.get_language() or settings.LANGUAGE_CODE,
        )
        transaction.on_commit(lambda: enqueue_reset_mail(reset))
        return reset.email


def enqueue_reset_mail(reset: ResetRequest) -> None:
    from .tasks import send_password_reset

    try:
        send_password_reset.delay(**asdict(reset))
    except BrokerError:
        # The broker (Redis) is down: send from here rather than lose the mail. Only while it is
        # down does the request take longer for a known address. No address in the log line.
        logger.warning("Broker unreachable: the password-reset mail is sent from the request")
        send_reset_mail(**asdict(reset))


def send_reset_mail(*, email: str, link: str, site_name: str, site_domain: str, language: str) -> int:
    """Mail a reset link to each active account with `email`; the number of mails sent. An unknown
    address gets nothing (ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS is off). The mail is allauth's (its
    templates, token and link), rendered without a request."""
    # The lookup of allauth's ResetPasswordForm.clean_email, moved here from the request.
    users = filter_users_by_email(email, is_active=True, prefer_verified=True, for_login=True)
    site = {"name": site_name, "domain": site_domain}
    for user in users:
        uid, token = user_pk_to_url_str(user), default_token_generator.make_token(user)
        context = {
            "user": user,
            "email": email,
            "current_site": site,
            "uid": uid,
            "key": token,
            "password_reset_url": link.replace(KEY_PLACEHOLDER, quote(f"{uid}-{token}")),
        }
        with translation.override(language):
            _render(context, site_name=site_name, to=email).send()
    return len(users)


def _render(context: dict, *, site_name: str, to: str) -> EmailMultiAlternatives:
    """The message as allauth's adapter renders it (render_mail), whose subject prefix would need a
    request: "[site name] " unless ACCOUNT_EMAIL_SUBJECT_PREFIX says otherwise."""
    subject = " ".join(render_to_string(f"{TEMPLATE_PREFIX}_subject.txt", context).splitlines()).strip()
    prefix = getattr(settings, "ACCOUNT_EMAIL_SUBJECT_PREFIX", None)
    subject = (f"[{site_name}] " if prefix is None else prefix) + subject
    body = render_to_string(f"{TEMPLATE_PREFIX}_message.txt", context).strip()
    message = EmailMultiAlternatives(subject, body, get_adapter().get_from_email(), [to])
    with contextlib.suppress(TemplateDoesNotExist):  # allauth ships the text only; a project may add HTML
        message.attach_alternative(render_to_string(f"{TEMPLATE_PREFIX}_message.html", context).strip(), "text/html")
    return message
