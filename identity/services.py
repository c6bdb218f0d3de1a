"""The one write path of merges (README.md, "Identity merges"): propose, confirm (the merge), reject, undo.

The merge and its undo run in one transaction, holding the upload pipeline's national lock exclusively
(targets.upload.pipeline.APPLY_LOCK_KEY: every upload's apply and every API record write holds it shared),
so no upload creates or changes a record with either identifier meanwhile, then the two records' rows
(SELECT ... FOR UPDATE, in pk order).

What a merge does, `merged` into `survivor`:
- the survivor keeps its own identifier and fields; the merged record's identifier becomes its alias
  (targets.RecordAlias), as do aliases the merged record kept from earlier merges;
- every row of the merged record moves to the survivor: status history, help given, and its case's
  events, contacts, plan steps, referrals and notifications;
- cases: if only the merged record had one, it becomes the survivor's (same values, the survivor's
  province); if both had one, the survivor's case stays (its worker, goal, closure) and takes the other's
  rows, with the first and last contact, failed attempts and the next due date combined;
- the merged record is deleted, so no list, search or figure counts the child twice; the proposal keeps
  both records and all their rows as they were (identity.snapshots) for the undo;
- every audit event written meanwhile carries the merge's number (audit.tracking.context(identity_merge=...)),
  the survivor's own among them: its version goes up with the merge.
The undo (EEF/IPSR, within IDENTITY_MERGE_UNDO_DAYS) puts both records and every row back exactly, and is
refused once the survivor or any row of its has changed after the merge.
"""

import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.access import can
from audit.tracking import context
from cases import services as case_services
from cases.models import Case, CaseEvent, Contact, Notification, PlanStep, Referral
from cases.services import due_on
from core import control_characters
from core.thai_id import IdentifierError, parse_identifier
from targets import id_probes
from targets.models import Assistance, IdentifierKind, RecordAlias, StatusChange, TargetRecord
from targets.signals import announce_records_written
from targets.upload import pipeline

from . import policies, snapshots
from .models import MergeProposal

CASE_PARTS = (CaseEvent, Contact, PlanStep, Referral, Notification)


# An upload's apply holds the national lock longer than a page waits: nothing was merged (pipeline.take_national_lock).
Busy = pipeline.Busy


def undo_days() -> int:
    return settings.IDENTITY_MERGE_UNDO_DAYS


def undo_until(proposal: MergeProposal) -> datetime.datetime | None:
    if proposal.merged_at is None:
        return None
    return proposal.merged_at + datetime.timedelta(days=undo_days())


# --- propose ----------------------------------------------------------------------------------------------


def propose(
    *, user: Any, record: TargetRecord, other_identifier: str, reason: str, asker: id_probes.Asker | None = None
) -> MergeProposal:
    """Propose that `record` (one the user coordinates) and the record of `other_identifier` are one person.

    The other record may be of a province the user cannot see: they learn only that the proposal went to
    that province (an answer about another province's identifier, counted: targets.id_probes), nothing of
    the record. The national-ID record survives; between two of a kind, `record` does."""
    if not can(user, "identity.propose", record):
        raise PermissionDenied
    errors: dict[str, Any] = {}
    reason = (reason or "").strip()
    if not reason:
        errors["reason"] = _("Say why these are the same person.")
    elif char := control_characters.first_forbidden(reason):
        errors["reason"] = control_characters.message(char)
    try:
        identifier = parse_identifier(other_identifier).value
    except IdentifierError as error:
        errors["identifier"] = str(error.message)
        identifier = ""
    if errors:
        raise ValidationError(errors)
    if identifier == record.identifier:
        raise ValidationError({"identifier": _("This is the record's own identifier: name the other record's.")})
    other = TargetRecord.objects.filter(identifier=identifier).first()
    if other is None:
        alias = RecordAlias.objects.filter(identifier=identifier).values_list("record__province_id", flat=True).first()
        if alias is not None and (
            can(user, "targets.read", alias)
            or id_probes.may_answer(
                asker=asker or id_probes.Asker(principal=user), count=1, model=TargetRecord,
                description="merge proposal",
            )
        ):  # fmt: skip
            raise ValidationError({"identifier": _("This identifier was already merged into a record.")})
        if alias is not None:
            raise ValidationError({"identifier": id_probes.refusal_message(count=1)})
        raise ValidationError({"identifier": _("No record has this identifier.")})
    if not can(user, "targets.read", other.province_id) and not id_probes.may_answer(
        asker=asker or id_probes.Asker(principal=user), count=1, model=TargetRecord, description="merge proposal"
    ):
        raise ValidationError({"identifier": id_probes.refusal_message(count=1)})
    if other.identifier_kind == IdentifierKind.NATIONAL_ID and record.identifier_kind == IdentifierKind.G_CODE:
        survivor, merged = other, record
    else:
        survivor, merged = record, other
    open_pair = MergeProposal.objects.open().filter(
        survivor_pk__in=[survivor.pk, merged.pk], merged_pk__in=[survivor.pk, merged.pk]
    )
    if open_pair.exists():
        raise ValidationError({"identifier": _("A merge of these two records is already proposed.")})
    with transaction.atomic():
        proposal = MergeProposal.objects.create(
            survivor=survivor,
            merged=merged,
            survivor_pk=survivor.pk,
            merged_pk=merged.pk,
            survivor_province_id=survivor.province_id,
            merged_province_id=merged.province_id,
            proposed_by=user,
            proposed_from_id=record.province_id,
            reason=reason,
        )
        kind = Notification.Kind.MERGE_PROPOSED
        case_services.notify_about(
            [(u, kind, proposal.pk) for u in policies.confirmers(proposal)], exclude=getattr(user, "pk", None)
        )
    return proposal


# --- confirm, reject ----------------------------------------------------------------------------------------


def confirm(*, user: Any, proposal: MergeProposal) -> MergeProposal:
    """EEF/IPSR's confirmation merges at once; a coordinator's confirms their province's side of a
    two-province proposal, and the second side's merges."""
    with transaction.atomic():
        locked = MergeProposal.objects.select_for_update().get(pk=proposal.pk)
        if not can(user, "identity.confirm", locked):
            raise PermissionDenied
        if can(user, "portal.national"):
            locked.decided_by = user
        else:
            for side in ("survivor", "merged"):
                if can(user, "identity.confirm_side", (locked, side)):
                    setattr(locked, f"{side}_side_confirmed_by", user)
            if locked.survivor_side_confirmed_by_id is None or locked.merged_side_confirmed_by_id is None:
                locked.save(update_fields=["survivor_side_confirmed_by", "merged_side_confirmed_by"])
                # The other side confirmed first: the proposer's province's coordinators are asked now.
                kind = Notification.Kind.MERGE_PROPOSED
                case_services.notify_about(
                    [(u, kind, locked.pk) for u in policies.second_side(locked)], exclude=getattr(user, "pk", None)
                )
                return locked
            locked.decided_by = user
        _merge(locked, user=user)
    return locked


def reject(*, user: Any, proposal: MergeProposal, note: str) -> MergeProposal:
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": _("Say why these are not the same person.")})
    if char := control_characters.first_forbidden(note):
        raise ValidationError({"note": control_characters.message(char)})
    with transaction.atomic():
        locked = MergeProposal.objects.select_for_update().get(pk=proposal.pk)
        if not can(user, "identity.reject", locked):
            raise PermissionDenied
        locked.state = MergeProposal.State.REJECTED
        locked.decided_by, locked.decided_at, locked.decision_note = user, timezone.now(), note
        locked.save(update_fields=["state", "decided_by", "decided_at", "decision_note"])
        case_services.notify_about(
            [(locked.proposed_by_id, Notification.Kind.MERGE_REJECTED, locked.pk)], exclude=getattr(user, "pk", None)
        )
    return locked


# --- the merge ----------------------------------------------------------------------------------------------


def _merge(proposal: MergeProposal, *, user: Any) -> None:
    pipeline.take_national_lock()
    s_pk, m_pk = proposal.survivor_pk, proposal.merged_pk
    records = {r.pk: r for r in TargetRecord.objects.select_for_update().filter(pk__in=[s_pk, m_pk]).order_by("pk")}
    if len(records) != 2:
        raise ValidationError(_("One of the two records no longer exists: the merge cannot be made."))
    survivor, merged = records[s_pk], records[m_pk]
    if (survivor.province_id, merged.province_id) != (proposal.survivor_province_id, proposal.merged_province_id):
        # Moved to another province since the proposal (transfers): those who confirmed are not its coordinators.
        raise ValidationError(_("One of the two records moved to another province since the proposal: propose again."))
    cases = {c.pk: c for c in Case.objects.select_for_update().filter(pk__in=[s_pk, m_pk]).order_by("pk")}
    before = snapshots.dump([s_pk, m_pk])
    with context(identity_merge=proposal.pk, user=getattr(user, "pk", None)):
        StatusChange.objects.filter(record_id=m_pk).update(record_id=s_pk)
        Assistance.objects.filter(record_id=m_pk).update(record_id=s_pk)
        RecordAlias.objects.filter(record_id=m_pk).update(record_id=s_pk)
        _merge_cases(survivor, s_case=cases.get(s_pk), m_case=cases.get(m_pk))
        survivor.updated_by = user
        survivor.save(update_fields=["updated_at", "updated_by"])  # a new version, its event labelled
        TargetRecord.objects.filter(pk=m_pk).delete()
        RecordAlias.objects.create(
            identifier=merged.identifier, identifier_kind=merged.identifier_kind, record=survivor,
            merge_id=proposal.pk,
        )  # fmt: skip
        # Other open proposals about the merged record have nothing left to merge.
        others = MergeProposal.objects.open().exclude(pk=proposal.pk).filter(Q(merged_pk=m_pk) | Q(survivor_pk=m_pk))
        closed = list(others.values_list("pk", "proposed_by_id"))
        others.update(
            state=MergeProposal.State.REJECTED, decided_at=timezone.now(), decision_note=_("merged into another record")
        )
        now = timezone.now()
        proposal.state = MergeProposal.State.CONFIRMED
        proposal.decided_at = proposal.merged_at = now
        proposal.snapshot = snapshots.to_json(before)
        proposal.survivor_fingerprint = snapshots.fingerprint(snapshots.dump([s_pk]))
        proposal.merged = None
        proposal.save()
        # Each proposer learns the answer to theirs: this one merged, the others closed by it.
        case_services.notify_about(
            [(proposal.proposed_by_id, Notification.Kind.MERGE_CONFIRMED, proposal.pk)]
            + [(proposer, Notification.Kind.MERGE_REJECTED, pk) for pk, proposer in closed],
            exclude=getattr(user, "pk", None),
        )
    announce_records_written(sender=MergeProposal)


def _merge_cases(survivor: TargetRecord, *, s_case: Case | None, m_case: Case | None) -> None:
    if m_case is None:
        return
    s_pk, m_pk = survivor.pk, m_case.pk
    if s_case is None:
        row = snapshots.dump([m_pk])["cases.case"][0]
        row.update(record_id=s_pk, province_id=survivor.province_id)
        snapshots.insert("cases.case", [row])
    for model in CASE_PARTS:
        model._base_manager.filter(case_id=m_pk).update(case_id=s_pk)
    if s_case is not None:
        contacts = [d for d in (s_case.first_contact_at, m_case.first_contact_at) if d]
        s_case.first_contact_at = min(contacts) if contacts else None
        lasts = [d for d in (s_case.last_contact_at, m_case.last_contact_at) if d]
        s_case.last_contact_at = max(lasts) if lasts else None
        dues = [d for d in (s_case.next_contact_due, m_case.next_contact_due) if d]
        s_case.next_contact_due = min(dues) if dues else None
        s_case.failed_attempts += m_case.failed_attempts
        s_case.goal_id = s_case.goal_id or m_case.goal_id
        s_case.due_on = due_on(s_case)
        s_case.save()
    Case.objects.filter(pk=m_pk).delete()


# --- the undo -----------------------------------------------------------------------------------------------


def undo(*, user: Any, proposal: MergeProposal) -> MergeProposal:
    """Put both records back exactly as they were before the merge (EEF/IPSR, within the period)."""
    with transaction.atomic():
        locked = MergeProposal.objects.select_for_update().get(pk=proposal.pk)
        if not can(user, "identity.undo", locked):
            raise PermissionDenied
        until = undo_until(locked)
        if until is None or timezone.now() > until:
            raise ValidationError(
                _("A merge can be undone within %(days)d days of it; this one is older.") % {"days": undo_days()}
            )
        pipeline.take_national_lock()
        s_pk, m_pk = locked.survivor_pk, locked.merged_pk
        if not TargetRecord.objects.select_for_update().filter(pk=s_pk).exists():
            raise ValidationError(_("The surviving record no longer exists: the merge cannot be undone."))
        list(Case.objects.select_for_update().filter(pk=s_pk).values_list("pk"))
        if snapshots.fingerprint(snapshots.dump([s_pk])) != locked.survivor_fingerprint:
            raise ValidationError(
                _(
                    "The record changed after the merge (its fields or its history): undoing the merge would "
                    "lose those changes, so it was not undone. Correct the record by hand instead."
                )
            )
        before = snapshots.from_json(locked.snapshot)
        with context(identity_merge_undone=locked.pk, user=getattr(user, "pk", None)):
            _restore(before, s_pk=s_pk, m_pk=m_pk)
            locked.state = MergeProposal.State.UNDONE
            locked.undone_by, locked.undone_at = user, timezone.now()
            locked.merged_id = m_pk
            locked.save(update_fields=["state", "undone_by", "undone_at", "merged"])
    announce_records_written(sender=MergeProposal)
    return locked


def _restore(before: snapshots.Dump, *, s_pk: int, m_pk: int) -> None:
    """Back to `before` (the dump of both records before the merge): the alias goes, the merged record and
    its case come back with their pks, every moved row goes back to its record, the survivor's record and
    case get their old values (and versions) again."""
    RecordAlias.objects.filter(record_id=s_pk).delete()
    s_row = [r for r in before["targets.targetrecord"] if r["id"] == s_pk]
    m_row = [r for r in before["targets.targetrecord"] if r["id"] == m_pk]
    snapshots.overwrite("targets.targetrecord", s_row)
    snapshots.insert("targets.targetrecord", m_row)
    m_case = [r for r in before["cases.case"] if r["record_id"] == m_pk]
    s_case = [r for r in before["cases.case"] if r["record_id"] == s_pk]
    snapshots.insert("cases.case", m_case)
    # Each row of the two records, moved back by its pk (the merge changed only its record or case).
    for label in ("targets.statuschange", "targets.assistance"):
        model = snapshots.RECORD_ROWS[label][0]
        for owner in (s_pk, m_pk):
            pks = [r["id"] for r in before[label] if r["record_id"] == owner]
            model._base_manager.filter(pk__in=pks).update(record_id=owner)
    snapshots.insert("targets.recordalias", before["targets.recordalias"])
    for label in ("cases.caseevent", "cases.contact", "cases.referral", "cases.planstep", "cases.notification"):
        model = snapshots.RECORD_ROWS[label][0]
        for row in before[label]:
            model._base_manager.filter(pk=row["id"]).update(case_id=row["case_id"])
    if s_case:
        snapshots.overwrite("cases.case", s_case)
    else:
        Case.objects.filter(pk=s_pk).delete()
