from django.apps import AppConfig
from django.db.backends.signals import connection_created


class DealsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "deals"
    verbose_name = "Deals"

    def ready(self):
        from deals.db import register_sqlite_functions

        connection_created.connect(register_sqlite_functions, dispatch_uid="prm_sqlite_functions")
