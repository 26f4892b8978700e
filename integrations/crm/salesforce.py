"""Salesforce through simple-salesforce (REST: SOQL query + queryMore, getDeleted, sObject
create/update), with OAuth 2.0 tokens from requests-oauthlib: the web-server flow's refresh
token, or the JWT bearer flow (oauthlib's ServiceApplicationClient) for server-to-server.

Incremental pull: `SystemModstamp >= watermark ORDER BY SystemModstamp, Id`, page by page
(queryMore via nextRecordsUrl); records at the watermark's instant up to its id were stored
already and are skipped. Deletions: the sObject getDeleted resource for the window since the
last one read (its `latestDateCovered` is the next window's start)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import requests
from oauthlib.oauth2 import OAuth2Error, ServiceApplicationClient
from requests_oauthlib import OAuth2Session
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

from integrations.crm.clients import (
    CrmAuthError,
    CrmRecord,
    CrmUnavailable,
    RecordRejected,
    Retryable,
    parse_time,
    with_backoff,
)
from integrations.crm.http import TimeoutSession, transient_status
from integrations.crm.models import AuthMethod, CrmConnection

T = TypeVar("T")
OBJECT = "Opportunity"
# Salesforce keeps deleted records' ids for about 15 days; getDeleted refuses a start before
# its earliestDateAvailable (and windows longer than 30 days).
DELETED_WINDOW = dt.timedelta(days=29)


def soql_datetime(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def soql_quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def flatten(record: dict, prefix: str = "") -> dict[str, Any]:
    """{"Account": {"attributes": {...}, "Name": "Acme"}} -> {"Account.Name": "Acme"}."""
    out: dict[str, Any] = {}
    for key, value in record.items():
        if key == "attributes":
            continue
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


class SalesforceClient:
    def __init__(
        self,
        connection: CrmConnection,
        secrets: dict,
        on_tokens: Callable[[dict, str], None],
    ):
        self.connection = connection
        self.secrets = secrets
        self.on_tokens = on_tokens  # (new secrets, instance_url): persisted, encrypted
        self.session = TimeoutSession()
        self._sf: Salesforce | None = None

    # --- tokens ----------------------------------------------------------------------------

    @property
    def token_url(self) -> str:
        return self.connection.auth_url.rstrip("/") + "/services/oauth2/token"

    def refresh(self) -> None:
        """A new access token: JWT bearer, or the web-server flow's refresh token."""
        connection = self.connection
        try:
            if connection.auth_method == AuthMethod.SF_JWT:
                client = ServiceApplicationClient(
                    connection.client_id,
                    private_key=self.secrets.get("private_key", ""),
                    subject=connection.username,
                    issuer=connection.client_id,
                    audience=connection.auth_url.rstrip("/"),
                )
                oauth = OAuth2Session(client=client)
                token = oauth.fetch_token(
                    self.token_url,
                    timeout=self.session.timeout,
                    include_client_id=False,
                    verify=self.session.verify,
                )
            else:
                refresh_token = self.secrets.get("refresh_token")
                if not refresh_token:
                    raise CrmAuthError("No refresh token: connect the Salesforce org again.")
                oauth = OAuth2Session(connection.client_id)
                token = oauth.refresh_token(
                    self.token_url,
                    refresh_token=refresh_token,
                    client_id=connection.client_id,
                    client_secret=self.secrets.get("client_secret", ""),
                    timeout=self.session.timeout,
                    verify=self.session.verify,
                )
        except OAuth2Error as exc:
            if transient_status(getattr(exc, "status_code", None)):
                raise Retryable(f"token endpoint HTTP {exc.status_code}") from None
            raise CrmAuthError(f"Salesforce refused the token request: {exc.error}") from None
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise Retryable(f"token endpoint unreachable ({type(exc).__name__})") from None
        except ValueError as exc:  # a 5xx page that is not JSON
            raise Retryable(f"token endpoint answered garbage ({str(exc)[:100]})") from None
        self.secrets = {**self.secrets, "access_token": token["access_token"]}
        if token.get("refresh_token"):
            self.secrets["refresh_token"] = token["refresh_token"]
        instance_url = token.get("instance_url") or self.connection.instance_url
        self.on_tokens(self.secrets, instance_url)
        self.connection.instance_url = instance_url
        self._sf = None

    def sf(self) -> Salesforce:
        if self._sf is None:
            if not self.secrets.get("access_token") or not self.connection.instance_url:
                with_backoff(self.refresh, "Salesforce token")
            self._sf = Salesforce(
                instance_url=self.connection.instance_url,
                session_id=self.secrets["access_token"],
                session=self.session,
                version=self.connection.api_version or "59.0",
            )
        return self._sf

    def call(self, fn: Callable[[Salesforce], T], what: str) -> T:
        """One API call: 401 -> one token refresh; 429/5xx/timeouts -> backoff."""
        refreshed = False

        def attempt() -> T:
            nonlocal refreshed
            try:
                return fn(self.sf())
            except SalesforceExpiredSession:
                if refreshed:
                    raise CrmAuthError("Salesforce refused a fresh token: reconnect.") from None
                refreshed = True
                self.refresh()
                return fn(self.sf())
            except SalesforceRefusedRequest as exc:
                if "REQUEST_LIMIT_EXCEEDED" in str(exc.content):
                    raise CrmUnavailable("Salesforce API request limit reached.") from None
                raise
            except (SalesforceMalformedRequest, SalesforceResourceNotFound):
                raise
            except SalesforceError as exc:
                if transient_status(exc.status):
                    raise Retryable(f"HTTP {exc.status}") from None
                raise
            except (requests.Timeout, requests.ConnectionError) as exc:
                raise Retryable(type(exc).__name__) from None

        try:
            return with_backoff(attempt, f"Salesforce {what}")
        except SalesforceExpiredSession:
            raise CrmAuthError("Salesforce refused a fresh token: reconnect.") from None

    # --- the CrmClient interface -----------------------------------------------------------

    def _select(self, fields: list[str]) -> str:
        names = ["Id", "SystemModstamp", *sorted(set(fields) - {"Id", "SystemModstamp"})]
        return "SELECT " + ", ".join(names) + f" FROM {OBJECT}"

    def _record(self, raw: dict) -> CrmRecord:
        data = flatten(raw)
        modified = parse_time(data.get("SystemModstamp"))
        assert modified is not None
        return CrmRecord(crm_id=data["Id"], modified_at=modified, data=data)

    def changed_pages(
        self, since: dt.datetime | None, since_id: str, fields: list[str]
    ) -> Iterator[list[CrmRecord]]:
        soql = self._select(fields)
        if since is not None:
            soql += f" WHERE SystemModstamp >= {soql_datetime(since)}"
        soql += " ORDER BY SystemModstamp ASC, Id ASC"
        result = self.call(lambda sf: sf.query(soql), "query")
        while True:
            records = [self._record(raw) for raw in result.get("records", [])]
            if since is not None:
                records = [
                    r for r in records if not (r.modified_at == since and r.crm_id <= since_id)
                ]
            yield records
            if result.get("done", True) or not result.get("nextRecordsUrl"):
                return
            next_url = result["nextRecordsUrl"]
            result = self.call(
                lambda sf: sf.query_more(next_url, identifier_is_url=True),  # noqa: B023 - called at once
                "queryMore",
            )

    def deleted_since(
        self, since: dt.datetime, until: dt.datetime
    ) -> tuple[list[str], dt.datetime]:
        start = max(since, until - DELETED_WINDOW)
        result = self.call(lambda sf: getattr(sf, OBJECT).deleted(start, until), "getDeleted")
        ids = [row["id"] for row in result.get("deletedRecords", [])]
        covered = parse_time(result.get("latestDateCovered")) or until
        return ids, covered

    def read(self, ids: list[str], fields: list[str]) -> list[CrmRecord]:
        if not ids:
            return []
        soql = self._select(fields) + " WHERE Id IN (" + ", ".join(map(soql_quote, ids)) + ")"
        records: list[CrmRecord] = []
        result = self.call(lambda sf: sf.query(soql), "query")
        while True:
            records.extend(self._record(raw) for raw in result.get("records", []))
            if result.get("done", True) or not result.get("nextRecordsUrl"):
                return records
            next_url = result["nextRecordsUrl"]
            result = self.call(
                lambda sf: sf.query_more(next_url, identifier_is_url=True),  # noqa: B023 - called at once
                "queryMore",
            )

    def upsert(self, object_type: str, crm_id: str | None, values: dict[str, Any]) -> str:
        try:
            if crm_id:
                self.call(lambda sf: getattr(sf, object_type).update(crm_id, values), "update")
                return crm_id
            created = self.call(lambda sf: getattr(sf, object_type).create(values), "create")
        except (SalesforceMalformedRequest, SalesforceResourceNotFound) as exc:
            raise RecordRejected(_sf_message(exc)) from None
        return str(created["id"])


def _sf_message(exc: SalesforceError) -> str:
    content = exc.content
    if isinstance(content, list) and content and isinstance(content[0], dict):
        return "; ".join(f"{e.get('errorCode')}: {e.get('message')}" for e in content)[:500]
    return str(content)[:500]


def authorization_url(connection: CrmConnection, redirect_uri: str, state: str) -> str:
    """Where an administrator consents (web-server flow)."""
    oauth = OAuth2Session(connection.client_id, redirect_uri=redirect_uri, state=state)
    url, _ = oauth.authorization_url(connection.auth_url.rstrip("/") + "/services/oauth2/authorize")
    return url


def exchange_code(
    connection: CrmConnection, secrets: dict, code: str, redirect_uri: str
) -> tuple[dict, str]:
    """The web-server flow's code -> (secrets with access and refresh token, instance_url)."""
    session = TimeoutSession()
    oauth = OAuth2Session(connection.client_id, redirect_uri=redirect_uri)
    try:
        token = oauth.fetch_token(
            connection.auth_url.rstrip("/") + "/services/oauth2/token",
            code=code,
            client_secret=secrets.get("client_secret", ""),
            include_client_id=True,
            timeout=session.timeout,
            verify=session.verify,
        )
    except OAuth2Error as exc:
        raise CrmAuthError(f"Salesforce refused the authorization code: {exc.error}") from None
    except (requests.Timeout, requests.ConnectionError) as exc:
        raise CrmUnavailable(f"Salesforce token endpoint unreachable: {exc}") from None
    new = {**secrets, "access_token": token["access_token"]}
    if token.get("refresh_token"):
        new["refresh_token"] = token["refresh_token"]
    return new, token.get("instance_url", "")
