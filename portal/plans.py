"""Provincial plans: a plan and its goals, written in one transaction. Views, Django admin and tests
call save_plan and nothing else writes plans. A goal counts people of a target-group category reaching an
outcome (targets), so plans are written here, above both provinces and targets.
"""

from collections.abc import Mapping

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext

from accounts.access import require
from core.buddhist_dates import FISCAL_YEAR_MAX, FISCAL_YEAR_MIN
from core.versioning import StaleEdit, check_version
from provinces.models import PlanGoal, Province, ProvincialPlan, not_achieved_message
from targets.models import Category, Outcome

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
