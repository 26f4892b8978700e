"""The project package as an app, only to connect cross-cutting signal receivers at start-up:
the security log (prm.security_log). The session registry's receivers are connected by
partners.apps."""

from django.apps import AppConfig


class PrmConfig(AppConfig):
    name = "prm"
    label = "prm"
    verbose_name = "Dealbridge platform"

    def ready(self):
        from allauth.mfa import signals as mfa_signals
        from django.contrib.auth import signals as auth_signals

        from prm import security_log

        auth_signals.user_login_failed.connect(
            security_log.on_user_login_failed, dispatch_uid="prm_security_login_failed"
        )
        mfa_signals.authentication_failed.connect(
            security_log.on_mfa_failed, dispatch_uid="prm_security_mfa_failed"
        )
