"""IPSR named once as a meeting's organiser: where the IPSR flag is set, MU-IPSR's row among the organising
universities goes (the demo national meeting listed both, so its minutes named IPSR twice)."""

from django.db import migrations


def drop_duplicate_ipsr(apps, schema_editor):
    Meeting = apps.get_model("meetings", "Meeting")
    Meeting.organiser_universities.through.objects.filter(
        meeting__organised_by_ipsr=True, university__code="MU-IPSR"
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("meetings", "0003_meeting_times"),
        ("universities", "0003_capacityrequest_version"),
    ]

    operations = [migrations.RunPython(drop_duplicate_ipsr, migrations.RunPython.noop)]
