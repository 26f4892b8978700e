"""The route tables behind ISO-01 (isolation), ISO-02 (roles) and their meta-test: every
/api/v1/ route of the URLconf must be listed here, or the meta-test fails."""

from __future__ import annotations

import datetime as dt

from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

METHODS = ("get", "post", "put", "patch", "delete")

# Routes with object ids: the object kind behind each path parameter.
OBJECT_ROUTES: dict[str, dict[str, str]] = {
    "api-partner": {"pk": "partner"},
    "api-partner-users": {"pk": "partner"},
    "api-partner-user": {"pk": "partner", "user_id": "partner_user"},
    "api-registration": {"pk": "registration"},
    # Custom registration fields are named by key; a partner never learns whether one exists.
    "api-registration-field": {"key": "registration_field"},
    "api-registration-submit": {"pk": "registration"},
    "api-registration-approve": {"pk": "registration"},
    "api-registration-reject": {"pk": "registration"},
    "api-registration-revoke": {"pk": "registration"},
    "api-registration-request-info": {"pk": "registration"},
    "api-registration-withdraw": {"pk": "registration"},
    "api-registration-close": {"pk": "registration"},
    "api-registration-reassign": {"pk": "registration"},
    "api-registration-claim": {"pk": "registration"},
    "api-registration-assign": {"pk": "registration"},
    "api-registration-watch": {"pk": "registration"},
    "api-registration-verify-win": {"pk": "registration"},
    "api-accrual-approve": {"pk": "accrual"},
    "api-accrual-mark-paid": {"pk": "accrual"},
    "api-registration-extension-requests": {"pk": "registration"},
    # Comments have no route of their own: they are reached (and isolated) through this one.
    "api-registration-comments": {"pk": "registration"},
    "api-registration-history": {"pk": "registration"},
    "api-registration-attachments": {"pk": "registration"},
    "api-attachment": {"pk": "attachment"},
    "api-attachment-download": {"pk": "attachment"},
    "api-extension-request-approve": {"pk": "extension_request"},
    "api-extension-request-reject": {"pk": "extension_request"},
    "api-conflict-resolve": {"pk": "conflict"},
    "api-conflict-co-sell": {"pk": "conflict"},
    "api-opportunity": {"pk": "opportunity"},
    "api-notification-read": {"pk": "notification"},
    "api-webhook": {"pk": "webhook"},
    "api-integration": {"pk": "integration"},
    "api-webhook-deliveries": {"pk": "webhook"},
    "api-webhook-rotate-secret": {"pk": "webhook"},
    "api-webhook-redeliver": {"pk": "webhook", "delivery_id": "webhook_delivery"},
}

# Who may call each operation (ISO-02):
#   public   - no credentials needed
#   any      - every authenticated role (tenant-scoped)
#   partner  - partner users (member and admin); managers 403
#   admin    - partner admins (own partner) and managers; members 403
#   manager  - managers; partner users 403 (collections, and registration-scoped objects)
#   manager_object - managers; the object kind is invisible to partners, so they get 404
#   sales_rep_object - sales reps on their own conflicts; managers 403, partners 404 (invisible)
#
# Sales reps (role "sales_rep") follow SALES_REP_RULE below: they read what touches their own
# opportunities and make one write (co-sell); every other write answers 403.
ROLE_MATRIX: dict[tuple[str, str], str] = {
    ("api-auth-token", "POST"): "public",
    ("api-me", "GET"): "any",
    ("api-tiers", "GET"): "any",
    ("api-program", "GET"): "any",
    ("api-partners", "GET"): "admin",  # partner admins see a list of their own partner
    ("api-partners", "POST"): "manager",
    ("api-partner", "GET"): "admin",
    ("api-partner", "PATCH"): "manager",
    ("api-partner-users", "GET"): "admin",
    ("api-partner-users", "POST"): "admin",
    ("api-partner-user", "DELETE"): "admin",
    ("api-products", "GET"): "any",
    ("api-products", "POST"): "manager",
    # Custom registration fields: everyone reads those of their tier; managers write.
    ("api-registration-fields", "GET"): "any",
    ("api-registration-fields", "POST"): "manager",
    ("api-registration-field", "PATCH"): "manager_object",
    ("api-registration-field", "DELETE"): "manager_object",
    ("api-registrations", "GET"): "any",
    ("api-registrations", "POST"): "partner",
    ("api-registration", "GET"): "any",
    ("api-registration", "PATCH"): "partner",
    ("api-registration-submit", "POST"): "partner",
    ("api-registration-approve", "POST"): "manager",
    ("api-registration-reject", "POST"): "manager",
    ("api-registration-revoke", "POST"): "manager",
    ("api-registration-request-info", "POST"): "manager",
    ("api-registration-withdraw", "POST"): "partner",
    ("api-registration-close", "POST"): "any",
    # Ownership (issue 17 §3): partner admins and managers reassign; partner users follow.
    ("api-registration-reassign", "POST"): "admin",
    # Approval routing (issue 17 §4): managers claim and assign reviews.
    ("api-registration-claim", "POST"): "manager",
    ("api-registration-assign", "POST"): "manager",
    ("api-registration-watch", "POST"): "partner",
    ("api-registration-watch", "DELETE"): "partner",
    # Rewards (issue 19): managers verify wins and move accruals; partners read their own.
    ("api-registration-verify-win", "POST"): "manager",
    ("api-accruals", "GET"): "any",
    ("api-accrual-approve", "POST"): "manager",
    ("api-accrual-mark-paid", "POST"): "manager",
    ("api-reports-payouts-csv", "GET"): "any",
    ("api-reports-incentives", "GET"): "any",
    ("api-reports-co-sell", "GET"): "any",
    ("api-registration-extension-requests", "POST"): "partner",
    ("api-registration-comments", "GET"): "any",
    ("api-registration-comments", "POST"): "any",
    ("api-registration-history", "GET"): "any",
    # Attachments (issue 17 §2): partners attach and remove; whoever sees the registration
    # lists and downloads.
    ("api-registration-attachments", "GET"): "any",
    ("api-registration-attachments", "POST"): "partner",
    ("api-attachment", "DELETE"): "partner",
    ("api-attachment-download", "GET"): "any",
    ("api-extension-request-approve", "POST"): "manager",
    ("api-extension-request-reject", "POST"): "manager",
    ("api-conflict-check", "POST"): "any",
    ("api-conflicts", "GET"): "manager",
    ("api-conflict-resolve", "POST"): "manager_object",
    ("api-conflict-co-sell", "POST"): "sales_rep_object",
    ("api-opportunities", "GET"): "manager",
    ("api-opportunities", "POST"): "manager",
    ("api-opportunities-bulk", "POST"): "manager",
    ("api-opportunities-import", "POST"): "manager",
    ("api-opportunity", "GET"): "manager_object",
    ("api-opportunity", "PATCH"): "manager_object",
    ("api-opportunity", "DELETE"): "manager_object",
    ("api-notifications", "GET"): "any",
    ("api-notification-read", "POST"): "any",
    ("api-notifications-read-all", "POST"): "any",
    # Reports (owned by the reports work): partners get their own partner only.
    ("api-reports-summary", "GET"): "any",
    ("api-reports-registrations-csv", "GET"): "any",
    # Sales reps: managers create and list them.
    ("api-sales-reps", "GET"): "manager",
    ("api-sales-reps", "POST"): "manager",
    # Integration accounts: managers only; an account is invisible to partners (404).
    ("api-integrations", "GET"): "manager",
    ("api-integrations", "POST"): "manager",
    ("api-integration", "DELETE"): "manager_object",
    # Webhooks: managers only; an endpoint is invisible to partners (404).
    ("api-webhooks", "GET"): "manager",
    ("api-webhooks", "POST"): "manager",
    ("api-webhook", "GET"): "manager_object",
    ("api-webhook", "PATCH"): "manager_object",
    ("api-webhook", "DELETE"): "manager_object",
    ("api-webhook-deliveries", "GET"): "manager_object",
    ("api-webhook-rotate-secret", "POST"): "manager_object",
    ("api-webhook-redeliver", "POST"): "manager_object",
}


# What a sales rep gets per rule, GET only (every write but co-sell is 403 whatever the rule):
# "ok" = allowed on their own objects (not 401/403/404, below 500).
SALES_REP_READ = {"any": "ok", "manager": 403, "admin": 403, "manager_object": 404}
# Where a sales rep's answer differs from their rule's.
SALES_REP_OVERRIDES: dict[tuple[str, str], object] = {
    ("api-conflicts", "GET"): "ok",  # their own conflicts
    ("api-conflict-co-sell", "POST"): "ok",  # the one write
    ("api-reports-summary", "GET"): 403,  # reports are for managers and partners
    ("api-reports-registrations-csv", "GET"): 403,
    ("api-partner", "GET"): 404,  # a partner company is invisible to a rep
    ("api-partner-users", "GET"): 404,
    ("api-program", "GET"): 403,  # a rep belongs to no partner: no program rules apply
}


def sales_rep_rule(name: str, method: str) -> object:
    """The expected answer for a sales rep: "ok" or a status code."""
    if (name, method) in SALES_REP_OVERRIDES:
        return SALES_REP_OVERRIDES[(name, method)]
    rule = ROLE_MATRIX[(name, method)]
    if rule == "public":
        return "ok"
    if method != "GET":
        return 403
    return SALES_REP_READ.get(rule, 403)


def today() -> str:
    return timezone.now().date().isoformat()


def body_for(name: str, method: str) -> dict:
    """A plausible body, so a missing scope check would show as a success, not a 400."""
    if method in ("GET", "DELETE"):
        return {}
    future = (timezone.now().date() + dt.timedelta(days=60)).isoformat()
    return {
        "api-auth-token": {"email": "nobody@example.com", "password": "x"},
        "api-partners": {"name": "Evil Corp", "country": "US", "tier": "gold"},
        "api-partner": {"name": "Renamed by attacker"},
        "api-partner-users": {"email": "evil@example.com"},
        "api-products": {"code": "evil", "name": "Evil", "product_line": "crm"},
        "api-webhooks": {"url": "https://127.0.0.1/hook", "events": ["registration.submitted"]},
        "api-webhook": {"description": "Changed by attacker"},
        "api-integrations": {"name": "Evil sync", "scopes": ["opportunities:write"]},
        "api-registrations": {
            "customer_name": "Matrix Customer",
            "customer_country": "US",
            "contact_name": "Pat",
            "contact_email": "pat@matrix.example.com",
            "products": ["crm-pro"],
            "estimated_value": "50000.00",
            "currency": "USD",
            "expected_close_date": future,
        },
        "api-registration": {"customer_name": "Renamed by attacker"},
        "api-registration-fields": {"key": "evil_field", "label": "Evil", "type": "text"},
        "api-registration-field": {"label": "Changed by attacker"},
        "api-registration-reject": {"reason": "other", "note": "x"},
        "api-registration-revoke": {"reason": "other", "note": "x"},
        "api-registration-request-info": {"message": "x"},
        "api-registration-close": {"outcome": "won", "close_date": today()},
        "api-registration-reassign": {"owner_id": 1},
        "api-registration-assign": {"manager_id": 1},
        "api-accrual-mark-paid": {"reference": "PAY-EVIL-1"},
        "api-registration-extension-requests": {"reason": "x"},
        "api-registration-comments": {"body": "x"},
        "api-conflict-check": {"customer_name": "Globex", "customer_country": "US"},
        "api-conflict-resolve": {"resolution": "co_sell"},
        "api-conflict-co-sell": {"action": "propose"},
        "api-sales-reps": {"email": "evil-rep@vendor.example", "name": "Evil"},
        "api-opportunities": {
            "external_id": "EVIL-1",
            "account_name": "Evil",
            "country": "US",
            "amount": "1.00",
            "currency": "USD",
        },
        "api-opportunities-bulk": {"opportunities": []},
        "api-opportunity": {"amount": "1.00"},
    }.get(name, {})


def api_routes() -> list[tuple[str, str, type, list[str]]]:
    """(route, name, view class, methods) for every /api/v1/ pattern, by walking the resolver."""
    found = []

    def walk(patterns, prefix):
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                route = prefix + str(p.pattern)
                if not route.startswith("api/v1/"):
                    continue
                view = getattr(p.callback, "view_class", None) or getattr(p.callback, "cls", None)
                methods = [m.upper() for m in METHODS if view is not None and hasattr(view, m)]
                found.append((route, p.name, view, methods))

    walk(get_resolver().url_patterns, "")
    return found


def has_params(route: str) -> bool:
    return "<" in route
