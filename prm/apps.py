"""The project package as an app: connects cross-cutting signal receivers at start-up (the
security log, prm.security_log), registers the `<id:...>` path converter (prm/lib/ids.py) and
owns the limiter counters table (prm/models.py). The session registry's receivers are connected by
partners.apps."""

from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig


class PrmAdminConfig(AdminConfig):
    """django.contrib.admin with the project's site (prm/admin_site.py)."""

    default_site = "prm.admin_site.PrmAdminSite"


class PrmConfig(AppConfig):
    name = "prm"
    label = "prm"
    verbose_name = "Dealbridge platform"

    def ready(self):
        from django.urls import register_converter

        from prm.lib.ids import IdConverter

        # `<id:pk>` on every object route: 64-bit ids only, larger ones are a 404 (issue 20).
        register_converter(IdConverter, "id")

        from allauth.mfa import signals as mfa_signals
        from django.contrib.auth import signals as auth_signals

        from prm import security_log

        auth_signals.user_login_failed.connect(
            security_log.on_user_login_failed, dispatch_uid="prm_security_login_failed"
        )
        mfa_signals.authentication_failed.connect(
            security_log.on_mfa_failed, dispatch_uid="prm_security_mfa_failed"
        )
