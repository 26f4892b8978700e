"""The deals admin, one module per area; Django's autodiscovery imports this package."""

from deals.admin import catalog, notifications, opportunities, policy, registrations  # noqa: F401
