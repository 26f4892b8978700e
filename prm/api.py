"""API plumbing shared by every endpoint: pagination and the one error handler that maps
domain errors and DRF errors to {"code", "detail", "fields"?}."""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from prm.exceptions import DomainError, NotFound

logger = logging.getLogger("prm.api")

NOT_FOUND_BODY = {"code": "not_found", "detail": "Not found."}


class Pagination(PageNumberPagination):
    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            value = int(raw)
        except (TypeError, ValueError):
            return self.page_size
        if value < 1:
            return self.page_size
        return min(value, self.max_page_size)


def _flatten(detail):
    if isinstance(detail, dict):
        return {
            str(k): [str(x) for x in (v if isinstance(v, list) else [v])] for k, v in detail.items()
        }
    if isinstance(detail, list):
        return {"non_field_errors": [str(x) for x in detail]}
    return {"non_field_errors": [str(detail)]}


def error_body(exc) -> tuple[dict, int]:
    if isinstance(exc, DomainError):
        if isinstance(exc, NotFound):
            return dict(NOT_FOUND_BODY), 404
        body = {"code": exc.code, "detail": exc.detail}
        if exc.fields:
            body["fields"] = exc.fields
        if "rows" in exc.extra:
            body["code"] = "invalid_rows"
            body["rows"] = exc.extra["rows"]
        for key, value in exc.extra.items():
            if key != "rows":
                body[key] = value
        return body, exc.status_code
    raise TypeError(exc)


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        body, code = error_body(exc)
        return Response(body, status=code)
    if isinstance(exc, Http404 | exceptions.NotFound):
        return Response(dict(NOT_FOUND_BODY), status=404)
    if isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        logger.exception("Unhandled API error", exc_info=exc)
        return Response(
            {"code": "server_error", "detail": "Something went wrong on our side."},
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    if isinstance(exc, exceptions.ValidationError):
        response.data = {
            "code": "validation_error",
            "detail": "Some fields are not valid.",
            "fields": _flatten(exc.detail),
        }
    elif isinstance(exc, exceptions.APIException):
        detail = exc.detail
        code = getattr(detail, "code", None) or exc.default_code
        if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
            code = "not_authenticated" if isinstance(exc, exceptions.NotAuthenticated) else code
        if isinstance(exc, exceptions.Throttled):
            code = "throttled"
        text = detail if isinstance(detail, str) else str(detail)
        response.data = {"code": str(code), "detail": str(text)}
    return response
