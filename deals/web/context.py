"""Template context for the portal pages (a context processor, settings.TEMPLATES)."""

from __future__ import annotations

from django.utils.functional import SimpleLazyObject

from deals.policy import program_rules
from deals.web.forms import RegistrationForm
from partners.roles import partner_of


def program(request):
    """`program_rules`: the rules the signed-in partner user is held to (deals.policy.
    program_rules) with the required fields' form labels; evaluated only by the pages that
    state them (home, the registration form, "Program rules")."""
    user = getattr(request, "user", None)
    if not getattr(user, "is_authenticated", False):
        return {}
    return {"program_rules": SimpleLazyObject(lambda: _program_rules(partner_of(user)))}


def _program_rules(partner):
    if partner is None:
        return None
    rules = program_rules(partner)
    labels = {name: str(field.label) for name, field in RegistrationForm.base_fields.items()}
    labels.update({f.name: f.label for f in rules.custom_fields})
    return {
        "rules": rules,
        "required_labels": [
            labels.get(name) or name.replace("_", " ").capitalize()
            for name in rules.required_fields
        ],
        # Custom fields required only for deals with some product lines.
        "conditional_required": [
            {"label": f.label, "product_lines": list(f.product_line_names)}
            for f in rules.custom_fields
            if f.required and not f.always_required
        ],
    }
