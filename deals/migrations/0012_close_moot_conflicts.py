"""Issue 14: conflicts that became moot before conflicts could close (a registration on either
side already rejected, withdrawn, expired or closed) are closed once, so the managers' work
list starts with the conflicts that still matter. A data fix: no events are written (the
registrations' own exit events, written at the time, say what happened)."""

from django.db import migrations
from django.utils import timezone

ACTIVE = ("submitted", "info_requested", "approved")


def close_moot(apps, schema_editor):
    Conflict = apps.get_model("conflicts", "Conflict")
    DealRegistration = apps.get_model("deals", "DealRegistration")
    active = DealRegistration.objects.filter(status__in=ACTIVE).values("pk")
    now = timezone.now()
    Conflict.objects.filter(status="open").exclude(registration_id__in=active).update(
        status="closed", resolved_at=now
    )
    Conflict.objects.filter(status="open", kind="registration").exclude(other_id__in=active).update(
        status="closed", resolved_at=now
    )


class Migration(migrations.Migration):
    dependencies = [
        ("conflicts", "0004_conflict_closed_other_index"),
        ("deals", "0011_co_sell_agreement"),
    ]

    operations = [migrations.RunPython(close_moot, migrations.RunPython.noop)]
