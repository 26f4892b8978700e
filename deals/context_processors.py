from partners.roles import is_manager, partner_of, role_of


def navigation(request):
    user = getattr(request, "user", None)
    if not getattr(user, "is_authenticated", False):
        return {"nav_role": None}
    from deals.notifications.inbox import unread_notification_count

    return {
        "nav_role": role_of(user),
        "nav_is_manager": is_manager(user),
        "nav_partner": partner_of(user),
        "nav_unread": unread_notification_count(user),
    }
