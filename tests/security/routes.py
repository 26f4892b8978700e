"""Walk the URLconf at test time (routes added by anyone appear in the sweeps automatically)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern, RoutePattern

SAMPLES = {
    "int": "1",
    "id": "1",
    "slug": "x",
    "str": "x",
    "uuid": "00000000-0000-0000-0000-000000000001",
}


@dataclass(frozen=True)
class Route:
    path: str  # a concrete path that resolves to the pattern
    pattern: str  # the pattern, for messages
    callback: object

    @property
    def is_api(self) -> bool:
        return self.path.startswith("/api/")

    @property
    def view_class(self):
        return getattr(self.callback, "cls", None) or getattr(self.callback, "view_class", None)


def _sample_regex(regex: str) -> str:
    """A string matching a simple Django regex pattern (anchors, named groups, literals)."""
    text = regex.lstrip("^").rstrip("$").replace("\\Z", "")

    def group(match):
        body = match.group(2)
        if "0-9" in body and "A-Z" not in body and "a-z" not in body:
            return "1"
        return "x1"

    text = re.sub(r"\(\?P<(\w+)>([^)]*)\)", group, text)
    text = re.sub(r"\(\?:([^)|]*)[^)]*\)\??", r"\1", text)
    return text.replace("\\", "").replace("?", "")


def _sample(pattern) -> str:
    if isinstance(pattern, RoutePattern):
        route = str(pattern._route)
        return re.sub(r"<(?:(\w+):)?(\w+)>", lambda m: SAMPLES.get(m.group(1) or "str", "x"), route)
    if isinstance(pattern, RegexPattern):
        return _sample_regex(pattern._regex)
    return str(pattern)


def iter_routes(resolver=None, prefix: str = "/", described: str = ""):
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        piece = _sample(entry.pattern)
        label = described + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from iter_routes(entry, prefix + piece, label)
        elif isinstance(entry, URLPattern):
            yield Route(path=prefix + piece, pattern=label, callback=entry.callback)


def all_routes(int_sample: str = "1") -> list[Route]:
    """Every route of the URLconf with a concrete path (int converters get `int_sample`)."""
    from django.urls import Resolver404, resolve

    routes = []
    for route in iter_routes():
        path = route.path.replace("/1/", f"/{int_sample}/") if int_sample != "1" else route.path
        try:
            resolve(path)
        except Resolver404:
            raise AssertionError(f"could not build a path for {route.pattern!r}: {path}")
        routes.append(Route(path=path, pattern=route.pattern, callback=route.callback))
    return routes


def row_snapshot(exclude_models=(), exclude_fields=()) -> dict[str, int]:
    """A hash of every row of every table (per model), to prove nothing changed."""
    import hashlib

    from django.apps import apps

    out = {}
    for model in apps.get_models():
        label = model._meta.label
        if label in exclude_models:
            continue
        fields = [
            f.attname
            for f in model._meta.concrete_fields
            if f"{label}.{f.name}" not in exclude_fields
        ]
        digest = hashlib.sha256()
        for row in model._base_manager.order_by("pk").values_list(*fields):
            digest.update(repr(row).encode())
        out[label] = digest.hexdigest()
    return out
