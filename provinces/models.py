"""Thailand's administrative areas: reference data loaded by `manage.py load_reference_data`.

The official DOPA codes are the primary keys (province 2 digits, district 4, sub-district 6):
spreadsheets and partner systems use them, and an integer key keeps the joins of the large
target-group table cheap.
"""

from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from accounts.access import ProvinceScopedQuerySet, RoleHoldersQuerySet


class ProvinceQuerySet(ProvinceScopedQuerySet):
    province_path = ""


class DistrictQuerySet(ProvinceScopedQuerySet):
    province_path = "province"


class SubDistrictQuerySet(ProvinceScopedQuerySet):
    province_path = "district__province"


class BilingualName(models.Model):
    """Thai and English names; `name` follows the active language (Thai by default)."""

    name_th = models.CharField(_("name (Thai)"), max_length=150)
    name_en = models.CharField(_("name (English)"), max_length=150, blank=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        if (get_language() or "th").startswith("en") and self.name_en:
            return self.name_en
        return self.name_th


class Region(BilingualName):
    code = models.PositiveSmallIntegerField(_("code"), primary_key=True)

    objects = RoleHoldersQuerySet.as_manager()

    class Meta:
        ordering = ["code"]
        verbose_name = _("region")
        verbose_name_plural = _("regions")


class Province(BilingualName):
    code = models.PositiveSmallIntegerField(_("DOPA code"), primary_key=True)
    region = models.ForeignKey(Region, models.PROTECT, related_name="provinces", verbose_name=_("region"))

    objects = ProvinceQuerySet.as_manager()

    class Meta:
        ordering = ["code"]
        verbose_name = _("province")
        verbose_name_plural = _("provinces")
        constraints = [
            models.CheckConstraint(condition=models.Q(code__gte=10, code__lte=99), name="province_code_2_digits"),
        ]


class District(BilingualName):
    code = models.PositiveSmallIntegerField(_("DOPA code"), primary_key=True)
    province = models.ForeignKey(Province, models.PROTECT, related_name="districts", verbose_name=_("province"))

    objects = DistrictQuerySet.as_manager()

    class Meta:
        ordering = ["code"]
        verbose_name = _("district")
        verbose_name_plural = _("districts")
        constraints = [
            models.CheckConstraint(condition=models.Q(code__gte=1000, code__lte=9999), name="district_code_4_digits"),
        ]


class SubDistrict(BilingualName):
    code = models.PositiveIntegerField(_("DOPA code"), primary_key=True)
    district = models.ForeignKey(District, models.PROTECT, related_name="sub_districts", verbose_name=_("district"))
    postcode = models.CharField(_("postcode"), max_length=5, blank=True)

    objects = SubDistrictQuerySet.as_manager()

    class Meta:
        ordering = ["code"]
        verbose_name = _("sub-district")
        verbose_name_plural = _("sub-districts")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(code__gte=100000, code__lte=999999), name="subdistrict_code_6_digits"
            ),
        ]
