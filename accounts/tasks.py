"""Celery tasks of accounts: thin, taking what the request knew (accounts.password_reset)."""

import smtplib

from celery import shared_task

from .password_reset import send_reset_mail


# The address, not a user id: looking it up here, not in the request, is the point (the request
# must do the same work whether or not an account has it). A retry after a lost worker may mail a
# second link, which is harmless: each link works on its own until the password changes.
@shared_task(autoretry_for=(smtplib.SMTPException, OSError), retry_backoff=True, max_retries=5)
def send_password_reset(*, email: str, link: str, site_name: str, site_domain: str, language: str) -> int:
    return send_reset_mail(email=email, link=link, site_name=site_name, site_domain=site_domain, language=language)
