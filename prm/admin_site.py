"""The admin site: business data first, in the order an administrator works through it, then
the platform's own tables (accounts and sign-in, Celery's schedules) in a "System" group, so
Celery's scheduling tables no longer sit among partners, registrations and rewards (issue 18
§6.10). Only AdminSite's public hooks are used (get_app_list)."""

from __future__ import annotations

from django.contrib import admin

# The business apps, in this order; anything not listed is platform plumbing.
BUSINESS_APPS = ("deals", "partners", "conflicts", "rewards", "integrations")
SYSTEM_NAMES = {
    "django_celery_beat": "System: scheduled jobs (Celery beat)",
    "auth": "System: groups and permissions",
    "account": "System: sign-in e-mail addresses",
    "mfa": "System: two-factor authenticators",
    "socialaccount": "System: single sign-on identities",
    "prm": "System: platform",
}


class PrmAdminSite(admin.AdminSite):
    site_header = "Dealbridge administration"
    site_title = "Dealbridge admin"
    index_title = "Program administration"

    def get_app_list(self, request, app_label=None):
        apps = super().get_app_list(request, app_label)
        for app in apps:
            label = app["app_label"]
            if label in SYSTEM_NAMES:
                app["name"] = SYSTEM_NAMES[label]
            elif label not in BUSINESS_APPS:
                app["name"] = f"System: {app['name']}"

        def order(app):
            label = app["app_label"]
            if label in BUSINESS_APPS:
                return (0, BUSINESS_APPS.index(label), "")
            return (1, 0, app["name"])

        return sorted(apps, key=order)
