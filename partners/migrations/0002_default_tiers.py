from django.db import migrations

TIERS = [
    ("registered", "Registered", 0),
    ("silver", "Silver", 1),
    ("gold", "Gold", 2),
    ("platinum", "Platinum", 3),
]


def create_tiers(apps, schema_editor):
    Tier = apps.get_model("partners", "Tier")
    for code, name, rank in TIERS:
        # Protection and extensions left blank: the policy's defaults (90 days, 1 extension).
        Tier.objects.get_or_create(code=code, defaults={"name": name, "rank": rank})


class Migration(migrations.Migration):
    dependencies = [("partners", "0001_initial")]
    operations = [migrations.RunPython(create_tiers, migrations.RunPython.noop)]
