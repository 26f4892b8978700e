"""A bad submission lists every problem at once (field formats and the policy's rules)."""

import pytest

from deals.models import DealRegistration
from deals.registrations import services
from prm.exceptions import ValidationFailed
from tests import factories


def test_field_and_policy_errors_come_together(alice, product):
    data = factories.registration_data(
        customer_country="ZZ", estimated_value="1.00", currency="USD", products=[]
    )
    with pytest.raises(ValidationFailed) as raised:
        services.registration_create(actor=alice, data=data)
    assert {"customer_country", "estimated_value", "products"} <= set(raised.value.fields)
    assert "minimum deal value" in raised.value.fields["estimated_value"][0]
    assert DealRegistration.objects.count() == 0


def test_a_draft_may_be_below_the_minimum(alice, product):
    draft = services.registration_create(
        actor=alice, data=factories.registration_data(estimated_value="1.00"), submit=False
    )
    assert draft.status == "draft"
    with pytest.raises(ValidationFailed) as raised:
        services.registration_submit(registration=draft, actor=alice)
    assert "estimated_value" in raised.value.fields
