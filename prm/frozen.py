"""Hot-path querysets compiled to SQL once per connection.

Turning a queryset into SQL is most of the cost of a one-row fetch: on the registration detail
GET the ORM spent ~1.3 ms compiling each of its two queries and ~0.2 ms running them. A frozen
query is built once with a sentinel for each value that varies (a partner id, a pk, a token
hash), compiled, and kept with its compiler (which knows how to turn rows into model instances,
select_related objects and annotations included); later calls only swap the values into the
parameter list and run the queryset's own Django iterable (model instances, values_list tuples)
over the same compiler.

Rules that keep this exact:
- `key` names the *shape*: everything that changes the SQL other than the declared values
  (a role's scope, a narrowing) must be part of it.
- Every declared value must come back verbatim as one or more SQL parameters; anything else
  (a value Django transforms, like `%x%` for icontains) is refused at compile time.
- With settings.FROZEN_QUERIES_CHECK (on in the test settings) every call also compiles the
  queryset built from the real values and fails loudly if its SQL or parameters differ, so a
  hidden value (say a timezone.now() inside the builder) or a key that misses a shape is caught
  by any test that goes through the path.
"""

from __future__ import annotations

import contextvars
import itertools
from collections.abc import Callable

from django.conf import settings
from django.db import connections
from django.db.models import QuerySet

_sentinels = itertools.count(1)
# While a frozen query runs: {sentinel: real value}. The compiler still carries the query built
# with sentinels; a reader of that structure (the test suite's ISO-07 guard) maps them back.
_binding: contextvars.ContextVar[dict | None] = contextvars.ContextVar(
    "prm_frozen_binding", default=None
)


def bound_value(value):
    """The real value behind a sentinel of the frozen query being run (else `value`)."""
    binding = _binding.get()
    if binding is None:
        return value
    try:
        return binding.get(value, value)
    except TypeError:  # unhashable
        return value


class FrozenQueryError(AssertionError):
    pass


class _Frozen:
    __slots__ = ("queryset", "compiler", "sql", "params", "slots", "sentinels", "converters")

    def __init__(self, queryset, compiler, sql: str, params: tuple, slots: dict, sentinels: dict):
        self.queryset = queryset
        self.compiler = compiler
        self.sql = sql
        self.params = params
        self.slots = slots  # value name -> positions in params
        self.sentinels = sentinels  # value name -> sentinel
        # Row converters of the selected columns (results_iter asks for them on every run).
        self.converters = compiler.get_converters(
            [column[0] for column in compiler.select[0 : compiler.col_count]]
        )


def _sentinel(value):
    n = next(_sentinels)
    if isinstance(value, bool):
        raise FrozenQueryError("booleans change SQL shape: put them in the key")
    if isinstance(value, int):
        # Inside every integer column's range (Django turns an out-of-range lookup into an
        # empty result), and negative so never a real id.
        return -2_000_000_000 - n
    if isinstance(value, str):
        return f"\x1ffrozen-sentinel-{n}\x1f"
    raise FrozenQueryError(f"unsupported value type {type(value).__name__}")


def _freeze(build: Callable[..., QuerySet], values: dict, using: str) -> _Frozen:
    sentinels = {name: _sentinel(value) for name, value in values.items()}
    queryset = build(**sentinels)
    compiler = queryset.query.get_compiler(using=using)
    sql, params = compiler.as_sql()
    params = tuple(params)
    slots = {}
    for name, sentinel in sentinels.items():
        positions = [i for i, p in enumerate(params) if type(p) is type(sentinel) and p == sentinel]
        if not positions:
            raise FrozenQueryError(f"value {name!r} does not reach the SQL parameters verbatim")
        slots[name] = positions
    exact = set(sentinels.values())
    leftovers = [
        p for p in params if isinstance(p, str) and "frozen-sentinel" in p and p not in exact
    ]
    if leftovers:
        raise FrozenQueryError(f"a value was transformed on its way to SQL: {leftovers!r}")
    return _Frozen(queryset, compiler, sql, params, slots, sentinels)


def _params(frozen: _Frozen, values: dict) -> tuple:
    params = list(frozen.params)
    for name, positions in frozen.slots.items():
        for i in positions:
            params[i] = values[name]
    return tuple(params)


def frozen_list(key: tuple, build: Callable[..., QuerySet], values: dict, using="default"):
    """The rows of `build(**values)` (model instances, or tuples for values_list), compiled
    once per connection for `key`."""
    connection = connections[using]
    cache = connection.__dict__.setdefault("_prm_frozen_queries", {})
    frozen = cache.get(key)
    if frozen is None:
        frozen = cache[key] = _freeze(build, values, using)
    params = _params(frozen, values)
    if getattr(settings, "FROZEN_QUERIES_CHECK", False):
        fresh_sql, fresh_params = build(**values).query.get_compiler(using=using).as_sql()
        if fresh_sql != frozen.sql or tuple(fresh_params) != params:
            raise FrozenQueryError(
                f"frozen query {key!r} differs from a fresh compile:\n{frozen.sql}\n{params!r}\n"
                f"fresh:\n{fresh_sql}\n{tuple(fresh_params)!r}"
            )
    compiler = frozen.compiler
    runner = object.__new__(type(compiler))
    runner.__dict__.update(compiler.__dict__)
    runner.as_sql = lambda *args, **kwargs: (frozen.sql, params)
    runner.get_converters = lambda expressions: frozen.converters
    queryset = frozen.queryset._chain()
    queryset.query.get_compiler = lambda *args, **kwargs: runner
    token = _binding.set({frozen.sentinels[name]: value for name, value in values.items()})
    try:
        return list(queryset._iterable_class(queryset))
    finally:
        _binding.reset(token)


def frozen_list_in(
    key: tuple, build: Callable[[list], QuerySet], items, *, max_items: int, using="default"
):
    """`build(items)` for a queryset filtered by `IN (items)`: one compiled shape per number of
    distinct items (sorted, deduplicated), up to `max_items`; longer lists run the ORM as
    usual (rare shapes are not worth a cache entry each). No items: no rows."""
    items = sorted(set(items))
    if not items:
        return []
    if len(items) > max_items:
        return list(build(items))
    values = {f"item{i}": item for i, item in enumerate(items)}
    return frozen_list((*key, len(items)), lambda **v: build(list(v.values())), values, using)


def frozen_first(key: tuple, build: Callable[..., QuerySet], values: dict, using="default"):
    """The first instance of `build(**values)` or None; the queryset must be ordered or sliced
    by its builder (it is run as built)."""
    rows = frozen_list(key, build, values, using)
    return rows[0] if rows else None
