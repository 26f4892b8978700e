from django.apps import AppConfig


class PartnersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "partners"
    verbose_name = "Partners"

    def ready(self):
        from django.contrib.auth import signals as auth_signals

        from partners import middleware, signals

        signals.connect()
        auth_signals.user_logged_in.connect(
            middleware.on_user_logged_in, dispatch_uid="prm_session_logged_in"
        )
        auth_signals.user_logged_out.connect(
            middleware.on_user_logged_out, dispatch_uid="prm_session_logged_out"
        )
