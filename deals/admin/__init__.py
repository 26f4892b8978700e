"""The deals admin, one module per area; Django's autodiscovery imports this package."""

from deals.admin import registrations  # noqa: F401
