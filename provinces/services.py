"""A working-group sheet, imported in one step after its preview. Views, Django admin and tests call
import_working_group and nothing else imports members (plans: portal.plans)."""

from dataclasses import dataclass, field

import tablib
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext
from import_export.results import RowResult

from accounts.access import Principal, require

from .models import Province, WorkingGroupMember
from .resources import FIELD_LABELS, WorkingGroupMemberResource, clean_text

# --- working-group sheets ------------------------------------------------------------------------

ACTIONS = {
    RowResult.IMPORT_TYPE_NEW: "create",
    RowResult.IMPORT_TYPE_UPDATE: "update",
    RowResult.IMPORT_TYPE_SKIP: "unchanged",
    RowResult.IMPORT_TYPE_INVALID: "error",
    RowResult.IMPORT_TYPE_ERROR: "error",
}


def save_member(*, user, province: Province, member: WorkingGroupMember) -> WorkingGroupMember:
    """Add a member to the province's working group, or save their changed details (the pages' one
    write path; the sheet import below writes many)."""
    require(user, "provinces.manage", province)
    if member.province_id != province.pk:
        raise PermissionDenied
    member.save()
    return member


@dataclass
class PreviewRow:
    number: int  # the row's number in the sheet, header row included
    action: str  # create, update, unchanged, error
    name: str
    errors: list[tuple[str, str]] = field(default_factory=list)  # (column, reason)


@dataclass
class ImportOutcome:
    rows: list[PreviewRow]
    problems: list[str]  # about the whole sheet (a missing name column, ...)
    ignored_columns: list[str]
    applied: bool = False

    def count(self, action: str) -> int:
        return sum(1 for row in self.rows if row.action == action)

    @property
    def counts(self) -> dict[str, int]:
        return {action: self.count(action) for action in ("create", "update", "unchanged", "error")}

    @property
    def can_apply(self) -> bool:
        return not self.problems and (self.count("create") + self.count("update")) > 0


def _messages(error) -> list[str]:
    if isinstance(error, ValidationError):
        return [str(m) for m in error.messages]
    if isinstance(error, PermissionDenied | PermissionError):
        return [gettext("You may not change the working group of this province.")]
    return [gettext("This row could not be saved.")]


def _row_errors(row_result, resource) -> list[tuple[str, str]]:
    errors: list[tuple[str, str]] = []
    if row_result.validation_error is not None:
        error = row_result.validation_error
        by_field = error.message_dict if hasattr(error, "error_dict") else {NON_FIELD_ERRORS: error.messages}
        for name, messages in by_field.items():
            if name == NON_FIELD_ERRORS:
                column = ""
            else:
                column = resource.header_names.get(name) or str(FIELD_LABELS.get(name, name))
            errors += [(column, str(message)) for message in messages]
    for error in row_result.errors:
        errors += [("", message) for message in _messages(error.error)]
    return errors


def import_working_group(*, user: Principal, province: Province, sheet: dict, dry_run: bool) -> ImportOutcome:
    """Import a sheet read by `provinces.resources.read_sheet` into the province's working group.

    The rule, also stated on the import page: every valid row is applied and rows with errors are
    left out (the preview lists them); the rows are saved in one transaction, so if saving fails
    anywhere, nothing is saved. Rows match existing members by name: a second import of the same
    sheet changes nothing.
    """
    require(user, "provinces.manage", province)
    numbers = [number for number, _cells in sheet["rows"]]
    dataset = tablib.Dataset(*[tuple(cells) for _number, cells in sheet["rows"]], headers=list(sheet["headers"]))
    resource = WorkingGroupMemberResource(user=user, province=province)
    with transaction.atomic():
        result = resource.import_data(dataset, dry_run=dry_run, use_transactions=True, raise_errors=False)
    problems = [message for error in result.base_errors for message in _messages(error.error)]
    rows = []
    if not problems:
        for number, values, row_result in zip(numbers, dataset.dict, result.rows, strict=True):
            rows.append(
                PreviewRow(
                    number=number,
                    action=ACTIONS.get(row_result.import_type, "error"),
                    name=clean_text(values.get("name")),
                    errors=_row_errors(row_result, resource),
                )
            )
    applied = not dry_run and not problems and not result.has_errors()
    return ImportOutcome(rows=rows, problems=problems, ignored_columns=resource.ignored_headers, applied=applied)
