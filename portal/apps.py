from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PortalConfig(AppConfig):
    """The top layer: the pages that gather every feature (home, the province page), provincial plans,
    and the reference and demo data loaders. It may import every app; none imports it."""

    name = "portal"
    verbose_name = _("Portal")
