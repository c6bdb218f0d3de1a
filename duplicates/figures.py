"""Probable duplicates' figures for the data-quality figures (the lead adds them to summaries): open pairs per
province, for all provinces in one aggregate query."""

from django.db.models import Count

from .models import DuplicateCandidate


def open_by_province() -> dict[int, int]:
    """Province code -> how many probable-duplicate pairs wait for review there (provinces without any are
    absent). One query whatever the number of provinces or pairs."""
    rows = (
        DuplicateCandidate.objects.open()
        .order_by()
        .values("province_id")
        .annotate(open=Count("pk"))
        .values_list("province_id", "open")
    )
    return dict(rows)
