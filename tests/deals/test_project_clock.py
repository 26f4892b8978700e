"""The project clock (prm.lib.time): product code and model timestamps read one clock, which a
block of code (the demo seed) can run on without patching Django."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.utils import timezone

from deals.models import DealRegistration
from prm.lib.time import clock_source, timezone_now
from tests import factories

AT = dt.datetime(2025, 3, 4, 9, 30, tzinfo=dt.UTC)


def test_clock_source_sets_now_inside_the_block_only():
    with clock_source(lambda: AT):
        assert timezone_now() == AT
    assert abs((timezone_now() - timezone.now()).total_seconds()) < 5


def test_clock_source_is_per_thread():
    seen = []
    with clock_source(lambda: AT):
        thread = threading.Thread(target=lambda: seen.append(timezone_now()))
        thread.start()
        thread.join()
    assert seen and seen[0] != AT


def test_clock_source_is_reset_after_an_error():
    with pytest.raises(RuntimeError), clock_source(lambda: AT):
        raise RuntimeError
    assert timezone_now() != AT


@pytest.mark.django_db
def test_model_timestamps_follow_the_project_clock(alice, product):
    with clock_source(lambda: AT):
        registration = factories.make_registration(alice, status="draft")
    registration.refresh_from_db()
    assert registration.created_at == AT
    assert registration.updated_at == AT
    later = AT + dt.timedelta(days=2)
    with clock_source(lambda: later):
        registration.customer_name = "Renamed Co"
        registration.save()
    registration = DealRegistration.objects.get(pk=registration.pk)
    assert registration.created_at == AT  # set once
    assert registration.updated_at == later  # every save
