"""Loads Thailand's administrative areas from the CSVs shipped in provinces/data/thai-admin/.

Bulk and idempotent: rows are compared with what the database holds, new ones are inserted
with bulk_create and changed ones written with bulk_update; a second run writes nothing.
Rows are never deleted here, since target-group records and assignments point at them.
"""

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from django.db import models, transaction

from .models import District, Province, Region, SubDistrict

DATA_DIR = Path(__file__).resolve().parent / "data" / "thai-admin"

# geographies.csv has Thai names only; these are the usual English names of its six ids.
REGION_NAMES_EN = {
    1: "Northern",
    2: "Central",
    3: "Northeastern",
    4: "Western",
    5: "Eastern",
    6: "Southern",
}


@dataclass(frozen=True)
class SyncResult:
    created: int
    updated: int
    unchanged: int


def sync_rows(model: type[models.Model], rows: Iterable[models.Model], *, key: str = "pk") -> SyncResult:
    """Insert the rows that are missing and update the ones that differ, matched on `key`.

    Compares every concrete field except the primary key (foreign keys by their id), so a
    rerun with the same data issues two queries and no writes.
    """
    fields = [f for f in model._meta.concrete_fields if not f.primary_key and f.name != key]
    existing = {getattr(obj, key): obj for obj in model._default_manager.all()}
    to_create, to_update, unchanged = [], [], 0
    for row in rows:
        current = existing.get(getattr(row, key))
        if current is None:
            to_create.append(row)
        elif any(getattr(current, f.attname) != getattr(row, f.attname) for f in fields):
            row.pk = current.pk
            to_update.append(row)
        else:
            unchanged += 1
    model._default_manager.bulk_create(to_create, batch_size=2000)
    if to_update:
        model._default_manager.bulk_update(to_update, [f.name for f in fields], batch_size=2000)
    return SyncResult(created=len(to_create), updated=len(to_update), unchanged=unchanged)


def _read(name: str) -> list[dict[str, str]]:
    with open(DATA_DIR / name, encoding="utf-8-sig", newline="") as f:
        return [row for row in csv.DictReader(f) if not row.get("deleted_at")]


def load_admin_areas() -> dict[str, SyncResult]:
    """Regions, provinces, districts and sub-districts with their official DOPA codes."""
    regions = [
        Region(code=int(r["id"]), name_th=r["name"].strip(), name_en=REGION_NAMES_EN.get(int(r["id"]), ""))
        for r in _read("geographies.csv")
    ]
    districts_csv = _read("districts.csv")
    # provinces.csv numbers provinces 1..77; the official code is the first two digits of any of
    # the province's district codes (see data/thai-admin/README.md).
    province_code = {int(d["province_id"]): int(d["id"]) // 100 for d in districts_csv}
    provinces = [
        Province(
            code=province_code[int(r["id"])],
            name_th=r["name_th"].strip(),
            name_en=r["name_en"].strip(),
            region_id=int(r["geography_id"]),
        )
        for r in _read("provinces.csv")
    ]
    districts = [
        District(
            code=int(r["id"]),
            name_th=r["name_th"].strip(),
            name_en=r["name_en"].strip(),
            province_id=province_code[int(r["province_id"])],
        )
        for r in districts_csv
    ]
    sub_districts = [
        SubDistrict(
            code=int(r["id"]),
            name_th=r["name_th"].strip(),
            name_en=r["name_en"].strip(),
            postcode=r["zip_code"].strip(),
            district_id=int(r["district_id"]),
        )
        for r in _read("sub_districts.csv")
    ]
    with transaction.atomic():
        return {
            "regions": sync_rows(Region, regions),
            "provinces": sync_rows(Province, provinces),
            "districts": sync_rows(District, districts),
            "sub_districts": sync_rows(SubDistrict, sub_districts),
        }
