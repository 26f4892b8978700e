"""Every existing registration's owner is its submitter (issue 17 §3). A separate migration
from the NOT NULL that follows: PostgreSQL refuses to alter a table with pending deferred
foreign-key checks in the same transaction."""

from django.db import migrations
from django.db.models import F


def owner_is_submitter(apps, schema_editor):
    registration = apps.get_model("deals", "DealRegistration")
    registration.objects.filter(owner__isnull=True).update(owner=F("submitted_by"))


class Migration(migrations.Migration):
    dependencies = [("deals", "0019_registration_owner_watchers")]

    operations = [migrations.RunPython(owner_is_submitter, migrations.RunPython.noop)]
