"""{% earnings_summary user %}: the partner's earnings box, for pages of other apps (the
scorecard) that cannot import rewards (deals sits below it): templates name it, Python
doesn't."""

from django import template

from rewards.selectors import earnings_summary as _earnings_summary

register = template.Library()


@register.inclusion_tag("rewards/_earnings_summary.html")
def earnings_summary(user):
    return {"totals": _earnings_summary(user)}


@register.filter
def money(amount, currency):
    """An amount with thousands separators and the currency's minor units ("6,000.00 USD",
    "15,432 JPY")."""
    from rewards.money import minor_units, round_money

    if amount is None or amount == "":
        return ""
    digits = minor_units(currency)
    return f"{round_money(amount, currency):,.{digits}f} {currency}"
