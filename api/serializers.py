"""What the API shows of each resource. Related rows appear by their codes (a province by its DOPA
code, a university by its short code, a category or status by its slug), which partners also use
to write; the views' querysets select or prefetch whatever a serializer reads (serializers never
query).

Target-group records are serialised by `records.record_row` (values(), no model instances: several
times faster on pages of a thousand); `TargetRecordSerializer` here only describes them for the
schema, and a test keeps the two in step.
"""

from drf_spectacular.utils import OpenApiExample, extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from meetings.models import ActionItem, Meeting
from provinces.models import District, PlanGoal, Province, ProvincialPlan, SubDistrict, WorkingGroupMember
from reports.models import ProgressReport
from summaries.models import Snapshot
from summaries.schema import dump, readable
from targets.models import AssistanceType, Category, Outcome, UploadBatch
from universities.models import CapacityRequest, SupportActivity, SupportAssignment, University

# --- Reference data -----------------------------------------------------------------------------------


class ProvinceSerializer(serializers.ModelSerializer):
    region = serializers.IntegerField(source="region_id", read_only=True)

    class Meta:
        model = Province
        fields = ["code", "name_th", "name_en", "region"]


class DistrictSerializer(serializers.ModelSerializer):
    province = serializers.IntegerField(source="province_id", read_only=True)

    class Meta:
        model = District
        fields = ["code", "name_th", "name_en", "province"]


class SubDistrictSerializer(serializers.ModelSerializer):
    district = serializers.IntegerField(source="district_id", read_only=True)

    class Meta:
        model = SubDistrict
        fields = ["code", "name_th", "name_en", "district", "postcode"]


class UniversitySerializer(serializers.ModelSerializer):
    class Meta:
        model = University
        fields = ["code", "name_th", "name_en", "is_coordinating"]


class SupportAssignmentSerializer(serializers.ModelSerializer):
    university = serializers.CharField(source="university.code", read_only=True)
    province = serializers.IntegerField(source="province_id", read_only=True)

    class Meta:
        model = SupportAssignment
        fields = ["id", "university", "province", "fiscal_year", "is_lead"]


class CategorySerializer(serializers.ModelSerializer):
    """Target-group categories; records name theirs by code."""

    class Meta:
        model = Category
        fields = ["code", "name_th", "name_en", "is_active"]


class OutcomeSerializer(serializers.ModelSerializer):
    class Meta:
        model = Outcome
        fields = ["code", "name_th", "name_en", "group", "is_active"]


class AssistanceTypeSerializer(serializers.ModelSerializer):
    class Meta:
        model = AssistanceType
        fields = ["code", "name_th", "name_en", "is_active"]


# --- Provincial work ----------------------------------------------------------------------------------

# Every object people edit carries its version (core.versioning), also its answer's ETag.
VERSION_HELP = "Goes up by one with every change; the ETag of the object's own answer. Send it back to change it."


class WorkingGroupMemberSerializer(serializers.ModelSerializer):
    province = serializers.IntegerField(source="province_id", read_only=True)

    class Meta:
        model = WorkingGroupMember
        fields = [
            "id", "province", "name", "position", "organisation", "group_role", "phone", "email", "active_from",
            "active_until",
        ]  # fmt: skip


class PlanGoalSerializer(serializers.ModelSerializer):
    category = serializers.CharField(source="category.code", read_only=True)
    outcome = serializers.CharField(source="outcome.code", read_only=True)

    class Meta:
        model = PlanGoal
        fields = ["category", "outcome", "target"]


class ProvincialPlanSerializer(serializers.ModelSerializer):
    province = serializers.IntegerField(source="province_id", read_only=True)
    goals = PlanGoalSerializer(many=True, read_only=True)

    class Meta:
        model = ProvincialPlan
        fields = ["id", "province", "fiscal_year", "strategy", "goals", "version", "created_at", "updated_at"]


class ProgressReportSerializer(serializers.ModelSerializer):
    province = serializers.IntegerField(source="province_id", read_only=True)

    class Meta:
        model = ProgressReport
        fields = [
            "id", "province", "fiscal_year", "period", "status", "situation", "mechanisms", "progress",
            "recommendations", "lessons_learned", "version", "created_at", "updated_at",
        ]  # fmt: skip


class SupportActivitySerializer(serializers.ModelSerializer):
    university = serializers.CharField(source="university.code", read_only=True)
    province = serializers.IntegerField(source="province_id", read_only=True)
    has_attachment = serializers.SerializerMethodField()

    class Meta:
        model = SupportActivity
        fields = [
            "id", "university", "province", "role", "date", "title", "description", "participants",
            "has_attachment", "created_at",
        ]  # fmt: skip

    def get_has_attachment(self, activity: SupportActivity) -> bool:
        return bool(activity.attachment)


class CapacityRequestSerializer(serializers.ModelSerializer):
    university = serializers.CharField(source="university.code", read_only=True)
    province = serializers.IntegerField(source="province_id", read_only=True)
    delivered_activity = serializers.IntegerField(source="delivered_activity_id", read_only=True, allow_null=True)
    is_overdue = serializers.BooleanField(read_only=True)

    class Meta:
        model = CapacityRequest
        fields = [
            "id", "province", "university", "topic", "need", "desired_date", "participants", "status",
            "scheduled_for", "decline_reason", "delivered_activity", "rating", "feedback", "is_overdue", "version",
            "created_at", "updated_at",
        ]  # fmt: skip


class MeetingSerializer(serializers.ModelSerializer):
    provinces = serializers.SerializerMethodField()
    universities = serializers.SerializerMethodField()

    class Meta:
        model = Meeting
        fields = [
            "id", "title", "kind", "starts_on", "ends_on", "start_time", "end_time", "venue", "online_link",
            "description", "status", "provinces", "universities", "version", "created_at", "updated_at",
        ]  # fmt: skip
        # Thailand times (Asia/Bangkok) on the first and last day; both null for an all-day meeting.

    # From the view's prefetch_related("provinces", "universities"): no query here.
    def get_provinces(self, meeting: Meeting) -> list[int]:
        return sorted(p.pk for p in meeting.provinces.all())

    def get_universities(self, meeting: Meeting) -> list[str]:
        return sorted(u.code for u in meeting.universities.all())


class ActionItemSerializer(serializers.ModelSerializer):
    meeting = serializers.IntegerField(source="meeting_id", read_only=True)
    owner_province = serializers.IntegerField(source="owner_province_id", read_only=True, allow_null=True)
    owner_university = serializers.CharField(source="owner_university.code", read_only=True, allow_null=True)
    is_overdue = serializers.BooleanField(read_only=True)

    class Meta:
        model = ActionItem
        fields = [
            "id", "meeting", "what", "owner_province", "owner_university", "due_date", "status", "note", "is_overdue",
            "created_at", "updated_at",
        ]  # fmt: skip


class ReferralCountsSerializer(serializers.Serializer):
    open = serializers.IntegerField(help_text="Sent, accepted or in progress.")
    overdue = serializers.IntegerField(help_text="Open past their deadline.")
    completed = serializers.IntegerField()
    unresolved = serializers.IntegerField(help_text="Declined or closed unresolved.")
    median_days_to_complete = serializers.FloatField(
        allow_null=True, help_text="Median calendar days from sent to completed; null before any is completed."
    )


class CaseFiguresSerializer(serializers.Serializer):
    """Case follow-up (schema 3; a snapshot of 2 gives zeros): README.md, "What the figures count"."""

    in_follow_up = serializers.IntegerField(help_text="Records assigned to a case worker whose case is open.")
    contacted_30d = serializers.IntegerField(help_text="Of those, contacted (reached or not) in the last 30 days.")
    share_contacted_30d = serializers.FloatField(allow_null=True, help_text="contacted_30d / in_follow_up, percent.")
    waiting_first_contact = serializers.IntegerField(help_text="In follow-up and never contacted.")
    with_first_contact = serializers.IntegerField(help_text="Records (open or closed cases) with a first contact.")
    median_days_to_first_contact = serializers.FloatField(
        allow_null=True, help_text="Median calendar days from the record's creation to its first contact."
    )
    closed_by_reason = serializers.DictField(child=serializers.IntegerField(), help_text="Close reason -> cases.")
    referrals = ReferralCountsSerializer(help_text="All agency types.")
    referrals_by_agency_type = serializers.DictField(
        child=ReferralCountsSerializer(), help_text="Agency type code -> its referrals."
    )


class QualityScoreSerializer(serializers.Serializer):
    """The data-quality score of a snapshot's subject (README.md, "The quality score")."""

    checked = serializers.IntegerField(help_text="Records the rules looked at: all of the subject's.")
    flagged = serializers.IntegerField(help_text="Of them, records found by at least one rule switched on (once each).")
    rules = serializers.IntegerField(help_text="Data-quality rules switched on when the figures were computed.")
    score = serializers.FloatField(
        allow_null=True,
        help_text="The share (%) of the records that no rule found, rounded down to one decimal (100 = none found); "
        "null without records.",
    )


class SnapshotSerializer(serializers.ModelSerializer):
    province = serializers.IntegerField(source="province_id", read_only=True, allow_null=True)
    university = serializers.CharField(source="university.code", read_only=True, allow_null=True)
    run = serializers.IntegerField(source="run_id", read_only=True)
    cases = serializers.SerializerMethodField()
    quality = serializers.SerializerMethodField()

    class Meta:
        model = Snapshot
        fields = ["id", "run", "level", "province", "university", "fiscal_year", "as_of", "data", "cases", "quality"]

    @extend_schema_field(CaseFiguresSerializer(allow_null=True))
    def get_cases(self, instance: Snapshot) -> dict | None:
        """`data.cases`, described: null for a snapshot this code cannot read."""
        return instance.figures.cases.to_json() if readable(instance.schema) else None

    @extend_schema_field(QualityScoreSerializer(allow_null=True))
    def get_quality(self, instance: Snapshot) -> dict | None:
        """`data.quality`, described: null when unknown (figures computed before the score, or unreadable)."""
        quality = instance.figures.quality if readable(instance.schema) else None
        return quality.to_json() if quality is not None else None

    def to_representation(self, instance):
        found = super().to_representation(instance)
        # The figures as today's schema has them (summaries.schema), an older readable snapshot
        # upgraded; one this code cannot read (an older run's, found by its id) as it was stored.
        if readable(instance.schema):
            found["data"] = dump(instance.figures)
        return found


# --- Target-group records -------------------------------------------------------------------------------

RECORD_EXAMPLE = {
    "id": 1024,
    "identifier": "x-xxxx-xxxxx-12-1",
    "identifier_kind": "national_id",
    "name_prefix": "ด.ช.",
    "first_name": "สมชาย",
    "last_name": "ใจดี",
    "sex": "M",
    "birth_date": "2012-05-14",
    "province": 40,
    "district": 4001,
    "sub_district": 400101,
    "category": "out-of-school",
    "status": "in-follow-up",
    "education_status": "out_of_school",
    "last_grade": "ป.6",
    "school": "โรงเรียนบ้านโนนสวรรค์",
    "guardian_name": "นางสมศรี ใจดี",
    "phone": "0812345678",
    "consent": True,
    "notes": "ครอบครัวย้ายมาจากอำเภอเมือง",
    "version": 3,
    "created_at": "2026-06-01T09:30:00+07:00",
    "updated_at": "2026-06-15T14:05:12.123456+07:00",
}


@extend_schema_serializer(
    examples=[OpenApiExample("เด็กชายนอกระบบการศึกษา (เลขประจำตัวปิดบัง)", value=RECORD_EXAMPLE, response_only=True)]
)
class TargetRecordSerializer(serializers.Serializer):
    """A child or young person a province follows. The identifier is masked (x-xxxx-xxxxx-12-1)
    unless the key (or the user's role) may see full national IDs."""

    id = serializers.IntegerField()
    identifier = serializers.CharField(help_text="National ID or G-code; masked unless the key may see it in full.")
    identifier_kind = serializers.ChoiceField(choices=["national_id", "g_code"])
    name_prefix = serializers.CharField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    sex = serializers.ChoiceField(choices=["M", "F", ""])
    birth_date = serializers.DateField(allow_null=True)
    province = serializers.IntegerField(help_text="DOPA code of the province")
    district = serializers.IntegerField(allow_null=True)
    sub_district = serializers.IntegerField(allow_null=True)
    category = serializers.CharField(help_text="Category code, e.g. out-of-school")
    status = serializers.CharField(help_text="Status (outcome) code, e.g. in-follow-up")
    education_status = serializers.CharField()
    last_grade = serializers.CharField()
    school = serializers.CharField()
    guardian_name = serializers.CharField()
    phone = serializers.CharField()
    consent = serializers.BooleanField()
    notes = serializers.CharField()
    version = serializers.IntegerField(help_text=VERSION_HELP)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class StatusChangeSerializer(serializers.Serializer):
    from_status = serializers.CharField(allow_null=True)
    to_status = serializers.CharField()
    changed_at = serializers.DateTimeField()
    upload = serializers.IntegerField(allow_null=True)


class AssistanceSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    type = serializers.CharField(help_text="Type of help (code), e.g. scholarship")
    date = serializers.DateField()
    given_by = serializers.CharField()
    outcome = serializers.CharField()
    created_at = serializers.DateTimeField()


class TargetRecordDetailSerializer(TargetRecordSerializer):
    status_history = StatusChangeSerializer(many=True)
    help = AssistanceSerializer(many=True)


class RecordPageSerializer(serializers.Serializer):
    results = TargetRecordSerializer(many=True)
    next = serializers.URLField(allow_null=True, help_text="The next page, null on the last one.")


class FeedPageSerializer(serializers.Serializer):
    results = TargetRecordSerializer(many=True)
    next = serializers.URLField(
        help_text="Where to continue: the next page, or (when has_more is false) the link to poll later for changes."
    )
    has_more = serializers.BooleanField()


# What an item of a write may carry: the upload's fields (targets.upload.columns.FIELDS), as JSON.
RECORD_WRITE_EXAMPLE = {
    "identifier": "1-1037-02071-81-1",
    "province": 40,
    "name_prefix": "ด.ญ.",
    "first_name": "สมหญิง",
    "last_name": "รักเรียน",
    "sex": "หญิง",
    "birth_date": "15/03/2553",
    "district": "เมืองขอนแก่น",
    "sub_district": "ในเมือง",
    "category": "out-of-school",
    "status": "in-follow-up",
    "education_status": "นอกระบบ",
    "consent": True,
}


class RecordWriteSerializer(serializers.Serializer):
    """A record to create or update, by its identifier, with the spreadsheet upload's rules: values
    as a coordinator would type them (Thai or English names, codes, dates in พ.ศ. or ค.ศ.)."""

    identifier = serializers.CharField(help_text="National ID (13 digits, dashes allowed) or G-code")
    province = serializers.IntegerField(
        required=False, help_text="DOPA code; may be left out by a key or user that writes one province"
    )
    name_prefix = serializers.CharField(required=False)
    first_name = serializers.CharField(help_text="Or full_name with the prefix and both names")
    last_name = serializers.CharField(allow_blank=True, help_text="Required with first_name (may be empty)")
    full_name = serializers.CharField(required=False, help_text="Instead of first_name and last_name")
    sex = serializers.CharField(required=False, help_text="ชาย/หญิง, ช/ญ or M/F")
    birth_date = serializers.CharField(required=False, allow_null=True, help_text="15/03/2553 or 2010-03-15")
    district = serializers.CharField(required=False, allow_null=True, help_text="Name or DOPA code")
    sub_district = serializers.CharField(required=False, allow_null=True, help_text="Name or DOPA code")
    category = serializers.CharField(help_text="Code or name, e.g. out-of-school or เด็กและเยาวชนนอกระบบการศึกษา")
    status = serializers.CharField(required=False, allow_null=True, help_text="Code or name; default in-follow-up")
    education_status = serializers.CharField(required=False, allow_null=True)
    last_grade = serializers.CharField(required=False, allow_null=True)
    school = serializers.CharField(required=False, allow_null=True)
    guardian_name = serializers.CharField(required=False, allow_null=True)
    phone = serializers.CharField(required=False, allow_null=True)
    consent = serializers.BooleanField(required=False, allow_null=True)
    notes = serializers.CharField(required=False, allow_null=True)
    version = serializers.IntegerField(
        required=False,
        min_value=0,
        help_text="The record's version you read: written only if it is still at it (else 412, or in a bulk "
        "the item is rejected). Leave out to create, or to overwrite as a spreadsheet row does.",
    )


class RecordPatchSerializer(RecordWriteSerializer):
    """Fields to change, from the version you read (If-Match, or version here); the identifier and the
    province of a record are not changed here."""

    identifier = serializers.CharField(required=False, help_text="Must be the record's own if given")
    first_name = serializers.CharField(required=False)
    last_name = serializers.CharField(required=False, allow_blank=True)
    category = serializers.CharField(required=False)


class BulkWriteSerializer(serializers.Serializer):
    records = RecordWriteSerializer(many=True, help_text="Up to 1,000 records")


class ItemErrorSerializer(serializers.Serializer):
    field = serializers.CharField(allow_null=True)
    message = serializers.CharField()


class ItemResultSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position of the item in the request, from 0")
    identifier = serializers.CharField(allow_null=True, help_text="Masked unless the key may see it in full")
    id = serializers.IntegerField(allow_null=True, help_text="The record's id (null when rejected)")
    status = serializers.ChoiceField(choices=["created", "updated", "unchanged", "rejected"])
    # A field named errors: the serializer's metaclass takes it out of the class, so Serializer.errors stays.
    errors = ItemErrorSerializer(many=True)  # type: ignore[assignment]


class BulkSummarySerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    rejected = serializers.IntegerField()


class BulkResultSerializer(serializers.Serializer):
    summary = BulkSummarySerializer()
    results = ItemResultSerializer(many=True)


class RecordWriteResultSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["created", "updated", "unchanged"])
    record = TargetRecordSerializer()


# --- Uploads ------------------------------------------------------------------------------------------------


class UploadRejectionSerializer(serializers.Serializer):
    row_number = serializers.IntegerField()
    column = serializers.CharField()
    reason = serializers.CharField()


class UploadBatchSerializer(serializers.ModelSerializer):
    province = serializers.IntegerField(source="province_id", read_only=True)

    class Meta:
        model = UploadBatch
        fields = [
            "id", "province", "original_name", "size", "status", "progress", "rows_total", "created", "updated",
            "unchanged", "rejected", "error", "created_at", "checked_at", "applied_at",
        ]  # fmt: skip


class UploadReportSerializer(UploadBatchSerializer):
    """An upload with its report: the columns matched and every rejected row with its reason."""

    columns = serializers.JSONField(read_only=True)
    rejections = serializers.SerializerMethodField()

    class Meta(UploadBatchSerializer.Meta):
        fields = [*UploadBatchSerializer.Meta.fields, "columns", "rejections"]

    @extend_schema_field(UploadRejectionSerializer(many=True))
    def get_rejections(self, batch: UploadBatch) -> list[dict]:
        # Read by the view (the first ones, in one query). The rejected rows' cell values are left
        # out: they are the personal data the coordinator typed, and the report says what to fix.
        return self.context.get("rejections", [])


class UploadCreateSerializer(serializers.Serializer):
    province = serializers.IntegerField(help_text="DOPA code of the province the file is for")
    file = serializers.FileField(help_text="xlsx, xls or csv, as on the upload page (the template's columns)")


class DuplicateRecordSerializer(serializers.Serializer):
    """One record of a pair, as the caller may see it (null when it is now in a province the caller cannot read)."""

    id = serializers.IntegerField()
    identifier = serializers.CharField(help_text="National ID or G-code; masked unless the caller may see it in full.")
    identifier_kind = serializers.ChoiceField(choices=["national_id", "g_code"])
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    birth_date = serializers.DateField(allow_null=True)
    district = serializers.IntegerField(allow_null=True)


class DuplicateCandidateSerializer(serializers.Serializer):
    """Two records the finder thinks are one child (duplicates.finder): its score (0–1), its reasons, its state."""

    id = serializers.IntegerField()
    province = serializers.IntegerField(source="province_id")
    score = serializers.FloatField()
    reasons = serializers.ListField(child=serializers.CharField())
    state = serializers.ChoiceField(choices=["open", "merged", "not_same"])
    found_at = serializers.DateTimeField()
    records = serializers.SerializerMethodField()

    @extend_schema_field(DuplicateRecordSerializer(many=True, allow_null=True))
    def get_records(self, candidate) -> list:
        side = self.context["side"]
        return [side(candidate.record_a), side(candidate.record_b)]
