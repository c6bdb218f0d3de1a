"""Writes of the provincial work that span rows: a plan with its goals, and a working-group sheet.

Views, Django admin and tests call these and nothing else writes plans or imports members.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field

import tablib
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext
from import_export.results import RowResult

from accounts.access import Principal, require
from core.buddhist_dates import FISCAL_YEAR_MAX, FISCAL_YEAR_MIN
from core.versioning import StaleEdit, check_version

from .models import PlanGoal, Province, ProvincialPlan, not_achieved_message
from .resources import FIELD_LABELS, WorkingGroupMemberResource, clean_text

# A goal counts people in one province and year: anything above this is a typing slip.
MAX_GOAL = 1_000_000


def validate_fiscal_year(fiscal_year) -> int:
    if not isinstance(fiscal_year, int) or not FISCAL_YEAR_MIN <= fiscal_year <= FISCAL_YEAR_MAX:
        raise ValidationError(gettext("Give the fiscal year in the Buddhist Era (e.g. 2567)."), code="fiscal_year")
    return fiscal_year


@transaction.atomic
def save_plan(
    *,
    user,
    province: Province,
    fiscal_year: int,
    strategy: str,
    goals: Mapping[tuple[int, int], int | None],
    version: int | None = None,
) -> ProvincialPlan:
    """Create or update the province's plan for the fiscal year and set its goals.

    `goals` maps (category id, outcome id) to the number of people, or None to remove that goal;
    pairs not in `goals` keep their goal. Only the province's coordinators and EEF admins may.
    `version` is the plan's version the user saw, 0 for "no plan yet" (None: no precondition): a plan
    written by someone else since is left alone and StaleEdit raised (core.versioning).
    """
    require(user, "provinces.manage", province)
    validate_fiscal_year(fiscal_year)
    errors = []
    for target in goals.values():
        if target is not None and (isinstance(target, bool) or not isinstance(target, int) or target < 0):
            errors.append(gettext("A goal is a whole number of people, 0 or more."))
        elif target is not None and target > MAX_GOAL:
            errors.append(gettext("A goal of more than 1,000,000 people is surely a typing slip."))
    if errors:
        raise ValidationError(sorted(set(errors)))
    from targets.models import Category, Outcome

    wanted = {pair for pair, target in goals.items() if target is not None}
    categories = {c for c, _ in wanted}
    outcomes = {o for _, o in wanted}
    found = dict(Outcome.objects.filter(pk__in=outcomes).values_list("pk", "kind"))
    if len(Category.objects.filter(pk__in=categories)) != len(categories) or len(found) != len(outcomes):
        raise ValidationError(gettext("A goal names a category or outcome that does not exist."))
    if any(kind != Outcome.Kind.ACHIEVED for kind in found.values()):
        raise ValidationError(not_achieved_message())

    plan, created = ProvincialPlan.objects.select_for_update().get_or_create(
        province=province, fiscal_year=fiscal_year, defaults={"strategy": strategy}
    )
    if not created:
        check_version(plan, version)  # e.g. 0 (a new plan's form) and someone else has written one meanwhile
    elif version not in (None, 0):
        raise StaleEdit(plan, seen=version)  # the plan the form showed was deleted since: this transaction is undone
    strategy_changed = not created and plan.strategy != strategy
    plan.strategy = strategy

    existing = {(g.category_id, g.outcome_id): g for g in plan.goals.all()}
    removed = [existing[pair].pk for pair, target in goals.items() if target is None and pair in existing]
    changed = []
    for pair, target in goals.items():
        if target is not None and pair in existing and existing[pair].target != target:
            existing[pair].target = target
            changed.append(existing[pair])
    new = [
        PlanGoal(plan=plan, category_id=c, outcome_id=o, target=target)
        for (c, o), target in goals.items()
        if target is not None and (c, o) not in existing
    ]
    if removed:
        PlanGoal.objects.filter(pk__in=removed).delete()
    if changed:
        PlanGoal.objects.bulk_update(changed, ["target"])
    if new:
        PlanGoal.objects.bulk_create(new)
    if (strategy_changed or removed or changed or new) and not created:
        plan.save(update_fields=["strategy", "updated_at"])  # one new version for the plan and its goals
    return plan


# --- working-group sheets ------------------------------------------------------------------------

ACTIONS = {
    RowResult.IMPORT_TYPE_NEW: "create",
    RowResult.IMPORT_TYPE_UPDATE: "update",
    RowResult.IMPORT_TYPE_SKIP: "unchanged",
    RowResult.IMPORT_TYPE_INVALID: "error",
    RowResult.IMPORT_TYPE_ERROR: "error",
}


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
