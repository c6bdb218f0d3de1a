"""Invitations: there is no open sign-up, so an admin creates the account and the portal mails
the person a link to choose their own password (allauth's password-reset-from-key page)."""

from allauth.account.forms import default_token_generator
from allauth.account.utils import user_pk_to_url_str
from django.conf import settings
from django.core.mail import send_mail
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse

from .models import AnyUser, User


def invitation_url(*, user: User, request: HttpRequest) -> str:
    path = reverse(
        "account_reset_password_from_key",
        kwargs={"uidb36": user_pk_to_url_str(user), "key": default_token_generator.make_token(user)},
    )
    return request.build_absolute_uri(path)


def send_invitation(*, user: User, request: HttpRequest, invited_by: AnyUser) -> None:
    """Mail `user` a link to set their password. The link works once and expires after
    PASSWORD_RESET_TIMEOUT (3 days by default)."""
    context = {
        "user": user,
        "invited_by": invited_by,
        "url": invitation_url(user=user, request=request),
        "days": settings.PASSWORD_RESET_TIMEOUT // 86400,
    }
    send_mail(
        subject=render_to_string("accounts/email/invitation_subject.txt", context).strip(),
        message=render_to_string("accounts/email/invitation_message.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[user.email],
    )
