"""The API's own pages: its root (what there is), the schema's documentation page, and a JSON 404
for any other address under /api/."""

from django.urls import reverse
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularSwaggerSplitView
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from ..models import REFERENCE, RESOURCES
from .base import ApiView


class RootSerializer(serializers.Serializer):
    version = serializers.CharField()
    resources = serializers.DictField(child=serializers.URLField())
    permissions = serializers.ListField(child=serializers.CharField(), help_text="Resources a key can be given")
    schema = serializers.URLField()
    docs = serializers.URLField()


ROOT_LINKS = {
    "provinces": "api:province-list",
    "districts": "api:district-list",
    "sub_districts": "api:subdistrict-list",
    "universities": "api:university-list",
    "assignments": "api:assignment-list",
    "categories": "api:category-list",
    "outcomes": "api:outcome-list",
    "assistance_types": "api:assistancetype-list",
    "working_group_members": "api:workinggroupmember-list",
    "plans": "api:plan-list",
    "progress_reports": "api:progressreport-list",
    "support_activities": "api:supportactivity-list",
    "capacity_requests": "api:capacityrequest-list",
    "meetings": "api:meeting-list",
    "action_items": "api:actionitem-list",
    "records": "api:records",
    "records_bulk": "api:records-bulk",
    "records_changes": "api:records-changes",
    "referrals": "api:referrals",
    "cases_changes": "api:cases-changes",
    "imports": "api:imports",
    "summaries": "api:summary-list",
}


class RootView(ApiView):
    """What the API offers (v1) and where its schema and documentation are."""

    resource = REFERENCE

    @extend_schema(summary="The API's resources", responses=RootSerializer, tags=["api"])
    def get(self, request):
        absolute = request.build_absolute_uri
        return Response(
            {
                "version": "1",
                "resources": {name: absolute(reverse(route)) for name, route in ROOT_LINKS.items()},
                "permissions": sorted(RESOURCES),
                "schema": absolute(reverse("api-schema")),
                "docs": absolute(reverse("api-docs")),
            }
        )


class NotFoundView(ApiView):
    """Any other address under /api/: the API's 404, for everyone."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = []
    schema = None  # not an endpoint

    def _missing(self, request, *args, **kwargs):
        raise NotFound

    get = post = put = patch = delete = head = options = _missing


class DocsView(SpectacularSwaggerSplitView):
    """Swagger UI from drf-spectacular-sidecar (no CDN), its settings script served from this URL
    (?script) instead of inline: the portal's CSP allows scripts from 'self' only."""

    template_name = "api/swagger_ui.html"
