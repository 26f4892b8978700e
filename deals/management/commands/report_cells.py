"""manage.py report_cells [--compact | --rebuild | --check | --check-triggers]: the report rollup
(deals.reports.rollup)."""

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "The report rollup: --compact folds deltas (the periodic job), --rebuild recomputes "
        "every cell from the registrations, --check compares the cells with the registrations "
        "and exits 1 on a difference, --check-triggers compares the installed trigger definitions "
        "with what deals.reports.rollup generates and exits 1 on a difference (on PostgreSQL it takes a "
        "brief lock on the registrations and partners tables)."
    )

    def add_arguments(self, parser):
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--compact", action="store_true")
        group.add_argument("--rebuild", action="store_true")
        group.add_argument("--check", action="store_true")
        group.add_argument("--check-triggers", action="store_true")

    def handle(self, *args, **options):
        from deals.reports import rollup

        if options["compact"]:
            self.stdout.write(f"{rollup.report_cells_compact()} cells after compaction")
        elif options["rebuild"]:
            self.stdout.write(f"{rollup.report_cells_rebuild()} cells rebuilt")
        elif options["check_triggers"]:
            names = rollup.triggers_differences()
            for name in names:
                self.stdout.write(f"{name}: installed definition differs from deals.reports.rollup")
            if names:
                raise CommandError(
                    f"{len(names)} trigger definition(s) differ: ship the change as a migration"
                )
            self.stdout.write("The installed triggers are the ones deals.reports.rollup generates.")
        else:
            differences = rollup.report_cells_differences()
            for key, stored, expected in differences[:20]:
                self.stdout.write(f"{key}: cells {stored}, registrations {expected}")
            if differences:
                raise CommandError(f"{len(differences)} report key(s) differ")
            self.stdout.write("The report cells match the registrations.")
