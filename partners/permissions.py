"""What an integration account's token may call (docs/api.md "Integration accounts").

An integration account's user has a manager's reach in the services, so the API decides what
it may do: each scope opens a set of operations (URL name prefix + methods), and anything else
answers 403. Everyone else passes through (their role checks live in the views/services)."""

from __future__ import annotations

from rest_framework.permissions import BasePermission

from partners.roles import integration_scopes, is_integration, is_sales_rep

READ = frozenset({"GET", "HEAD", "OPTIONS"})
ALL = frozenset({"GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"})

# scope -> [(URL name or prefix ending in "*", methods)]
SCOPE_OPERATIONS: dict[str, list[tuple[str, frozenset[str]]]] = {
    "opportunities:write": [("api-opportunit*", ALL), ("api-conflict-check", frozenset({"POST"}))],
    "registrations:read": [
        ("api-registrations", READ),
        ("api-registration", READ),
        ("api-registration-history", READ),
        ("api-registration-comments", READ),
        ("api-registration-attachments", READ),
        ("api-attachment-download", READ),
        ("api-conflicts", READ),
        ("api-reports-*", READ),
        ("api-products", READ),
        ("api-tiers", READ),
        ("api-program", READ),
        ("api-registration-fields", READ),
        ("api-conflict-check", frozenset({"POST"})),
    ],
    "webhooks:manage": [("api-webhook*", ALL)],
}
# Every integration may read who it is.
ALWAYS = [("api-me", READ)]


def _matches(name: str, pattern: str) -> bool:
    return name.startswith(pattern[:-1]) if pattern.endswith("*") else name == pattern


def integration_may(scopes, url_name: str, method: str) -> bool:
    operations = list(ALWAYS)
    for scope in scopes:
        operations += SCOPE_OPERATIONS.get(scope, [])
    return any(_matches(url_name, p) and method in methods for p, methods in operations)


class IntegrationScope(BasePermission):
    message = "This integration's scopes do not allow this operation."

    def has_permission(self, request, view) -> bool:
        user = getattr(request, "user", None)
        if not is_integration(user):
            return True
        match = getattr(request, "resolver_match", None)
        name = getattr(match, "url_name", None) or ""
        return integration_may(integration_scopes(user), name, request.method)


# Sales reps read what touches their opportunities; the one write they may make is a co-sell
# proposal or acceptance on their own conflict (docs/api.md "Conflicts that bind").
SALES_REP_WRITES = frozenset({"api-conflict-co-sell"})


class SalesRepReadOnly(BasePermission):
    message = "Sales reps can only read, and propose or accept co-sell on their conflicts."

    def has_permission(self, request, view) -> bool:
        if request.method in READ or not is_sales_rep(getattr(request, "user", None)):
            return True
        match = getattr(request, "resolver_match", None)
        return (getattr(match, "url_name", None) or "") in SALES_REP_WRITES
