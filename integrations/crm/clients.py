"""The one small interface both CRM adapters implement, its errors, and the backoff rule.

A pull asks `changed_pages(since, since_id)` for pages of records in (modified, id) order and
`deleted_since(since)` for deletions; the retry action re-reads records with `read(ids)`; a
push calls `upsert(object_type, crm_id, fields)`. The adapters translate the vendor's errors
into three: CrmUnavailable (outage, timeout, rate limit: retry later, nothing lost),
CrmAuthError (the token cannot be refreshed: the connection needs reconnecting) and
RecordRejected (the CRM refused this one record: a failed record, the run goes on)."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from django.conf import settings

logger = logging.getLogger("prm.crm")

T = TypeVar("T")


class CrmError(Exception):
    pass


class CrmUnavailable(CrmError):
    """5xx, timeouts, connection errors, rate limits we will not wait out now."""


class CrmAuthError(CrmError):
    """The access token was refused and could not be refreshed: reconnect."""


class RecordRejected(CrmError):
    """The CRM refused one record (validation, missing field...)."""


class Retryable(Exception):
    """Raised inside an adapter call to ask `with_backoff` for another attempt."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


@dataclass
class CrmRecord:
    crm_id: str
    modified_at: dt.datetime
    # Field name (dotted for nested objects: "Account.Name") -> value, as the CRM sent it.
    data: dict[str, Any] = field(default_factory=dict)


class CrmClient(Protocol):
    def changed_pages(
        self, since: dt.datetime | None, since_id: str, fields: list[str]
    ) -> Iterator[list[CrmRecord]]: ...

    def deleted_since(
        self, since: dt.datetime, until: dt.datetime
    ) -> tuple[list[str], dt.datetime]: ...

    def read(self, ids: list[str], fields: list[str]) -> list[CrmRecord]: ...

    def upsert(self, object_type: str, crm_id: str | None, values: dict[str, Any]) -> str: ...


# Tests replace this to observe waits without spending them.
sleep: Callable[[float], None] = time.sleep


def with_backoff(call: Callable[[], T], what: str) -> T:
    """Run `call`, retrying on Retryable: honours Retry-After when the CRM sends one (a longer
    wait than CRM_MAX_RETRY_AFTER_SECONDS fails now, the next run tries again), else waits
    1, 2, 4, 8 s... After CRM_HTTP_RETRIES retries: CrmUnavailable."""
    attempts = settings.CRM_HTTP_RETRIES
    for attempt in range(attempts + 1):
        try:
            return call()
        except Retryable as exc:
            if attempt == attempts:
                raise CrmUnavailable(f"{what}: {exc} (gave up after {attempts} retries)") from None
            wait = exc.retry_after if exc.retry_after is not None else float(2**attempt)
            if wait > settings.CRM_MAX_RETRY_AFTER_SECONDS:
                raise CrmUnavailable(f"{what}: {exc}; the CRM asks to wait {wait:.0f} s") from None
            logger.info("CRM %s: %s; retrying in %.1f s", what, exc, wait)
            sleep(wait)
    raise AssertionError("unreachable")


def retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def parse_time(value: Any) -> dt.datetime | None:
    """Salesforce ("2024-05-01T10:00:00.000+0000"), HubSpot ("2024-05-01T10:00:00.123Z") or
    epoch milliseconds, as aware UTC."""
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    text = str(value)
    if text.isdigit():
        return dt.datetime.fromtimestamp(int(text) / 1000, tz=dt.UTC)
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    elif len(text) > 5 and text[-5] in "+-" and text[-3] != ":":
        text = text[:-2] + ":" + text[-2:]
    parsed = dt.datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
