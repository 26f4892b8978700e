"""The OAuth 2.0 consent of an administrator (web-server / authorization-code flow) for the
Salesforce web-server flow and HubSpot OAuth: where to send the browser, and the code
exchange that stores the tokens (encrypted) on the connection."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from django.conf import settings

from integrations.crm.models import AuthMethod, CrmConnection
from integrations.crm.services import connection_set_secrets

SALT = "integrations.crm.oauth"
HUBSPOT_SCOPES = "crm.objects.deals.read crm.objects.deals.write"


def redirect_uri(absolute_callback: str) -> str:
    """The callback URL registered with the CRM app (CRM_OAUTH_REDIRECT_BASE behind a proxy)."""
    base = settings.CRM_OAUTH_REDIRECT_BASE.rstrip("/")
    if not base:
        return absolute_callback
    return base + urlsplit(absolute_callback).path


def consent_url(connection: CrmConnection, redirect: str, state: str) -> str:
    if connection.auth_method == AuthMethod.SF_WEB_SERVER:
        from integrations.crm.salesforce import authorization_url

        return authorization_url(connection, redirect, state)
    host = connection.auth_url.rstrip("/")
    if urlsplit(host).hostname == "api.hubapi.com":
        host = "https://app.hubspot.com"
    query = urlencode(
        {
            "client_id": connection.client_id,
            "redirect_uri": redirect,
            "scope": HUBSPOT_SCOPES,
            "state": state,
        }
    )
    return f"{host}/oauth/authorize?{query}"


def complete(connection: CrmConnection, code: str, redirect: str) -> None:
    """Exchange the code for tokens and store them (raises CrmAuthError / CrmUnavailable)."""
    from integrations.crm import credentials

    secrets = credentials.decrypt(connection.credentials)
    if connection.auth_method == AuthMethod.SF_WEB_SERVER:
        from integrations.crm.salesforce import exchange_code

        new, instance_url = exchange_code(connection, secrets, code, redirect)
        if instance_url:
            connection.instance_url = instance_url
            connection.save(update_fields=["instance_url"])
    else:
        from integrations.crm.hubspot import exchange_code as hubspot_exchange

        new = hubspot_exchange(connection, secrets, code, redirect)
    connection_set_secrets(connection, new)
