from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the default periodic schedules (idempotent). Filled in by the jobs work."

    def handle(self, *args, **options):
        from deals.schedules import schedules_ensure_defaults

        created = schedules_ensure_defaults()
        if options["verbosity"] > 1:
            self.stdout.write(f"{created} schedule(s) created")
