"""Demo rewards on top of seed_demo: verify two thirds of the demo's reported wins (the rest
wait on the managers' Rewards page), approve half of those accruals and pay a third.

    python manage.py seed_rewards

Idempotent: a win already verified is left alone, so a second run adds nothing. Runs through
the services (events, accruals) like seed_demo."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from deals.models import DealRegistration
from partners.models import User
from partners.roles import is_manager
from rewards.models import Accrual
from rewards.services import accrual_approve, accrual_mark_paid, win_verify


class Command(BaseCommand):
    help = "Verify some demo wins and move their accruals (after seed_demo)."

    def handle(self, *args, **options):
        manager = next(
            (
                u
                for u in User.objects.filter(is_staff=True, is_active=True).order_by("pk")
                if is_manager(u) and not u.is_superuser
            ),
            None,
        )
        if manager is None:
            self.stdout.write("No channel manager: run seed_demo first.")
            return
        if Accrual.objects.exists():
            self.stdout.write("Rewards already seeded.")
            return
        won = list(
            DealRegistration.objects.filter(status="won", win_verified_at__isnull=True).order_by(
                "pk"
            )
        )
        accruals = [
            win_verify(registration=registration, actor=manager)
            for index, registration in enumerate(won)
            if index % 3 != 2
        ]
        for index, accrual in enumerate(accruals):
            if index % 2 == 0:
                accrual = accrual_approve(accrual=accrual, actor=manager)
                if index % 3 == 0:
                    accrual_mark_paid(
                        accrual=accrual, actor=manager, reference=f"PAYOUT-DEMO-{index + 1:03d}"
                    )
        self.stdout.write(
            self.style.SUCCESS(
                f"Rewards ready: {len(accruals)} verified wins with accruals, "
                f"{len(won) - len(accruals)} wins waiting for verification."
            )
        )
