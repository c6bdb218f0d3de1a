from allauth.mfa.apps import MFAConfig
from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    default = True  # the app's own config: this module holds another app's as well
    verbose_name = _("Accounts")


class TwoFactorConfig(MFAConfig):
    """allauth's two-factor app (INSTALLED_APPS names this instead of "allauth.mfa"), with names a Thai admin
    can read: allauth calls the app "MFA" and its model has no verbose name (Django's "authenticators")."""

    verbose_name = _("Two-factor sign-in")

    def ready(self) -> None:
        super().ready()
        from allauth.mfa.models import Authenticator

        # Display names only: migrations read Meta as declared (_meta.original_attrs), so none is made for these.
        Authenticator._meta.verbose_name = _("two-factor device")
        Authenticator._meta.verbose_name_plural = _("two-factor devices")
