"""/api/: the schema, its documentation page, and version 1 under /api/v1/ (docs/api.md).

The router uses path converters and no format suffixes, so that each endpoint has one URL pattern
(and one row in the access matrix, tests/matrix_rows/api.py).
"""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.routers import SimpleRouter

from .views import cases, duplicates, exports, imports, merges, meta, records, resources, transfers

router = SimpleRouter(use_regex_path=False)
router.register("provinces", resources.ProvinceViewSet, basename="province")
router.register("districts", resources.DistrictViewSet, basename="district")
router.register("sub-districts", resources.SubDistrictViewSet, basename="subdistrict")
router.register("universities", resources.UniversityViewSet, basename="university")
router.register("assignments", resources.SupportAssignmentViewSet, basename="assignment")
router.register("categories", resources.CategoryViewSet, basename="category")
router.register("outcomes", resources.OutcomeViewSet, basename="outcome")
router.register("assistance-types", resources.AssistanceTypeViewSet, basename="assistancetype")
router.register("working-group-members", resources.WorkingGroupMemberViewSet, basename="workinggroupmember")
router.register("plans", resources.ProvincialPlanViewSet, basename="plan")
router.register("progress-reports", resources.ProgressReportViewSet, basename="progressreport")
router.register("support-activities", resources.SupportActivityViewSet, basename="supportactivity")
router.register("capacity-requests", resources.CapacityRequestViewSet, basename="capacityrequest")
router.register("meetings", resources.MeetingViewSet, basename="meeting")
router.register("action-items", resources.ActionItemViewSet, basename="actionitem")
router.register("summaries", resources.SnapshotViewSet, basename="summary")
router.register("duplicates", duplicates.DuplicateCandidateViewSet, basename="duplicate")

v1 = [
    path("", meta.RootView.as_view(), name="root"),
    path("records/", records.RecordListView.as_view(), name="records"),
    path("records/bulk/", records.RecordBulkView.as_view(), name="records-bulk"),
    path("records/changes/", records.RecordChangesView.as_view(), name="records-changes"),
    path("records/lookup/", records.RecordLookupView.as_view(), name="record-lookup"),
    path("records/<int:pk>/", records.RecordDetailView.as_view(), name="record"),
    path("records/<int:pk>/history/", records.RecordHistoryView.as_view(), name="record-history"),
    path("records/<int:pk>/help/", records.RecordHelpView.as_view(), name="record-help"),
    path("imports/", imports.UploadListView.as_view(), name="imports"),
    path("imports/<int:pk>/", imports.UploadDetailView.as_view(), name="import"),
    path("imports/<int:pk>/apply/", imports.UploadApplyView.as_view(), name="import-apply"),
    path("exports/", exports.ExportListView.as_view(), name="exports"),
    path("exports/<int:pk>/", exports.ExportDetailView.as_view(), name="export"),
    path("exports/<int:pk>/download/", exports.ExportDownloadView.as_view(), name="export-download"),
    *cases.URLS,
    *merges.URLS,
    *transfers.URLS,
    *router.urls,
]

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", meta.DocsView.as_view(url_name="api-schema"), name="api-docs"),
    path("v1/", include((v1, "api"))),
    re_path(r"^", meta.NotFoundView.as_view(), name="api-not-found"),
]
