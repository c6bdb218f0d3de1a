"""What the API shows and takes of case follow-up (api/views/cases.py): a record's case, its contacts,
plan steps and referrals. The views select and prefetch whatever these read (serializers never query).

A referral shows only the child's few fields an agency needs (`ReferralChildSerializer`), its
identifier masked unless the caller may see it (api.views.cases.referral_identifier_policy).
"""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from cases.models import CloseReason, ContactKind, ReferralState
from core.thai_id import mask_identifier


def version_field(whose: str) -> serializers.IntegerField:
    return serializers.IntegerField(
        min_value=0, max_value=2**31 - 1, required=False, help_text=f"The {whose}'s version you read (or If-Match)"
    )


class UserRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


def user_ref(user) -> dict | None:
    if user is None:
        return None
    return {"id": user.pk, "name": user.get_full_name() or user.get_username()}


class CaseSerializer(serializers.Serializer):
    """A record's case. A record nobody has followed up yet has no case: `opened_at` and `version` are
    null, and its first write opens it (send `If-Match: *` to write without a version)."""

    record = serializers.IntegerField(help_text="The record's id (a case is its record's)")
    province = serializers.IntegerField()
    worker = UserRefSerializer(allow_null=True, help_text="The case worker the record is assigned to")
    assigned_at = serializers.DateTimeField(allow_null=True)
    goal = serializers.CharField(allow_null=True, help_text="The outcome aimed at (its code), e.g. returned-to-school")
    opened_at = serializers.DateTimeField(allow_null=True)
    first_contact_at = serializers.DateTimeField(allow_null=True)
    last_contact_at = serializers.DateTimeField(allow_null=True)
    next_contact_due = serializers.DateField(allow_null=True)
    due_on = serializers.DateField(allow_null=True, help_text="Overdue after this day (open cases)")
    overdue = serializers.BooleanField()
    failed_attempts = serializers.IntegerField()
    closed_at = serializers.DateTimeField(allow_null=True)
    close_reason = serializers.CharField(help_text="One of " + ", ".join(CloseReason.values) + "; empty while open")
    close_note = serializers.CharField()
    version = serializers.IntegerField(
        allow_null=True, help_text="Send it back (If-Match or version) to change the case"
    )
    updated_at = serializers.DateTimeField(allow_null=True)


def case_data(record, case) -> dict:
    """`record` (its case_worker selected) and its case (None: not opened yet), as CaseSerializer shows them."""
    return {
        "record": record.pk,
        "province": record.province_id,
        "worker": user_ref(record.case_worker),
        "assigned_at": record.case_assigned_at,
        "goal": case.goal.code if case is not None and case.goal is not None else None,
        "opened_at": case.opened_at if case else None,
        "first_contact_at": case.first_contact_at if case else None,
        "last_contact_at": case.last_contact_at if case else None,
        "next_contact_due": case.next_contact_due if case else None,
        "due_on": case.due_on if case else None,
        "overdue": case.is_overdue() if case else False,
        "failed_attempts": case.failed_attempts if case else 0,
        "closed_at": case.closed_at if case else None,
        "close_reason": case.close_reason if case else "",
        "close_note": case.close_note if case else "",
        "version": case.version if case else None,
        "updated_at": case.updated_at if case else None,
    }


class ContactSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    record = serializers.IntegerField(source="case_id")
    kind = serializers.ChoiceField(choices=ContactKind.choices)
    happened_at = serializers.DateTimeField()
    reached = serializers.BooleanField()
    with_whom = serializers.CharField()
    findings = serializers.CharField()
    next_step = serializers.CharField()
    next_due = serializers.DateField(allow_null=True)
    recorded_by = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    client_key = serializers.UUIDField(allow_null=True)

    @extend_schema_field(UserRefSerializer(allow_null=True))
    def get_recorded_by(self, contact) -> dict | None:
        return user_ref(contact.recorded_by)


class ContactWriteSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ContactKind.choices)
    happened_at = serializers.DateTimeField(help_text="When it happened (not in the future)")
    reached = serializers.BooleanField(default=True, help_text="false for a failed attempt, e.g. not found at home")
    with_whom = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    findings = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")
    next_step = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")
    next_due = serializers.DateField(required=False, allow_null=True, default=None)
    client_key = serializers.UUIDField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Your own id of the contact (a UUID): a contact sent twice with it is recorded once",
    )


class PlanStepSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    record = serializers.IntegerField(source="case_id")
    text = serializers.CharField()
    due_on = serializers.DateField(allow_null=True)
    responsible = serializers.SerializerMethodField()
    referral = serializers.IntegerField(source="referral_id", allow_null=True)
    done_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()

    @extend_schema_field(UserRefSerializer(allow_null=True))
    def get_responsible(self, step) -> dict | None:
        return user_ref(step.responsible)


class PlanStepWriteSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=300)
    due_on = serializers.DateField(required=False, allow_null=True, default=None)


class PlanStepDoneSerializer(serializers.Serializer):
    done = serializers.BooleanField(default=True, help_text="false marks the step not done again")


class GoalSerializer(serializers.Serializer):
    goal = serializers.SlugField(allow_null=True, help_text="An achieved outcome's code (null: no goal)")
    version = version_field("case")


class CloseSerializer(serializers.Serializer):
    reason = serializers.ChoiceField(choices=CloseReason.choices)
    note = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")
    version = version_field("case")


class ReopenSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=5000, help_text="Why the case is reopened")
    version = version_field("case")


class AssignSerializer(serializers.Serializer):
    records = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1), min_length=1, max_length=1000
    )
    worker = serializers.IntegerField(
        allow_null=True, min_value=1, max_value=2**31 - 1, help_text="A case worker's id (null: take the records back)"
    )


class AssignResultSerializer(serializers.Serializer):
    changed = serializers.IntegerField(help_text="How many records changed hands")


class ReferralChildSerializer(serializers.Serializer):
    """The child, as much as an agency needs."""

    identifier = serializers.CharField(help_text="Masked unless the caller may see it (an agency: when shared)")
    name_prefix = serializers.CharField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    sex = serializers.CharField()
    birth_date = serializers.DateField(allow_null=True)
    district = serializers.IntegerField(allow_null=True)
    sub_district = serializers.IntegerField(allow_null=True)


class ReferralEventSerializer(serializers.Serializer):
    from_state = serializers.CharField()
    to_state = serializers.ChoiceField(choices=ReferralState.choices)
    at = serializers.DateTimeField()
    note = serializers.CharField()


class ReferralSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    record = serializers.IntegerField(source="case_id")
    province = serializers.IntegerField(source="case.province_id")
    agency = serializers.IntegerField(source="agency_id")
    agency_name = serializers.CharField(source="agency.name")
    child = serializers.SerializerMethodField()
    reason = serializers.CharField()
    services = serializers.CharField()
    deadline = serializers.DateField()
    overdue = serializers.SerializerMethodField()
    share_identifier = serializers.BooleanField()
    state = serializers.ChoiceField(choices=ReferralState.choices)
    next_states = serializers.SerializerMethodField()
    decline_reason = serializers.CharField()
    outcome = serializers.SerializerMethodField()
    feedback = serializers.CharField()
    status_applied = serializers.BooleanField(help_text="Whether the outcome was set as the record's status")
    sent_at = serializers.DateTimeField()
    answered_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    version = serializers.IntegerField(help_text="Send it back (If-Match or version) with a transition")

    @extend_schema_field(ReferralChildSerializer)
    def get_child(self, referral) -> dict:
        record = referral.case.record
        full = self.context["full_identifier"](referral)
        return {
            "identifier": record.identifier if full else mask_identifier(record.identifier),
            "name_prefix": record.name_prefix,
            "first_name": record.first_name,
            "last_name": record.last_name,
            "sex": record.sex,
            "birth_date": record.birth_date,
            "district": record.district_id,
            "sub_district": record.sub_district_id,
        }

    def get_overdue(self, referral) -> bool:
        return referral.is_overdue()

    @extend_schema_field(serializers.ListField(child=serializers.ChoiceField(choices=ReferralState.choices)))
    def get_next_states(self, referral) -> list[str]:
        return list(referral.next_states())

    @extend_schema_field(serializers.CharField(allow_null=True, help_text="An outcome's code, once completed"))
    def get_outcome(self, referral) -> str | None:
        return referral.outcome.code if referral.outcome is not None else None


class ReferralDetailSerializer(ReferralSerializer):
    events = ReferralEventSerializer(many=True, source="events.all")


class ReferralWriteSerializer(serializers.Serializer):
    record = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    agency = serializers.IntegerField(min_value=1, max_value=2**31 - 1, help_text="An agency of the record's province")
    reason = serializers.CharField(max_length=5000)
    services = serializers.CharField(max_length=5000)
    deadline = serializers.DateField(help_text="Answer by (not in the past)")
    share_identifier = serializers.BooleanField(default=False, help_text="Let the agency see the full identifier")


class TransitionSerializer(serializers.Serializer):
    to_state = serializers.ChoiceField(choices=ReferralState.choices)
    version = version_field("referral")
    note = serializers.CharField(
        max_length=5000, required=False, allow_blank=True, default="", help_text="Required to decline or close"
    )
    outcome = serializers.SlugField(
        required=False, allow_null=True, default=None, help_text="An outcome's code: required to complete"
    )
    feedback = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")


class ApplyOutcomeSerializer(serializers.Serializer):
    record_version = serializers.IntegerField(
        min_value=0, max_value=2**31 - 1, help_text="The record's version you read: its status changes only from it"
    )


class CaseFeedItemSerializer(CaseSerializer):
    contacts = ContactSerializer(many=True)
    steps = PlanStepSerializer(many=True)
    referrals = ReferralSerializer(many=True)


class CaseFeedPageSerializer(serializers.Serializer):
    results = CaseFeedItemSerializer(many=True)
    next = serializers.URLField(help_text="Keep it: it returns what changed since")
    has_more = serializers.BooleanField()


class PageSerializerBase(serializers.Serializer):
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)


class ReferralPageSerializer(PageSerializerBase):
    results = ReferralSerializer(many=True)


class ContactListSerializer(serializers.Serializer):
    results = ContactSerializer(many=True)


class PlanStepListSerializer(serializers.Serializer):
    results = PlanStepSerializer(many=True)
