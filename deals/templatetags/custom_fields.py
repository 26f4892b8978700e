"""`{% custom_values registration as values %}`: a registration's custom field values as
(label, text) pairs, labelled by the form version it was submitted with
(deals.customfields.display_values)."""

from __future__ import annotations

from django import template

from deals.customfields import display_values

register = template.Library()


@register.simple_tag
def custom_values(registration) -> list[tuple[str, str]]:
    return display_values(registration)
