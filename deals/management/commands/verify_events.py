"""Verify the hash chains of the event history (tamper evidence).

    python manage.py verify_events            # every chain
    python manage.py verify_events --chain r:42

Prints how many chains were checked and every problem; exits with status 1 when a chain is
broken, so it can run from cron or CI.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from deals.events import events_verify_all, events_verify_chain


class Command(BaseCommand):
    help = "Verify the hash chains of registration events; exit 1 when any chain is broken."

    def add_arguments(self, parser):
        parser.add_argument("--chain", help="Verify one chain only, e.g. r:42 or o:7.")

    def handle(self, *args, **options):
        if options.get("chain"):
            chains, problems = 1, events_verify_chain(options["chain"])
        else:
            chains, problems = events_verify_all()
        for problem in problems:
            self.stderr.write(self.style.ERROR(problem))
        if problems:
            raise CommandError(
                f"{chains} chain(s) checked, {len(problems)} problem(s): the history was altered.",
                returncode=1,
            )
        self.stdout.write(self.style.SUCCESS(f"{chains} chain(s) checked, all intact."))
