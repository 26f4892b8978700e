"""ISO-07: the unscoped-query guard, active for the whole test suite (loaded by tests/conftest.py).

While a request made by a *partner user* is being served (the request is known through
prm.security_log.current_request, the user through request.user, which DRF also sets for token
requests), every ORM SELECT whose base model is a tenant model must carry, among its top-level
AND-ed WHERE conditions, a scoping condition whose value is the caller's own tenant:

- DealRegistration.partner = <caller's partner>        (also through joins: registration__partner)
- DealRegistration.pk / <fk to DealRegistration> = or IN ids that all belong to the caller's
  partner (checked against the database), or IN a subquery that is itself scoped
- Notification.recipient = <caller>
- Conflict.registration_partner = <caller's partner>, or Conflict.registration_id = / IN ids
  that all belong to the caller's partner (or IN a scoped subquery)
- DirectOpportunity (the vendor's own pipeline): no condition scopes it; a partner request
  never reads it outside a system context

Anything else (no such condition, a condition only under OR/NOT, a foreign value) is a
violation: the guard raises UnscopedQueryError inside the request (so the view fails) and also
records it, and the test fails at teardown even if some handler swallowed the exception.
Code that must read across tenants (the conflict engine, the notification fan-out, jobs and
sweeps run eagerly inside a request, the cross-tenant 404 probe of the security log, program-wide
report figures) runs under an explicit, named prm.lib.tenancy.system_context("..."); the guard
exempts exactly the queries made inside one. There is no call-stack inspection and no list of
exempt modules: a cross-tenant read that is not declared at its entry point fails the test.
Raw SQL is outside the guard's view: the project uses the ORM for tenant tables.

Hooked at SQLCompiler.execute_sql (SELECT and aggregate compilers; not INSERT/UPDATE/DELETE),
i.e. on the structured query rather than on SQL text, so values are checked, not just names.

Why a test may patch a private ORM method when product code may not (issue 13): this guard is
an observer that only reads the query it is handed and then calls the original method, it is
loaded by the test suite alone, and no public hook sees a query's structure before it runs
(connection.execute_wrapper sees only SQL text and parameters). If a Django upgrade changes
execute_sql, the guard fails loudly in every test rather than serving wrong rows in
production. This is the one place outside Django where the ORM's internals are touched.
"""

from __future__ import annotations

import contextvars
import threading

import pytest
from django.db.models.expressions import Col
from django.db.models.lookups import Exact, In
from django.db.models.sql import compiler as sql_compiler
from django.db.models.sql.query import Query
from django.db.models.sql.subqueries import AggregateQuery
from django.db.models.sql.where import AND, WhereNode

__all__ = ["UnscopedQueryError", "unscoped_query_guard", "_unscoped_guard_autouse"]


class UnscopedQueryError(AssertionError):
    """A partner-facing query that is not scoped to the caller's tenant."""


_state = threading.local()
_checking = contextvars.ContextVar("iso07_checking", default=False)
_original_execute_sql = sql_compiler.SQLCompiler.execute_sql
_SKIP = (
    sql_compiler.SQLInsertCompiler,
    sql_compiler.SQLUpdateCompiler,
    sql_compiler.SQLDeleteCompiler,
)


def _tenant_models():
    from conflicts.models import Conflict
    from deals.models import (
        ActivityEntry,
        Attachment,
        Comment,
        DealRegistration,
        DirectOpportunity,
        ExtensionRequest,
        Notification,
    )

    return {
        DealRegistration,
        Comment,
        ExtensionRequest,
        ActivityEntry,
        Attachment,
        Notification,
        Conflict,
        DirectOpportunity,
    }


def violations() -> list[str]:
    if not hasattr(_state, "violations"):
        _state.violations = []
    return _state.violations


def _caller(request):
    """(user, partner_id) when `request` is served for a partner user, else None."""
    user = getattr(request, "user", None)
    if not getattr(user, "is_authenticated", False):
        return None
    cached = getattr(request, "_iso07_caller", None)
    if cached is not None and cached[0] == user.pk:
        return cached[1]
    from partners.roles import is_partner_user, partner_of

    result = (user, partner_of(user).pk) if is_partner_user(user) else None
    request._iso07_caller = (user.pk, result)
    return result


def _values(rhs) -> list | None:
    """Literal values of a lookup's right-hand side (None: not literal)."""
    if isinstance(rhs, list | tuple | set | frozenset):
        items = list(rhs)
    else:
        items = [rhs]
    out = []
    for item in items:
        if hasattr(item, "_meta") and hasattr(item, "pk"):
            item = item.pk
        if isinstance(item, Col | Query) or hasattr(item, "resolve_expression"):
            return None
        out.append(item)
    return out


class _Checker:
    def __init__(self, user, partner_id):
        self.user = user
        self.partner_id = partner_id
        from conflicts.models import Conflict
        from deals.models import DealRegistration, Notification

        self.Registration = DealRegistration
        self.Notification = Notification
        self.Conflict = Conflict

    def registrations_owned(self, ids) -> bool:
        try:
            ids = {int(i) for i in ids}
        except (TypeError, ValueError):
            return False
        if not ids:
            return True  # IN () matches nothing
        owned = self.Registration.objects.filter(pk__in=ids, partner_id=self.partner_id)
        return owned.count() == len(ids)

    def lookup_scopes(self, lookup) -> bool:
        if not isinstance(lookup, Exact | In) or not isinstance(lookup.lhs, Col):
            return False
        field = lookup.lhs.target
        model = field.model
        rhs = lookup.rhs
        if isinstance(rhs, Query):  # pk/fk IN (subquery): scoped iff the subquery is
            return self.query_scoped(rhs)
        values = _values(rhs)
        if values is None:
            return False
        if model is self.Registration and field.name == "partner":
            return all(str(v) == str(self.partner_id) for v in values)
        if model is self.Notification and field.name == "recipient":
            return all(str(v) == str(self.user.pk) for v in values)
        if model is self.Conflict and field.name == "registration_partner_id":
            return all(str(v) == str(self.partner_id) for v in values)
        registration_key = (
            (model is self.Registration and field.primary_key)
            or (getattr(field, "related_model", None) is self.Registration and field.many_to_one)
            # Conflict keeps plain ids (the conflicts app does not import deals).
            or (model is self.Conflict and field.name == "registration_id")
        )
        if registration_key:
            return self.registrations_owned(values)
        return False

    def where_scoped(self, node) -> bool:
        if not isinstance(node, WhereNode) or node.negated or node.connector != AND:
            return self.lookup_scopes(node) if not isinstance(node, WhereNode) else False
        return any(self.where_scoped(child) for child in node.children)

    def query_scoped(self, query) -> bool:
        if isinstance(query, AggregateQuery):
            return self.query_scoped(query.inner_query)
        if query.model not in _tenant_models():
            return True
        if query.is_empty():
            return True
        return self.where_scoped(query.where)


def _guarded_execute_sql(self, *args, **kwargs):
    if not isinstance(self, _SKIP) and not _checking.get():
        _check(self.query)
    return _original_execute_sql(self, *args, **kwargs)


def _check(query) -> None:
    from prm.lib.tenancy import current_system_context
    from prm.security_log import current_request

    request = current_request.get()
    model = getattr(query, "model", None)
    if request is None or current_system_context() is not None:
        return
    inner = query.inner_query if isinstance(query, AggregateQuery) else query
    if getattr(inner, "model", model) not in _tenant_models():
        return
    token = _checking.set(True)
    try:
        caller = _caller(request)
        if caller is None:
            return
        if _Checker(*caller).query_scoped(query):
            return
        message = (
            f"ISO-07: unscoped {inner.model._meta.label} query in a partner request "
            f"({request.method} {request.path}): {str(query)[:400]}"
        )
    finally:
        _checking.reset(token)
    violations().append(message)
    raise UnscopedQueryError(message)


def install() -> None:
    sql_compiler.SQLCompiler.execute_sql = _guarded_execute_sql


def uninstall() -> None:
    sql_compiler.SQLCompiler.execute_sql = _original_execute_sql


@pytest.fixture(autouse=True)
def _unscoped_guard_autouse():
    """Every test runs under the guard; any violation fails the test at teardown."""
    install()
    violations().clear()
    yield
    found = list(violations())
    violations().clear()
    if found:
        pytest.fail("\n".join(found), pytrace=False)


@pytest.fixture
def unscoped_query_guard():
    """For the deliberate-violation test: the list of violations, cleared after the test."""
    found = violations()
    yield found
    found.clear()
