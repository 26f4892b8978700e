"""HubSpot through hubspot-api-client: CRM v3 deals search by `hs_lastmodifieddate` with
paging, archived deals (deletions), batch read (retry), create/update (push); private-app
tokens, or OAuth with the client's own token refresh (`oauth.tokens_api`).

HubSpot's search returns at most 10,000 results per query: past that the pull starts a new
query from the last modification time it stored (records at that instant again, skipped up to
the stored id), so any number of changes comes through."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import urllib3
from django.conf import settings
from hubspot import HubSpot
from hubspot.crm.deals import (
    BatchReadInputSimplePublicObjectId,
    Filter,
    FilterGroup,
    PublicObjectSearchRequest,
    SimplePublicObjectId,
    SimplePublicObjectInput,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.deals.exceptions import ApiException as DealsApiException
from hubspot.oauth.exceptions import ApiException as OAuthApiException

from integrations.crm.clients import (
    CrmAuthError,
    CrmRecord,
    RecordRejected,
    Retryable,
    parse_time,
    retry_after_seconds,
    with_backoff,
)
from integrations.crm.http import transient_status
from integrations.crm.models import AuthMethod, CrmConnection

T = TypeVar("T")
MODIFIED = "hs_lastmodifieddate"
PAGE = 200  # the search endpoint's maximum page size
SEARCH_LIMIT = 10_000  # results one search query can page through
# HubSpot's rolling 10-second limit: wait that long on a 429 that names no Retry-After.
TEN_SECONDLY = 10.0


def _ms(value: dt.datetime) -> str:
    return str(int(value.timestamp() * 1000))


class HubSpotClient:
    def __init__(
        self,
        connection: CrmConnection,
        secrets: dict,
        on_tokens: Callable[[dict, str], None],
    ):
        self.connection = connection
        self.secrets = secrets
        self.on_tokens = on_tokens
        self._client: HubSpot | None = None
        self.timeout = settings.CRM_HTTP_TIMEOUT_SECONDS

    def _config(self) -> dict:
        config: dict[str, Any] = {"host": self.connection.auth_url.rstrip("/")}
        if settings.CRM_CA_BUNDLE:
            config["ssl_ca_cert"] = settings.CRM_CA_BUNDLE
        # Retries are ours (with_backoff honours Retry-After); urllib3 must not add its own.
        config["retry"] = urllib3.Retry(total=0, connect=0, read=0, redirect=0, status=0)
        return config

    def api(self) -> HubSpot:
        if self._client is None:
            token = self.secrets.get("token") or self.secrets.get("access_token")
            if not token and self.connection.auth_method == AuthMethod.HS_OAUTH:
                with_backoff(self.refresh, "HubSpot token")
                token = self.secrets.get("access_token")
            if not token:
                raise CrmAuthError("No HubSpot token: connect again.")
            self._client = HubSpot(access_token=token, **self._config())
        return self._client

    def refresh(self) -> None:
        if self.connection.auth_method != AuthMethod.HS_OAUTH:
            raise CrmAuthError("HubSpot refused the private-app token: enter a valid token.")
        refresh_token = self.secrets.get("refresh_token")
        if not refresh_token:
            raise CrmAuthError("No HubSpot refresh token: connect again.")
        client = HubSpot(**self._config())
        try:
            token = client.oauth.tokens_api.create(
                grant_type="refresh_token",
                client_id=self.connection.client_id,
                client_secret=self.secrets.get("client_secret", ""),
                refresh_token=refresh_token,
                _request_timeout=self.timeout,
            )
        except OAuthApiException as exc:
            if transient_status(exc.status):
                raise Retryable(f"token endpoint HTTP {exc.status}") from None
            raise CrmAuthError(f"HubSpot refused the refresh token (HTTP {exc.status}).") from None
        except urllib3.exceptions.HTTPError as exc:
            raise Retryable(f"token endpoint unreachable ({type(exc).__name__})") from None
        self.secrets = {**self.secrets, "access_token": token.access_token}
        if token.refresh_token:
            self.secrets["refresh_token"] = token.refresh_token
        self.on_tokens(self.secrets, "")
        self._client = None

    def call(self, fn: Callable[[HubSpot], T], what: str) -> T:
        refreshed = False

        def attempt() -> T:
            nonlocal refreshed
            try:
                return fn(self.api())
            except DealsApiException as exc:
                if exc.status == 401:
                    if refreshed:
                        raise CrmAuthError("HubSpot refused a fresh token: reconnect.") from None
                    refreshed = True
                    self.refresh()
                    return attempt()
                if exc.status == 429:
                    wait = retry_after_seconds((exc.headers or {}).get("Retry-After"))
                    raise Retryable("HTTP 429 (rate limited)", wait or TEN_SECONDLY) from None
                if transient_status(exc.status):
                    wait = retry_after_seconds((exc.headers or {}).get("Retry-After"))
                    raise Retryable(f"HTTP {exc.status}", wait) from None
                raise
            except urllib3.exceptions.HTTPError as exc:
                raise Retryable(type(exc).__name__) from None

        return with_backoff(attempt, f"HubSpot {what}")

    # --- the CrmClient interface -----------------------------------------------------------

    def _properties(self, fields: list[str]) -> list[str]:
        return sorted({MODIFIED, *fields} - {"id"})

    def _record(self, obj: Any) -> CrmRecord:
        props = dict(obj.properties or {})
        modified = parse_time(props.get(MODIFIED)) or parse_time(obj.updated_at)
        assert modified is not None
        return CrmRecord(
            crm_id=str(obj.id), modified_at=modified, data={"id": str(obj.id), **props}
        )

    def changed_pages(
        self, since: dt.datetime | None, since_id: str, fields: list[str]
    ) -> Iterator[list[CrmRecord]]:
        properties = self._properties(fields)
        start, start_id = since, since_id
        while True:
            after: str | None = None
            seen = 0
            last: CrmRecord | None = None
            while True:
                filters = (
                    [
                        FilterGroup(
                            filters=[
                                Filter(property_name=MODIFIED, operator="GTE", value=_ms(start))
                            ]
                        )
                    ]
                    if start is not None
                    else []
                )
                request = PublicObjectSearchRequest(
                    filter_groups=filters,
                    sorts=[{"propertyName": MODIFIED, "direction": "ASCENDING"}],
                    properties=properties,
                    limit=PAGE,
                    after=after,
                )
                page = self.call(
                    lambda api: api.crm.deals.search_api.do_search(
                        public_object_search_request=request,  # noqa: B023 - called at once
                        _request_timeout=self.timeout,
                    ),
                    "search",
                )
                records = [self._record(obj) for obj in page.results or []]
                seen += len(records)
                if records:
                    last = records[-1]
                if start is not None:
                    records = [
                        r
                        for r in records
                        if not (r.modified_at == start and int(r.crm_id) <= int(start_id or 0))
                    ]
                yield records
                nxt = page.paging.next.after if page.paging and page.paging.next else None
                if not nxt:
                    return
                if seen + PAGE > SEARCH_LIMIT:
                    break  # restart from the last record read (the 10,000-result limit)
                after = nxt
            if last is None or (start == last.modified_at and start_id == last.crm_id):
                return
            start, start_id = last.modified_at, last.crm_id

    def deleted_since(
        self, since: dt.datetime, until: dt.datetime
    ) -> tuple[list[str], dt.datetime]:
        """Archived deals archived in [since, until): HubSpot lists archived objects (no date
        filter), so the whole list is paged and filtered on `archivedAt`."""
        ids: list[str] = []
        after: str | None = None
        while True:
            page = self.call(
                lambda api: api.crm.deals.basic_api.get_page(
                    limit=100,
                    after=after,  # noqa: B023 - called at once
                    archived=True,
                    _request_timeout=self.timeout,
                ),
                "archived",
            )
            for obj in page.results or []:
                archived_at = parse_time(obj.archived_at)
                if obj.archived and (archived_at is None or since <= archived_at < until):
                    ids.append(str(obj.id))
            nxt = page.paging.next.after if page.paging and page.paging.next else None
            if not nxt:
                return ids, until
            after = nxt

    def read(self, ids: list[str], fields: list[str]) -> list[CrmRecord]:
        out: list[CrmRecord] = []
        for i in range(0, len(ids), 100):
            chunk = ids[i : i + 100]
            request = BatchReadInputSimplePublicObjectId(
                inputs=[SimplePublicObjectId(id=x) for x in chunk],
                properties=self._properties(fields),
                properties_with_history=[],
            )
            response = self.call(
                lambda api: api.crm.deals.batch_api.read(
                    batch_read_input_simple_public_object_id=request,  # noqa: B023 - called at once
                    archived=False,
                    _request_timeout=self.timeout,
                ),
                "batch read",
            )
            out.extend(self._record(obj) for obj in response.results or [])
        return out

    def upsert(self, object_type: str, crm_id: str | None, values: dict[str, Any]) -> str:
        properties = {k: ("" if v is None else str(v)) for k, v in values.items()}
        try:
            if crm_id:
                self.call(
                    lambda api: api.crm.deals.basic_api.update(
                        crm_id,
                        SimplePublicObjectInput(properties=properties),
                        _request_timeout=self.timeout,
                    ),
                    "update",
                )
                return crm_id
            created = self.call(
                lambda api: api.crm.deals.basic_api.create(
                    SimplePublicObjectInputForCreate(properties=properties, associations=[]),
                    _request_timeout=self.timeout,
                ),
                "create",
            )
        except DealsApiException as exc:
            raise RecordRejected(f"HTTP {exc.status}: {str(exc.body)[:400]}") from None
        return str(created.id)


def exchange_code(connection: CrmConnection, secrets: dict, code: str, redirect: str) -> dict:
    """HubSpot OAuth: the authorization code -> secrets with access and refresh token."""
    from integrations.crm.clients import CrmUnavailable

    client = HubSpotClient(connection, secrets, lambda s, u: None)
    try:
        token = HubSpot(**client._config()).oauth.tokens_api.create(
            grant_type="authorization_code",
            code=code,
            redirect_uri=redirect,
            client_id=connection.client_id,
            client_secret=secrets.get("client_secret", ""),
            _request_timeout=client.timeout,
        )
    except OAuthApiException as exc:
        raise CrmAuthError(f"HubSpot refused the authorization code (HTTP {exc.status}).") from None
    except urllib3.exceptions.HTTPError as exc:
        raise CrmUnavailable(f"HubSpot token endpoint unreachable: {exc}") from None
    return {**secrets, "access_token": token.access_token, "refresh_token": token.refresh_token}
