"""duplicates/figures.py: open pairs per province, in one query for all provinces."""

import pytest

from conftest import PROVINCE_A, PROVINCE_B
from duplicates.figures import open_by_province
from duplicates.models import DuplicateCandidate
from tests.builders import duplicate_pair


@pytest.mark.django_db
def test_open_pairs_per_province_in_one_query(django_assert_num_queries):
    for n in range(3):
        duplicate_pair(PROVINCE_A, n)
    decided = duplicate_pair(PROVINCE_B, 5)
    duplicate_pair(PROVINCE_B, 6)
    DuplicateCandidate.objects.filter(pk=decided.pk).update(state=DuplicateCandidate.State.NOT_SAME)
    with django_assert_num_queries(1):
        figures = open_by_province()
    assert figures == {PROVINCE_A: 3, PROVINCE_B: 1}
