"""Target groups (กลุ่มเป้าหมาย): the children and young people a province follows.

Reference tables admins can extend (categories, outcomes that double as a record's status,
assistance types; defaults from `targets.reference_data`), the records with their status history
and help given, and the spreadsheet uploads that write most of them (targets/upload/).
Provincial plans set goals per category and outcome (provinces.PlanGoal).
"""

from typing import Any, Self

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from accounts.access import Principal, ProvinceScopedQuerySet, RoleHoldersQuerySet, restrict
from audit.tracking import track
from core.versioning import Versioned
from provinces.models import BilingualName, District, Province, SubDistrict


class Category(BilingualName):
    """A target-group category, e.g. out of school (เด็กและเยาวชนนอกระบบการศึกษา)."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    sort_order = models.PositiveSmallIntegerField(_("order"), default=100)
    is_active = models.BooleanField(_("in use"), default=True)

    objects = RoleHoldersQuerySet.as_manager()

    class Meta:
        ordering = ["sort_order", "code"]
        verbose_name = _("target-group category")
        verbose_name_plural = _("target-group categories")


class Outcome(BilingualName):
    """Where a child or young person stands after the province's help, e.g. returned to school.

    Its kind says whether standing there is a result: only an achieved outcome can be a plan's goal
    and count as progress (summaries.compute); being followed up and leaving without a result
    (not found, moved away) never do."""

    class Kind(models.TextChoices):
        ACHIEVED = "achieved", _("achieved outcome")
        IN_PROGRESS = "in_progress", pgettext_lazy("outcome kind", "in progress")
        EXITED = "exited", _("exit without outcome")

    class Group(models.TextChoices):
        # The headline figures group the achieved outcomes; an outcome of another kind is in none.
        RETURNED_TO_LEARNING = "returned_to_learning", _("returned to learning")
        KEPT_IN_SCHOOL = "kept_in_school", _("kept in school")
        OTHER = "other", _("no headline group")

    code = models.SlugField(_("code"), max_length=40, unique=True)
    kind = models.CharField(
        _("kind"),
        max_length=16,
        choices=Kind.choices,
        # A new outcome is no result until an admin says so: it cannot become a goal by accident.
        default=Kind.IN_PROGRESS,
        help_text=_(
            "Only an achieved outcome can be a goal of a provincial plan and count as progress. "
            "Being followed up is in progress; not found or moved away is an exit without outcome."
        ),
    )
    group = models.CharField(
        _("headline figure"),
        max_length=32,
        choices=Group.choices,
        default=Group.OTHER,
        help_text=_(
            "Achieved outcomes only: the headline figure (returned to learning, kept in school) "
            "whose goals this outcome adds to."
        ),
    )
    sort_order = models.PositiveSmallIntegerField(_("order"), default=100)
    is_active = models.BooleanField(_("in use"), default=True)

    objects = RoleHoldersQuerySet.as_manager()

    class Meta:
        ordering = ["sort_order", "code"]
        verbose_name = _("outcome")
        verbose_name_plural = _("outcomes")
        constraints = [
            # Both columns are on this row, so the database can hold the rule itself.
            models.CheckConstraint(
                condition=models.Q(kind="achieved") | models.Q(group="other"),
                name="outcome_headline_group_only_when_achieved",
                violation_error_message=_(
                    "Only an achieved outcome can count as returned to learning or kept in school."
                ),
            ),
        ]

    def clean(self) -> None:
        super().clean()
        if self.pk is None or self.kind == self.Kind.ACHIEVED:
            return
        from provinces.models import PlanGoal

        # Goals are only ever set on achieved outcomes (portal.plans.save_plan): an outcome that
        # plans measure by stays one, or those goals would silently stop counting.
        if PlanGoal.objects.filter(outcome=self).exists():
            raise ValidationError(
                {"kind": _("Provincial plans set goals on this outcome: it must stay an achieved outcome.")}
            )

    @property
    def is_achieved(self) -> bool:
        return self.kind == self.Kind.ACHIEVED


class AssistanceType(BilingualName):
    """A kind of help given to a child or young person, e.g. a scholarship or a home visit."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    sort_order = models.PositiveSmallIntegerField(_("order"), default=100)
    is_active = models.BooleanField(_("in use"), default=True)

    objects = RoleHoldersQuerySet.as_manager()

    class Meta:
        ordering = ["sort_order", "code"]
        verbose_name = _("assistance type")
        verbose_name_plural = _("assistance types")


# --- The records ---------------------------------------------------------------------------------


class Sex(models.TextChoices):
    MALE = "M", _("male")
    FEMALE = "F", _("female")


class EducationStatus(models.TextChoices):
    IN_SCHOOL = "in_school", _("in school")
    OUT_OF_SCHOOL = "out_of_school", _("out of school")
    NEVER_ENROLLED = "never_enrolled", _("never enrolled")
    COMPLETED = "completed", _("completed compulsory education")


class IdentifierKind(models.TextChoices):
    NATIONAL_ID = "national_id", _("national ID")
    G_CODE = "g_code", _("G-code")


class TargetRecordQuerySet(ProvinceScopedQuerySet):
    def visible_to(self, user: Principal) -> Self:
        """The province's records for those who read it; a case worker's own assigned records
        (targets/policies.py, "targets.records")."""
        return restrict(self, user, "targets.records")

    def by_identifier(self, identifier: str) -> Self:
        """The record known by `identifier`: its own, or an alias it kept from a merge (RecordAlias)."""
        return self.filter(pk__in=identifier_holders(identifier))

    def assigned_to(self, worker: Any) -> Self:
        return self.filter(case_worker=worker)

    def unassigned(self) -> Self:
        return self.filter(case_worker__isnull=True)


def identifier_holders(identifier: str) -> "models.QuerySet[Any]":
    """The pk of the record known by `identifier`, by its own or by an alias a merge kept (RecordAlias), as a
    subquery: two index look-ups in a UNION ALL (an OR of the two conditions would scan the records)."""
    return identifiers_holders([identifier])


def identifiers_holders(identifiers: list[str]) -> "models.QuerySet[Any]":
    """identifier_holders for many identifiers: the pks of the records known by any of them."""
    own = TargetRecord.objects.filter(identifier__in=identifiers).order_by().values("pk")
    aliased = RecordAlias.objects.filter(identifier__in=identifiers).order_by().values("record_id")
    return own.union(aliased, all=True)


# Statement-level triggers: an upload writes tens of thousands of rows in one statement, and the
# audit trail keeps up with one INSERT ... SELECT per statement instead of a trigger call per row.
@track(statement_level=True)
class TargetRecord(Versioned):
    """One child or young person a province follows. One person is one record across the country:
    the identifier is unique; the record belongs to one province."""

    identifier = models.CharField(_("identifier"), max_length=13)
    identifier_kind = models.CharField(_("identifier kind"), max_length=12, choices=IdentifierKind.choices)
    name_prefix = models.CharField(_("name prefix"), max_length=20, blank=True)
    first_name = models.CharField(_("first name"), max_length=100)
    last_name = models.CharField(_("last name"), max_length=100, blank=True)
    sex = models.CharField(_("sex"), max_length=1, choices=Sex.choices, blank=True)
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    # No single-column indexes on the foreign keys (db_index=False): the composite indexes below
    # start with the province, and every index is maintained for every row an upload writes.
    # Deleting a district, category or status (rare, in admin) scans instead.
    province = models.ForeignKey(
        Province, models.PROTECT, related_name="target_records", verbose_name=_("province"), db_index=False
    )
    district = models.ForeignKey(
        District, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("district"), db_index=False
    )
    sub_district = models.ForeignKey(
        SubDistrict,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("sub-district"),
        db_index=False,
    )
    category = models.ForeignKey(
        Category, models.PROTECT, related_name="records", verbose_name=_("category"), db_index=False
    )
    status = models.ForeignKey(
        Outcome, models.PROTECT, related_name="records", verbose_name=_("status"), db_index=False
    )
    education_status = models.CharField(
        _("education status"), max_length=16, choices=EducationStatus.choices, blank=True
    )
    last_grade = models.CharField(_("last grade"), max_length=20, blank=True)
    school = models.CharField(_("school"), max_length=200, blank=True)
    guardian_name = models.CharField(_("guardian"), max_length=200, blank=True)
    phone = models.CharField(_("phone"), max_length=10, blank=True)
    consent = models.BooleanField(_("consent noted"), default=False)
    notes = models.TextField(_("notes"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("updated by"),
        db_index=False,
    )
    is_demo = models.BooleanField(_("demo data"), default=False, editable=False)
    # The case worker (ผู้ดูแลรายกรณี) following this child, assigned by the province's coordinator
    # (cases.services.assign); the case itself (contacts, plan, referrals) is the cases app's.
    case_worker = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_records",
        verbose_name=_("case worker"),
        db_index=False,
    )
    case_assigned_at = models.DateTimeField(_("assigned at"), null=True, blank=True)

    objects = TargetRecordQuerySet.as_manager()

    class Meta:
        ordering = ["province", "last_name", "first_name", "pk"]
        verbose_name = _("target-group record")
        verbose_name_plural = _("target-group records")
        constraints = [
            # A table constraint, not unique=True on the field: on PostgreSQL the field option adds a
            # second, varchar_pattern_ops index that every upload would have to maintain.
            models.UniqueConstraint(fields=["identifier"], name="target_record_identifier_unique"),
            models.CheckConstraint(condition=models.Q(sex__in=["M", "F", ""]), name="target_record_sex_known"),
        ]
        indexes = [
            # The progress summaries group by these; the list pages filter by them.
            models.Index(fields=["province", "category", "status"], name="target_record_summary_idx"),
            models.Index(fields=["province", "updated_at"], name="target_record_recent_idx"),
            models.Index(fields=["province", "last_name", "first_name"], name="target_record_name_idx"),
            # A case worker's own records (their inbox, their list); only assigned rows are in it.
            models.Index(
                fields=["case_worker", "province"],
                name="target_record_case_worker_idx",
                condition=models.Q(case_worker__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name_prefix}{self.first_name} {self.last_name}".strip()


class RecordPartQuerySet(ProvinceScopedQuerySet):
    province_path = "record__province"

    def visible_to(self, user: Principal) -> Self:
        """What belongs to the records the user sees (status history, help given)."""
        return restrict(self, user, "targets.record_parts")


class RecordAlias(models.Model):
    """Another identifier of a record's person, kept when a merge (identity.services.merge) folded the
    record that held it into this one: a G-code record merged into the national-ID record of the same child.
    Uploads, the API and the records search find the record by it (targets.upload.pipeline._existing,
    TargetRecordQuerySet.by_identifier).

    An identifier is a record's own or an alias, never both, and an alias names one record in the country
    (the unique constraint). The first rule is held in the database by the triggers of migration
    0011_record_alias (a statement-level check on each side), and writers of aliases hold the upload
    pipeline's national lock (targets.upload.pipeline.APPLY_LOCK_KEY) exclusively, so no upload or API
    write, which hold it shared, writes a record in between (README.md, "Identity merges").
    """

    identifier = models.CharField(_("identifier"), max_length=13)
    identifier_kind = models.CharField(_("identifier kind"), max_length=12, choices=IdentifierKind.choices)
    record = models.ForeignKey(TargetRecord, models.CASCADE, related_name="aliases", verbose_name=_("record"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    # The merge that made it (identity.MergeProposal's pk): a plain number, as targets never imports identity.
    merge_id = models.PositiveBigIntegerField(_("merge"), null=True, blank=True)

    objects = RecordPartQuerySet.as_manager()

    class Meta:
        ordering = ["record", "identifier"]
        verbose_name = _("other identifier")
        verbose_name_plural = _("other identifiers")
        constraints = [models.UniqueConstraint(fields=["identifier"], name="record_alias_identifier_unique")]

    def __str__(self) -> str:
        return self.identifier


class StatusChange(models.Model):
    """A record's status history: every change, from an upload or a page, with who and when.

    A record's first status is not a row here: it is the `from_status` of its first change, or
    its current status while it has none (targets.models.TargetRecord.status_timeline). Uploads
    create tens of thousands of records at once, and a row each would double their cost.
    """

    record = models.ForeignKey(TargetRecord, models.CASCADE, related_name="status_history", verbose_name=_("record"))
    from_status = models.ForeignKey(
        Outcome, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("from")
    )
    to_status = models.ForeignKey(Outcome, models.PROTECT, related_name="+", verbose_name=_("to"))
    changed_at = models.DateTimeField(_("changed at"), auto_now_add=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("by")
    )
    upload = models.ForeignKey(
        "targets.UploadBatch", models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("upload")
    )

    objects = RecordPartQuerySet.as_manager()

    class Meta:
        ordering = ["record", "changed_at", "pk"]
        verbose_name = _("status change")
        verbose_name_plural = _("status changes")

    def __str__(self) -> str:
        return f"{self.from_status} → {self.to_status}"


@track()
class Assistance(models.Model):
    """Help given to a child or young person: what, when, by whom, and what came of it."""

    record = models.ForeignKey(TargetRecord, models.CASCADE, related_name="assistance", verbose_name=_("record"))
    type = models.ForeignKey(AssistanceType, models.PROTECT, related_name="+", verbose_name=_("type of help"))
    date = models.DateField(_("date"))
    given_by = models.CharField(_("given by"), max_length=200)
    outcome = models.TextField(_("outcome"), blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("recorded by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = RecordPartQuerySet.as_manager()

    class Meta:
        ordering = ["record", "-date", "pk"]
        verbose_name = _("help given")
        verbose_name_plural = _("help given")
        indexes = [models.Index(fields=["type", "date"])]

    def __str__(self) -> str:
        return f"{self.date} {self.type}"


# --- Uploads -------------------------------------------------------------------------------------


def upload_path(batch: "UploadBatch", filename: str) -> str:
    # The stored name is the batch's own; the user's file name is kept in the row only.
    import secrets

    return f"uploads/{batch.province_id}/{secrets.token_hex(16)}"


class UploadBatchQuerySet(ProvinceScopedQuerySet):
    pass


class UploadBatch(models.Model):
    """One spreadsheet uploaded by a coordinator: checked (dry run), then applied or abandoned.

    rows_total = created + updated + unchanged + rejected, always (a CheckConstraint once applied).

    The row is the truth about its check or apply, not a message in the broker: a job is "queued"
    (queued_at), "started" by a task (started_at, attempts), and ends checked, applied or failed.
    targets.upload.services keeps these fields; its sweeper restarts a job whose task is gone.
    """

    class Status(models.TextChoices):
        RECEIVED = "received", _("received")
        CHECKING = "checking", _("checking")
        CHECKED = "checked", _("checked")
        APPLYING = "applying", _("applying")
        APPLIED = "applied", _("applied")
        FAILED = "failed", _("failed")
        CANCELLED = "cancelled", _("cancelled")

    class Failure(models.TextChoices):
        # Why a failed upload failed: the uploader can act on the first; admins look at the others.
        REFUSED = "refused", _("file refused")
        ERROR = "error", _("unexpected error")
        GAVE_UP = "gave_up", _("stopped after repeated crashes")

    province = models.ForeignKey(Province, models.PROTECT, related_name="uploads", verbose_name=_("province"))
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, related_name="+", verbose_name=_("uploaded by")
    )
    file = models.FileField(_("file"), upload_to=upload_path)
    original_name = models.CharField(_("file name"), max_length=255)
    sha256 = models.CharField(_("checksum"), max_length=64)
    size = models.PositiveBigIntegerField(_("size (bytes)"))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.RECEIVED)
    progress = models.PositiveSmallIntegerField(_("progress (%)"), default=0)
    rows_total = models.PositiveIntegerField(_("rows"), default=0)
    created = models.PositiveIntegerField(_("created"), default=0)
    updated = models.PositiveIntegerField(_("updated"), default=0)
    unchanged = models.PositiveIntegerField(_("unchanged"), default=0)
    rejected = models.PositiveIntegerField(_("rejected"), default=0)
    # Whole-file findings: columns matched and ignored, or why nothing could be read.
    columns = models.JSONField(_("columns"), default=dict, blank=True)
    error = models.TextField(_("error"), blank=True)
    # The dry run's list of updates with their changed fields (the first few hundred, for the page).
    preview = models.JSONField(_("preview"), default=dict, blank=True)
    failure = models.CharField(_("why it failed"), max_length=16, choices=Failure.choices, blank=True)
    created_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)
    checked_at = models.DateTimeField(_("checked at"), null=True, blank=True)
    applied_at = models.DateTimeField(_("applied at"), null=True, blank=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("confirmed by"),
    )
    # The prefix of the partner's API key that confirmed it (confirmed_by is then the partner's service account):
    # its apply runs with that key's scope, in the request or later in a worker (targets.upload.hooks), and is
    # refused if the key was revoked or has expired meanwhile. Blank when a user confirmed it.
    api_key = models.CharField(
        _("API key"), max_length=16, blank=True, default="", help_text=_("The prefix of the key that confirmed it.")
    )
    # The uploader's language: messages written later by a task or the sweeper are in it.
    language = models.CharField(_("language"), max_length=10, blank=True)
    # The current check or apply (each starts again from 0): when it was last handed to the task
    # queue, when a task last started work on it, and how many tasks started it. A task counts its
    # attempt before it works, so a worker killed by the file still counts (TARGETS_UPLOAD_MAX_ATTEMPTS).
    queued_at = models.DateTimeField(_("queued at"), null=True, blank=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    # When the sweeper last restarted the work after an interruption (said on the upload's page).
    restarted_at = models.DateTimeField(_("restarted at"), null=True, blank=True)
    # When retention (targets.retention) deleted the file from storage; the row and its report stay.
    file_pruned_at = models.DateTimeField(_("file deleted at"), null=True, blank=True)

    objects = UploadBatchQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("upload")
        verbose_name_plural = _("uploads")
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(status="applied")
                | models.Q(
                    rows_total=models.F("created") + models.F("updated") + models.F("unchanged") + models.F("rejected")
                ),
                name="upload_rows_add_up",
            ),
        ]

    def __str__(self) -> str:
        return self.original_name


class UploadRejection(models.Model):
    """A row of an upload that was refused, with the column and the reason (in the uploader's
    language at the time of the check), and the row's values so that it can be fixed and sent again."""

    batch = models.ForeignKey(UploadBatch, models.CASCADE, related_name="rejections", verbose_name=_("upload"))
    row_number = models.PositiveIntegerField(_("row"))
    column = models.CharField(_("column"), max_length=100, blank=True)
    reason = models.TextField(_("reason"))
    values = models.JSONField(_("values"), default=list)

    class Meta:
        ordering = ["batch", "row_number", "pk"]
        verbose_name = _("rejected row")
        verbose_name_plural = _("rejected rows")

    def __str__(self) -> str:
        return f"{self.row_number}: {self.reason}"
