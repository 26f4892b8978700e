from django.apps import AppConfig
from django.db.backends.signals import connection_created
from django.db.models.signals import post_migrate, pre_migrate

from partners.dispatch import invitation_created


class DealsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "deals"
    verbose_name = "Deals"

    def ready(self):
        from deals.db import register_sqlite_functions
        from deals.notifications.outbox import on_invitation_created
        from deals.reports.rollup import (
            sqlite_triggers_after_migrate,
            sqlite_triggers_before_migrate,
        )

        connection_created.connect(register_sqlite_functions, dispatch_uid="prm_sqlite_functions")
        invitation_created.connect(on_invitation_created, dispatch_uid="deals_invitation_notify")
        # SQLite rebuilds a table to alter it, which drops its triggers (and a trigger naming
        # the table breaks the rebuild): the rollup triggers come off before migrating and go
        # back on, with the cells recomputed, after (PostgreSQL alters in place).
        pre_migrate.connect(
            sqlite_triggers_before_migrate, sender=self, dispatch_uid="prm_rollup_pre_migrate"
        )
        post_migrate.connect(
            sqlite_triggers_after_migrate, sender=self, dispatch_uid="prm_rollup_post_migrate"
        )
