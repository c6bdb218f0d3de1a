import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from provinces.models import District, Province, Region, SubDistrict
from provinces.reference_data import load_admin_areas
from universities.models import University
from universities.reference_data import load_universities

pytestmark = pytest.mark.django_db


def test_reference_data_has_every_area_of_thailand():
    assert Region.objects.count() == 6
    assert Province.objects.count() == 77
    assert District.objects.count() == 929
    assert SubDistrict.objects.count() == 7451
    assert University.objects.count() == 8


def test_official_dopa_codes_are_the_keys():
    bangkok = Province.objects.get(code=10)
    assert (bangkok.name_th, bangkok.name_en) == ("กรุงเทพมหานคร", "Bangkok")
    assert Province.objects.get(code=38).name_en == "Bueng Kan"
    assert Province.objects.get(code=38).region.name_en == "Northeastern"
    assert District.objects.get(code=1001).province_id == 10
    phra_borom = SubDistrict.objects.get(code=100101)
    assert (phra_borom.postcode, phra_borom.district_id) == ("10200", 1001)
    # Every district sits in the province its code starts with; every sub-district in its district.
    assert not [d.code for d in District.objects.all() if d.code // 100 != d.province_id]
    assert not [s.code for s in SubDistrict.objects.all() if s.code // 100 != s.district_id]


def test_second_load_creates_nothing_and_writes_nothing():
    with CaptureQueriesContext(connection) as ctx:
        areas = load_admin_areas()
        universities = load_universities()
    for result in [*areas.values(), universities]:
        assert (result.created, result.updated) == (0, 0)
    assert areas["sub_districts"].unchanged == 7451
    writes = [q["sql"] for q in ctx.captured_queries if q["sql"].split()[0] in {"INSERT", "UPDATE", "DELETE"}]
    assert writes == []


def test_load_repairs_a_changed_name_and_restores_a_missing_university():
    Province.objects.filter(code=40).update(name_en="Khonkaen (typo)")
    University.objects.filter(code="NU").delete()

    areas = load_admin_areas()
    universities = load_universities()

    assert (areas["provinces"].created, areas["provinces"].updated) == (0, 1)
    assert Province.objects.get(code=40).name_en == "Khon Kaen"
    assert (universities.created, universities.updated) == (1, 0)
    assert University.objects.get(code="NU").name_th == "มหาวิทยาลัยนเรศวร"


def test_load_reference_data_command_reports_each_table(capsys):
    call_command("load_reference_data")
    out = capsys.readouterr().out
    assert "sub_districts  created     0  updated     0  unchanged  7451" in out
    assert "universities   created     0  updated     0  unchanged     8" in out


def test_names_follow_the_active_language():
    from django.utils import translation

    province = Province.objects.get(code=50)
    with translation.override("th"):
        assert str(province) == "เชียงใหม่"
    with translation.override("en"):
        assert str(province) == "Chiang Mai"
