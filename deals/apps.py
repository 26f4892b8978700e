import logging

from django.apps import AppConfig
from django.db.backends.signals import connection_created
from django.db.models.signals import m2m_changed, post_delete, post_migrate, post_save, pre_migrate

from partners.dispatch import invitation_created, invitation_withheld, user_deactivating


class DealsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "deals"
    verbose_name = "Deals"

    def ready(self):
        from deals.db import register_sqlite_functions
        from deals.notifications.outbox import on_invitation_created, on_invitation_withheld
        from deals.registrations.ownership import on_user_deactivating
        from deals.reports.rollup import (
            sqlite_triggers_after_migrate,
            sqlite_triggers_before_migrate,
        )

        connection_created.connect(register_sqlite_functions, dispatch_uid="prm_sqlite_functions")
        invitation_created.connect(on_invitation_created, dispatch_uid="deals_invitation_notify")
        invitation_withheld.connect(
            on_invitation_withheld, dispatch_uid="deals_invitation_withheld_notify"
        )
        user_deactivating.connect(on_user_deactivating, dispatch_uid="deals_owner_handover")
        # SQLite rebuilds a table to alter it, which drops its triggers (and a trigger naming
        # the table breaks the rebuild): the rollup triggers come off before migrating and go
        # back on, with the cells recomputed, after (PostgreSQL alters in place).
        pre_migrate.connect(
            sqlite_triggers_before_migrate, sender=self, dispatch_uid="prm_rollup_pre_migrate"
        )
        post_migrate.connect(
            sqlite_triggers_after_migrate, sender=self, dispatch_uid="prm_rollup_post_migrate"
        )
        post_migrate.connect(
            rebuild_stale_identity_index, sender=self, dispatch_uid="deals_index_rebuild"
        )
        _connect_cache_forgetting()


def rebuild_stale_identity_index(sender, using="default", verbosity=1, **kwargs):
    """After migrate: entries built by another conflicts.normalize.NORMALIZER_VERSION (their
    names, keys or location would differ from what a check computes) mean the whole identity
    index is rebuilt (manage.py rebuild_identity_index, one transaction)."""
    from django.core.management import call_command

    from conflicts.models import IdentityEntry
    from conflicts.normalize import NORMALIZER_VERSION

    stale = IdentityEntry.objects.using(using).exclude(normalizer_version=NORMALIZER_VERSION)
    if stale.exists():
        logging.getLogger("deals").warning(
            "identity index built by another normaliser: rebuilding (v%s)", NORMALIZER_VERSION
        )
        call_command("rebuild_identity_index", verbosity=verbosity)


def _managers_changed(sender, update_fields=None, **kwargs):
    if update_fields is not None and set(update_fields) == {"last_login"}:
        return  # a sign-in
    from deals.notifications.outbox import managers_forget

    managers_forget()


def _catalog_changed(sender, **kwargs):
    from deals.catalog import catalog_changed

    catalog_changed()


def _connect_cache_forgetting():
    """The cached managers list and active catalogue (prm.lib.hotcache) are forgotten on every
    write that can change them: users, groups and permission assignments are written by the
    Django admin and shells, products by product_create and the admin, so model signals."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from deals.models import Product, ProductLine

    user = get_user_model()
    for signal in (post_save, post_delete):
        for model in (user, Group):
            signal.connect(_managers_changed, sender=model, dispatch_uid=f"prm_managers_{model}")
        for model in (Product, ProductLine):
            signal.connect(_catalog_changed, sender=model, dispatch_uid=f"prm_catalog_{model}")
    for through in (user.groups.through, user.user_permissions.through, Group.permissions.through):
        m2m_changed.connect(_managers_changed, sender=through, dispatch_uid=f"prm_mgr_{through}")
