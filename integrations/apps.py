from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "integrations"
    verbose_name = "Integrations"

    def ready(self):
        from deals.events import event_recorded
        from integrations.delivery import webhooks_forget
        from integrations.services import on_event_recorded

        # Deliveries are written in the transaction that records the event (deals cannot import
        # this app: the signal is the one way down).
        event_recorded.connect(on_event_recorded, dispatch_uid="integrations_webhooks")
        from integrations.crm.push import on_event_recorded as crm_on_event_recorded

        # CRM pushes ride the same signal: an outbox row per pushing connection, written in
        # the event's transaction.
        event_recorded.connect(crm_on_event_recorded, dispatch_uid="integrations_crm_push")
        from django.db.models.signals import post_delete, post_save

        from integrations.crm.models import CrmConnection
        from integrations.crm.services import connection_unschedule, crm_connections_forget

        post_delete.connect(
            lambda instance, **kwargs: connection_unschedule(instance),
            sender=CrmConnection,
            weak=False,
            dispatch_uid="integrations_crm_unschedule",
        )
        from integrations.models import WebhookEndpoint

        for signal in (post_save, post_delete):
            signal.connect(
                lambda **kwargs: crm_connections_forget(),
                sender=CrmConnection,
                weak=False,
                dispatch_uid=f"integrations_crm_forget_{signal}",
            )

        for signal in (post_save, post_delete):
            signal.connect(
                lambda **kwargs: webhooks_forget(),
                sender=WebhookEndpoint,
                weak=False,
                dispatch_uid=f"integrations_forget_{signal}",
            )
