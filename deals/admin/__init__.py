"""The deals admin, one module per area; Django's autodiscovery imports this package."""

from deals.admin import (  # noqa: F401
    attachments,
    catalog,
    fields,
    notifications,
    opportunities,
    policy,
    registrations,
    reporting,
    routing,
)
