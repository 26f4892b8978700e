"""manage.py report_cells [--compact | --rebuild | --check]: the report rollup (deals.reports.rollup)."""

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "The report rollup: --compact folds deltas (the periodic job), --rebuild recomputes "
        "every cell from the registrations, --check compares the cells with the registrations "
        "and exits 1 on a difference."
    )

    def add_arguments(self, parser):
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--compact", action="store_true")
        group.add_argument("--rebuild", action="store_true")
        group.add_argument("--check", action="store_true")

    def handle(self, *args, **options):
        from deals.reports import rollup

        if options["compact"]:
            self.stdout.write(f"{rollup.report_cells_compact()} cells after compaction")
        elif options["rebuild"]:
            self.stdout.write(f"{rollup.report_cells_rebuild()} cells rebuilt")
        else:
            differences = rollup.report_cells_differences()
            for key, stored, expected in differences[:20]:
                self.stdout.write(f"{key}: cells {stored}, registrations {expected}")
            if differences:
                raise CommandError(f"{len(differences)} report key(s) differ")
            self.stdout.write("The report cells match the registrations.")
