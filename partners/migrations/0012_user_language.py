from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("partners", "0011_applications_and_terms"),
    ]

    operations = [
        migrations.AddField(
            model_name="user",
            name="language",
            field=models.CharField(
                blank=True,
                help_text="Language of the portal and e-mails (en, de, fr, es); empty: the browser's.",
                max_length=8,
            ),
        ),
    ]
