"""Helpers of the partner API's tests (tests/test_api*.py): partners with keys, clients that send a
key, and target-group records made in bulk."""

import datetime

from django.test import Client
from django.utils import timezone

from api.models import RESOURCES, WRITE, Partner, PartnerKey
from tests.builders import national_id

# Every resource at its highest level: read and write where writing exists.
ALL = {resource: levels[-1] for resource, (_label, levels) in RESOURCES.items()}
READ_ALL = dict.fromkeys(RESOURCES, "read")


def make_key(
    *,
    provinces: list[int],
    permissions: dict | None = None,
    can_see_identifiers: bool = False,
    name: str = "ระบบของจังหวัด",
    expires_in: datetime.timedelta = datetime.timedelta(days=300),
    partner: Partner | None = None,
) -> tuple[PartnerKey, str]:
    """A partner (new unless given) of `provinces` and one key of it: (the key, its secret)."""
    if partner is None:
        partner = Partner.objects.create(name=f"ภาคี {name}", contact_email="it@partner.example.org")
        partner.provinces.set(provinces)
    key, secret = PartnerKey.objects.create_key(
        partner=partner,
        name=name,
        permissions=ALL if permissions is None else permissions,
        can_see_identifiers=can_see_identifiers,
        expiry_date=timezone.now() + expires_in,
    )
    assert isinstance(key, PartnerKey)  # the package's create_key says AbstractAPIKey
    return key, secret


def key_client(secret: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Api-Key {secret}")


def make_records(province: int, count: int, *, start: int = 0, updated_at: datetime.datetime | None = None) -> list:
    """`count` records of `province` (identifiers from `start`), all with `updated_at` if given."""
    from targets.models import Category, Outcome, TargetRecord

    category = Category.objects.get(code="out-of-school")
    status = Outcome.objects.get(code="in-follow-up")
    records = TargetRecord.objects.bulk_create(
        [
            TargetRecord(
                identifier=national_id(province * 10_000_000 + start + i),
                identifier_kind="national_id",
                first_name=f"เด็ก{start + i}",
                last_name="ทดสอบ",
                province_id=province,
                category=category,
                status=status,
            )
            for i in range(count)
        ],
        batch_size=2000,
    )
    if updated_at is not None:
        TargetRecord.objects.filter(pk__in=[r.pk for r in records]).update(updated_at=updated_at)
    return records


__all__ = ["ALL", "READ_ALL", "WRITE", "key_client", "make_key", "make_records", "national_id"]
