"""Access-matrix rows of the data-quality pages (quality/urls.py) and the rule settings in admin.

Province B's pages: read by those who read B's records (EEF/IPSR admins, B's coordinator); 404 for everyone else
signed in, as for a province that does not exist. The rule settings: EEF/IPSR admins only (a coordinator gets 403,
or 404 for an object they cannot see)."""

from conftest import PROVINCE_B
from tests.matrix import ADMIN_KINDS, Case, lazy_admin_rows, signed_in

READERS_OF_B = signed_in(404, eef_admin=200, coordinator_b=200)

ADMIN_KINDS["national_settings"] = {
    "changelist": (200, 403, 403),
    "add": (200, 403, 403),
    "change": (200, 403, 403),
    "history": (200, 404, 404),
    "delete": (200, 403, 403),
}


def _setting(ctx):
    objects = ctx["objects"]
    if "quality.rulesetting" not in objects:
        from quality.models import RuleSetting

        objects["quality.rulesetting"] = RuleSetting.objects.create(code="untouched-for-a-year", threshold=400)
    return objects["quality.rulesetting"]


ROWS = {
    "quality/<int:code>/": [Case(f"/quality/{PROVINCE_B}/", READERS_OF_B)],
    "quality/<int:code>/records.xlsx": [Case(f"/quality/{PROVINCE_B}/records.xlsx", READERS_OF_B)],
    "quality/<int:code>/<slug:rule>/": [Case(f"/quality/{PROVINCE_B}/consent-not-noted/", READERS_OF_B)],
    **lazy_admin_rows("quality.rulesetting", "national_settings", _setting),
}


def _setting_event(ctx):
    """The first audit event of the shared setting (None on SQLite, which has no triggers)."""
    from audit.tracking import event_model
    from quality.models import RuleSetting

    return event_model(RuleSetting).objects.filter(pgh_obj_id=_setting(ctx).pk).first()


# Who switched a rule off or changed its threshold, when: EEF/IPSR only, as every audit event model.
ROWS.update(lazy_admin_rows("audit.rulesettingevent", "national_read_only", _setting_event))
