"""Keeps a case's copy of its record's province when EEF/IPSR moves the record (targets.record_services)."""

from typing import Any

from django.db.models.signals import post_save
from django.dispatch import receiver

from targets.models import TargetRecord

from .models import Case


@receiver(post_save, sender=TargetRecord, dispatch_uid="cases.follow_record_province")
def follow_record_province(sender: type[TargetRecord], instance: TargetRecord, created: bool, **kwargs: Any) -> None:
    if not created:
        Case.objects.filter(pk=instance.pk).exclude(province_id=instance.province_id).update(
            province_id=instance.province_id
        )
