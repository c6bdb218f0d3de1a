"""What every API view shares: the language of its messages, a query string without control characters,
and lists read through the access door."""

from django.conf import settings
from django.utils import translation
from rest_framework import viewsets
from rest_framework.views import APIView

from core import control_characters

from ..parsers import refuse

LANGUAGES = {code for code, _name in settings.LANGUAGES}


class ApiMixin:
    """The API's messages are in Thai, or in English with ?lang=en (the portal ignores Accept-Language:
    abe_portal/language.py; a browser's language cookie is honoured as on the pages)."""

    resource = ""  # api.models.RESOURCES key (or REFERENCE), for api.permissions.ResourcePermission

    def initial(self, request, *args, **kwargs):
        lang = request.query_params.get("lang")
        if lang in LANGUAGES:
            translation.activate(lang)
            request._request.LANGUAGE_CODE = lang
        super().initial(request, *args, **kwargs)
        # NUL and other control characters in the query string: 400, as in a body (api.parsers).
        refuse(control_characters.find_in_querydict(request.query_params))


class ApiView(ApiMixin, APIView):
    pass


class ScopedReadOnlyViewSet(ApiMixin, viewsets.ReadOnlyModelViewSet):
    """A list and a detail of one model, through the access door: `visible_to(request.user)`, so
    an object outside the caller's scope answers 404 exactly as a missing one."""

    lookup_value_converter = "int"

    def get_queryset(self):
        # .all(): visible_to may return the queryset itself, which must not keep results between requests.
        return self.queryset.all().visible_to(self.request.user)
