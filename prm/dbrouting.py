"""Report and export reads on a read replica (DATABASE_REPLICA_URL), everything else on the
primary. Public API only: a database router (settings.DATABASE_ROUTERS) that Django asks for
every query without an explicit `using()`.

- Only reads made inside `replica_reads()` go to the replica (the `replica` alias exists only
  when DATABASE_REPLICA_URL is set; without it the router answers None: Django's default).
  Report and export views enter it through the `reads_from_replica` decorator, which also keeps
  it around every chunk of a streaming response (a CSV export reads while it streams, after the
  view has returned).
- Writes, and every read outside that context, go to the primary; the replica is never
  migrated (it is a physical copy of the primary).
- Read-your-writes: `PrimaryPinMiddleware` sets a short cookie (REPLICA_PIN_SECONDS) on the
  answer to any unsafe request (POST, PUT, PATCH, DELETE); while a client sends it back, its
  report reads stay on the primary, so it sees its own writes whatever the replica's lag. The
  cookie only ever chooses the primary, so a client that forges or drops it gains nothing.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse

REPLICA = "replica"
PRIMARY = "default"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})

_replica_wanted: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "replica_wanted", default=False
)


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


def read_alias() -> str:
    """The alias a routed read would use now (for tests and logs)."""
    return REPLICA if _replica_wanted.get() and replica_configured() else PRIMARY


@contextmanager
def replica_reads(request: HttpRequest | None = None) -> Iterator[None]:
    """Route the reads in this block to the replica, unless the request is pinned to the
    primary (it wrote a moment ago) or no replica is configured."""
    pinned = request is not None and request.COOKIES.get(settings.REPLICA_PIN_COOKIE_NAME) == "1"
    token = _replica_wanted.set(not pinned)
    try:
        yield
    finally:
        _replica_wanted.reset(token)


def _stream_in_context(chunks, wanted: bool) -> Iterator[Any]:
    iterator = iter(chunks)
    while True:
        token = _replica_wanted.set(wanted)
        try:
            chunk = next(iterator)
        except StopIteration:
            return
        finally:
            _replica_wanted.reset(token)
        yield chunk


def reads_from_replica(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A view (function or DRF handler method) whose reads may use the replica. The request
    is the first argument that is an HttpRequest (DRF's Request proxies one)."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        request = next((a for a in args if hasattr(a, "COOKIES") and hasattr(a, "method")), None)
        with replica_reads(request):
            wanted = _replica_wanted.get()
            response = view(*args, **kwargs)
        if isinstance(response, StreamingHttpResponse):
            response.streaming_content = _stream_in_context(response.streaming_content, wanted)
        return response

    return wrapper


class ReplicaRouter:
    """settings.DATABASE_ROUTERS: reads in replica_reads() → replica; all else → primary."""

    def db_for_read(self, model, **hints) -> str | None:
        if _replica_wanted.get() and replica_configured():
            return REPLICA
        return None

    def db_for_write(self, model, **hints) -> str | None:
        return PRIMARY if replica_configured() else None

    def allow_relation(self, obj1, obj2, **hints) -> bool | None:
        # The same rows on both aliases: an object read from the replica may point at one
        # from the primary.
        return True if replica_configured() else None

    def allow_migrate(self, db, app_label, model_name=None, **hints) -> bool | None:
        return False if db == REPLICA else None


class PrimaryPinMiddleware:
    """After an unsafe request, this client reads the primary for REPLICA_PIN_SECONDS."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.method not in SAFE_METHODS and replica_configured():
            response.set_cookie(
                settings.REPLICA_PIN_COOKIE_NAME,
                "1",
                max_age=settings.REPLICA_PIN_SECONDS,
                path="/",
                httponly=True,
                samesite="Lax",
                secure=settings.SESSION_COOKIE_SECURE,
            )
        return response
