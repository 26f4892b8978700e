"""Tenant scoping: the named system context for code that must read across tenants.

Partner-facing code reads tenant rows only through scoped selectors. A few pieces of system work
read across tenants by design and never answer a partner with what they read: the conflict
engine (it matches a customer against every partner's registrations and the direct pipeline and
returns neutral messages), the lifecycle sweeps and jobs, the notification fan-out (it reads the
managers and writes everyone's outbox rows), and aggregate report figures. Such code runs under
``system_context("<what it is>")``, usable as a context manager or a decorator::

    with system_context("conflict engine"):
        ...

    @system_context("expiry sweep")
    def registrations_expire_due(...): ...

The test suite's unscoped-query guard (ISO-07, tests/security/guard.py) exempts exactly the
queries that run inside such a context, and nothing else: no call-stack inspection, no list of
modules. The name says in a failure message or a debugger why the read may cross tenants.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager

_current: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "prm_system_context", default=None
)


@contextmanager
def system_context(name: str) -> Iterator[None]:
    """Run the block (or the decorated function) as named system work that may read across
    tenants. Nested contexts keep the innermost name."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError("a system context needs a name that says what the work is")
    token = _current.set(name)
    try:
        yield
    finally:
        _current.reset(token)


def current_system_context() -> str | None:
    """The name of the system context in force, or None in ordinary (tenant-scoped) code."""
    return _current.get()
