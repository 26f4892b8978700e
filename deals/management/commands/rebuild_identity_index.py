"""Rebuild the conflict engine's identity index from the registrations and opportunities.

    python manage.py rebuild_identity_index

Empties the index (entries, blocking keys, key frequencies) and re-indexes every record with
the same functions the services use, in one transaction, so checks see either the old or the
new index. Submitted-and-since-closed registrations keep an inactive entry (history), drafts
have none, as in normal operation.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand
from django.db import transaction

from conflicts.models import CandidateKey, IdentityEntry, KeyFrequency
from deals import lifecycle
from deals.models import DealRegistration, DirectOpportunity
from deals.opportunities.services import _index_opportunities
from deals.policy import policy_current
from deals.registrations.indexing import _index_registration


class Command(BaseCommand):
    help = "Rebuild the identity index (conflict engine) from all registrations and opportunities."

    def handle(self, *args, **options):
        with transaction.atomic():
            CandidateKey.objects.all().delete()
            KeyFrequency.objects.all().delete()
            IdentityEntry.objects.all().delete()
            policy = policy_current()
            opportunities = 0
            # Opportunities first: indexing one also records conflicts with the registrations
            # already in the index, and those conflicts exist already.
            batch: list[DirectOpportunity] = []
            for opportunity in DirectOpportunity.objects.order_by("pk").iterator(chunk_size=500):
                batch.append(opportunity)
                if len(batch) == 500:
                    _index_opportunities(batch, policy)
                    opportunities += len(batch)
                    batch = []
            _index_opportunities(batch, policy)
            opportunities += len(batch)
            active = inactive = 0
            registrations = (
                DealRegistration.objects.filter(first_submitted_at__isnull=False)
                .select_related("partner")
                .order_by("pk")
            )
            for registration in registrations.iterator(chunk_size=500):
                _index_registration(registration, active=True)
                if registration.status in lifecycle.PROTECTING_STATUSES:
                    active += 1
                else:
                    _index_registration(registration, active=False)
                    inactive += 1
        entries = IdentityEntry.objects.count()
        keys = CandidateKey.objects.count()
        self.stdout.write(
            self.style.SUCCESS(
                f"Index rebuilt: {opportunities} opportunities, {active} active and "
                f"{inactive} closed registrations; {entries} entries, {keys} blocking keys."
            )
        )
