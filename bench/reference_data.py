"""Loading Thailand's 8,463 administrative areas: first load into empty tables, then a rerun."""

from provinces.models import District, Province, Region, SubDistrict
from provinces.reference_data import load_admin_areas

from .timing import measure

ROWS = 6 + 77 + 929 + 7451


def _empty() -> None:
    for model in (SubDistrict, District, Province, Region):
        model.objects.all().delete()


def run() -> None:
    seconds, queries = measure(load_admin_areas, setup=_empty)
    print(f"first load : {seconds * 1000:8.1f} ms  {ROWS / seconds:10,.0f} rows/s  {queries} queries")
    seconds, queries = measure(load_admin_areas)
    print(f"rerun      : {seconds * 1000:8.1f} ms  {ROWS / seconds:10,.0f} rows/s  {queries} queries (no writes)")
