"""Provincial plans in Django admin (shown under Provinces): written through portal.plans.save_plan,
as on the pages."""

from django.contrib import admin
from django.db.models import Count
from django.utils.translation import gettext_lazy as _

from accounts.admin_access import ScopedModelAdmin
from core.stale_edits import VersionedAdminMixin, fact
from provinces.admin import ProvinceWritersMixin
from provinces.models import PlanGoal, ProvincialPlan

from .plans import save_plan


class PlanGoalInline(admin.TabularInline):
    """A plan's goals; saved through portal.plans.save_plan with the plan (ProvincialPlanAdmin)."""

    model = PlanGoal
    extra = 1
    fields = ("category", "outcome", "target")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        related = db_field.remote_field.model._default_manager
        queryset = related.visible_to(request.user)
        if db_field.name == "outcome":
            queryset = queryset.filter(kind="achieved")  # a goal is only ever an achieved outcome
        kwargs.setdefault("queryset", queryset)
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        # Categories and outcomes are edited on their own admin pages, not from inside a plan.
        for flag in ("can_add_related", "can_change_related", "can_delete_related", "can_view_related"):
            setattr(field.widget, flag, False)
        return field

    # The goals follow their plan: whoever may change the plan may change its goals.
    def _plan_admin(self):
        return self.admin_site._registry[ProvincialPlan]

    def has_view_permission(self, request, obj=None) -> bool:
        return self._plan_admin().has_view_permission(request, obj)

    def has_add_permission(self, request, obj=None) -> bool:
        return self._plan_admin().has_change_permission(request, obj)

    def has_change_permission(self, request, obj=None) -> bool:
        return self._plan_admin().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self._plan_admin().has_change_permission(request, obj)


@admin.register(ProvincialPlan)
class ProvincialPlanAdmin(VersionedAdminMixin, ProvinceWritersMixin, ScopedModelAdmin):
    """A change saved from an older version of the plan (its strategy or its goals) is refused by the
    form (core.stale_edits), which holds the plan's row locked until the save below."""

    inlines = [PlanGoalInline]
    list_display = ("province", "fiscal_year", "goal_count", "updated_at", "is_demo")
    list_filter = ("fiscal_year", "is_demo")
    list_select_related = ("province",)
    search_fields = ("province__name_th", "province__name_en")
    fields = ("province", "fiscal_year", "strategy")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(goal_total=Count("goals"))

    @admin.display(description=_("goals"), ordering="goal_total")
    def goal_count(self, obj) -> int:
        return obj.goal_total

    def get_readonly_fields(self, request, obj=None):
        # A plan is the province's for one year; another year is another plan.
        return ("province", "fiscal_year") if obj is not None else ()

    def stale_facts(self, obj):
        # The goals are an inline: their rows are not the form's fields, so the snapshot lists them.
        goals = list(obj.goals.select_related("category", "outcome").order_by("category_id", "outcome_id"))
        return {
            "goals": fact(
                _("goals"),
                [f"{g.category_id}:{g.outcome_id}:{g.target}" for g in goals],
                "\n".join(f"{g.category} → {g.outcome}: {g.target}" for g in goals),
            )
        }

    # One path for writing plans and goals: portal.plans.save_plan (also used by the pages).
    def save_model(self, request, obj, form, change):
        if change:
            return  # saved with its goals by save_related, as one new version
        plan = save_plan(
            user=request.user,
            province=obj.province,
            fiscal_year=obj.fiscal_year,
            strategy=obj.strategy,
            goals={},
            version=None,  # a new plan: the form's unique check refused an existing one
        )
        obj.pk, obj.created_at, obj.updated_at = plan.pk, plan.created_at, plan.updated_at

    def save_related(self, request, form, formsets, change):
        removed, wanted = {}, {}
        for formset in formsets:
            for goal_form in formset.forms:
                data = getattr(goal_form, "cleaned_data", None) or {}
                old = (goal_form.initial.get("category"), goal_form.initial.get("outcome"))
                if goal_form.instance.pk and old[0] is not None:
                    removed[old] = None  # taken back below if the row keeps its pair
                if data and not formset._should_delete_form(goal_form) and data.get("category"):
                    wanted[(data["category"].pk, data["outcome"].pk)] = data["target"]
            # Django admin's change message reads what formset.save() would have set.
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        plan = form.instance
        save_plan(
            user=request.user,
            province=plan.province,
            fiscal_year=plan.fiscal_year,
            strategy=plan.strategy,
            goals={**removed, **wanted},
            version=None,  # checked by the form, which holds the row locked in this transaction
        )
