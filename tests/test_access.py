"""The access door (accounts/access.py) and what each member of the cast sees through it."""

import pytest
from django.db import IntegrityError, transaction
from django.http import Http404

from accounts.access import get_object_for_user, scope_for
from accounts.models import Membership, Role
from conftest import PROVINCE_A, PROVINCE_B, make_user
from provinces.models import District, Province, SubDistrict
from universities.models import SupportAssignment, University

pytestmark = pytest.mark.django_db


def test_eef_admin_sees_every_province(cast):
    assert Province.objects.visible_to(cast.eef_admin).count() == 77
    assert SubDistrict.objects.visible_to(cast.eef_admin).count() == 7451


def test_coordinator_sees_only_their_province(cast):
    assert list(Province.objects.visible_to(cast.coordinator_a).values_list("code", flat=True)) == [PROVINCE_A]
    districts = District.objects.visible_to(cast.coordinator_a)
    assert districts.exists()
    assert set(districts.values_list("province_id", flat=True)) == {PROVINCE_A}
    assert set(SubDistrict.objects.visible_to(cast.coordinator_a).values_list("district__province", flat=True)) == {
        PROVINCE_A
    }


def test_university_member_sees_the_provinces_their_university_supports_this_year(cast):
    # KKU leads ขอนแก่น (40) and สุรินทร์ (32) in the demo assignments.
    codes = set(Province.objects.visible_to(cast.university_member).values_list("code", flat=True))
    assert codes == {40, 32}


def test_university_scope_follows_the_current_fiscal_year_only(cast):
    # An assignment of an earlier year gives nothing today.
    SupportAssignment.objects.create(
        university=University.objects.get(code="KKU"), province_id=PROVINCE_B, fiscal_year=2560, is_lead=False
    )
    assert PROVINCE_B not in scope_for(cast.university_member).readable_provinces


def test_user_without_role_sees_nothing(cast):
    for queryset in (Province.objects, District.objects, SupportAssignment.objects, University.objects):
        assert queryset.visible_to(cast.no_role).count() == 0


def test_anonymous_and_inactive_users_see_nothing(cast):
    from django.contrib.auth.models import AnonymousUser

    assert Province.objects.visible_to(AnonymousUser()).count() == 0
    cast.coordinator_a.is_active = False
    cast.coordinator_a.save(update_fields=["is_active"])
    inactive = type(cast.coordinator_a).objects.get(pk=cast.coordinator_a.pk)
    assert Province.objects.visible_to(inactive).count() == 0


def test_viewer_reads_but_does_not_write(cast):
    assert Province.objects.visible_to(cast.viewer_a).filter(code=PROVINCE_A).exists()
    assert not Province.objects.writable_by(cast.viewer_a).exists()
    assert list(Province.objects.writable_by(cast.coordinator_a).values_list("code", flat=True)) == [PROVINCE_A]


def test_coordinator_of_other_province_gets_404(cast):
    assert get_object_for_user(Province, cast.coordinator_b, PROVINCE_B).code == PROVINCE_B
    with pytest.raises(Http404):
        get_object_for_user(Province, cast.coordinator_a, PROVINCE_B)
    # The same answer as for an object that does not exist at all.
    with pytest.raises(Http404):
        get_object_for_user(Province, cast.coordinator_a, 99)
    with pytest.raises(Http404):
        get_object_for_user(Province, cast.viewer_a, PROVINCE_A, write=True)


def test_scope_is_computed_once_per_user_object(cast, django_assert_num_queries):
    user = type(cast.university_member).objects.get(pk=cast.university_member.pk)
    with django_assert_num_queries(2):  # 1: the user's memberships; 2: this year's assignments of KKU
        scope_for(user)
        scope_for(user)
        Province.objects.visible_to(user)


def test_membership_scope_must_match_its_role():
    user = make_user("someone@example.org")
    bad = [
        {"role": Role.EEF_ADMIN, "province_id": PROVINCE_A},
        {"role": Role.PROVINCE_COORDINATOR},
        {"role": Role.UNIVERSITY_MEMBER, "province_id": PROVINCE_A},
    ]
    for fields in bad:
        with pytest.raises(IntegrityError), transaction.atomic():
            Membership.objects.create(user=user, **fields)


def test_one_role_per_user_and_province():
    user = make_user("someone@example.org", role=Role.PROVINCE_COORDINATOR, province=PROVINCE_A)
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(user=user, role=Role.PROVINCE_VIEWER, province_id=PROVINCE_A)
    # Coordinator of one province and viewer of another is fine.
    Membership.objects.create(user=user, role=Role.PROVINCE_VIEWER, province_id=PROVINCE_B)
    assert scope_for(user).readable_provinces == {PROVINCE_A, PROVINCE_B}


def test_home_page_shows_each_member_their_scope(cast, client_for):
    counts = {}
    for name in ("eef_admin", "university_member", "coordinator_a", "viewer_a", "no_role"):
        response = client_for(cast[name]).get("/")
        counts[name] = len(response.context["assignments"])
    assert counts == {"eef_admin": 12, "university_member": 2, "coordinator_a": 1, "viewer_a": 1, "no_role": 0}
    assert 'data-testid="no-role"' in client_for(cast.no_role).get("/").content.decode()


def test_home_page_query_count_does_not_grow_with_the_data(cast, client_for, django_assert_max_num_queries):
    client = client_for(cast.eef_admin)
    client.get("/")  # warm the session
    # session, user, memberships (scope), assignments with provinces/regions/universities,
    # memberships for the page, two-factor check is cached in the session; a few savepoints.
    # Meetings (portal.views._meetings_of): the user's open action items with their meetings
    # and owners, and the next meetings the user may see.
    with django_assert_max_num_queries(10):
        response = client.get("/")
    assert response.status_code == 200


def test_staff_without_a_role_sees_nothing_in_admin(client_for):
    staff = make_user("staff.nobody@example.org", staff=True)
    client = client_for(staff)
    assert client.get("/admin/").context["app_list"] == []
    for url in ("/admin/provinces/province/", "/admin/universities/supportassignment/", "/admin/accounts/user/"):
        assert client.get(url).status_code == 403
