from django.utils.functional import SimpleLazyObject

from partners.roles import is_manager, partner_of, role_of


def navigation(request):
    user = getattr(request, "user", None)
    if not getattr(user, "is_authenticated", False):
        return {"nav_role": None}
    from deals.notifications.inbox import unread_notification_count

    partner = partner_of(user)
    return {
        # The rules the partner is held to (deals.policy.program_rules), read only by the
        # pages that state them (home, the registration form, "Program rules").
        "program_rules": SimpleLazyObject(lambda: _program_rules(partner)),
        "nav_role": role_of(user),
        "nav_is_manager": is_manager(user),
        "nav_partner": partner,
        "nav_unread": unread_notification_count(user),
    }


def _program_rules(partner):
    if partner is None:
        return None
    from deals.policy import program_rules
    from deals.web.forms import RegistrationForm

    rules = program_rules(partner)
    labels = RegistrationForm.base_fields
    return {
        "rules": rules,
        "required_labels": [
            str(labels[name].label) if name in labels else name.replace("_", " ").capitalize()
            for name in rules.required_fields
        ],
    }
