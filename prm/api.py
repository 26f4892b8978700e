"""API plumbing shared by every endpoint: pagination, the base view, the error shape as one
OpenAPI component, and the one error handler that maps domain errors and DRF errors to
{"code", "detail", "fields"?}."""

from __future__ import annotations

import logging
import secrets

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import exceptions, serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from prm.exceptions import DomainError, NotFound, PermissionDeniedError
from prm.lib.db_busy import BUSY_DETAIL, RETRY_AFTER_SECONDS, is_database_busy
from prm.parsers import DepthLimitedJSONParser

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
        except (TypeError, ValueError, OverflowError):
            return self.page_size
        if value < 1:
            return self.page_size
        return min(value, self.max_page_size)

    def get_paginated_response_schema(self, schema):
        base = super().get_paginated_response_schema(schema)
        base["required"] = ["count", "next", "previous", "results"]
        return base


# --- The error shape --------------------------------------------------------------------------


class ErrorResponseSerializer(serializers.Serializer):
    """Every error answer: a machine code, a sentence, and per-field messages for validation.
    Bulk/CSV validation adds `rows` (per-row field errors keyed by row index); a duplicate
    registration adds `existing_id`."""

    code = serializers.CharField()
    detail = serializers.CharField()
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), required=False
    )
    rows = serializers.DictField(
        child=serializers.DictField(child=serializers.ListField(child=serializers.CharField())),
        required=False,
    )
    existing_id = serializers.IntegerField(required=False)
    conflict_ids = serializers.ListField(
        child=serializers.IntegerField(),
        required=False,
        help_text="409 `unresolved_conflict`: the open conflicts that block the approval.",
    )
    terms_version = serializers.IntegerField(
        required=False,
        help_text="403 `terms_not_accepted`: the partner program terms version to accept first.",
    )

    class Meta:
        ref_name = "ErrorResponse"


ERROR_DESCRIPTIONS = {
    400: "Validation failed (`fields` says which) or the request could not be parsed.",
    401: "No credentials, or invalid/expired credentials.",
    403: "Authenticated, but your role may not do this (or MFA enrolment is required, or "
    "the partner program terms in force are not accepted yet: `terms_not_accepted`).",
    404: "Not found, or outside your tenant (the same answer either way).",
    409: "State conflict: illegal transition (`invalid_transition`), duplicate, already decided, "
    "or an approval blocked by an open conflict (`unresolved_conflict`).",
    413: "The upload is too large.",
    415: "Unsupported media type (this operation takes multipart/form-data).",
    429: "Rate limited; retry later.",
    503: "The database is busy (a lock wait timed out); retry after `Retry-After` seconds.",
}


def errors(*codes: int) -> dict:
    """`responses=` entries for extend_schema: each status code with the shared ErrorResponse.
    401 and 403 are added to every authenticated operation by `authenticated_errors`."""
    return {
        code: OpenApiResponse(
            response=ErrorResponseSerializer, description=ERROR_DESCRIPTIONS[code]
        )
        for code in codes
    }


def responses(ok: dict, *codes: int, public: bool = False) -> dict:
    """Success responses plus error responses; authenticated operations always declare 401
    (no/bad credentials) and 403 (role, suspended partner, MFA enrolment)."""
    extra = () if public else (401, 403)
    return {**ok, **errors(*sorted(set(codes) | set(extra)))}


class PartnerRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


# --- Base view --------------------------------------------------------------------------------


class ApiView(APIView):
    """Base for every v1 view: refuses oversized JSON bodies before they are read, and gives
    handlers the role checks that come *after* object scoping."""

    max_body_bytes: int | None = None
    pagination_class = None
    # JSON only (docs/api.md); the CSV import opts into multipart.
    parser_classes = [DepthLimitedJSONParser]

    def paginate(self, queryset, build):
        """One page of `queryset` as {"count","next","previous","results"}; `build(rows)` turns
        the page's rows into the results (so callers can fetch related data for the page
        in one query)."""
        paginator = Pagination()
        rows = paginator.paginate_queryset(queryset, self.request, view=self)
        return paginator.get_paginated_response(build(list(rows)))

    def as_list(self, queryset, build, *, limit: int | None = None):
        """A bare JSON array, for the endpoints docs/api.md documents as arrays (tiers, products,
        history, conflicts). `limit` bounds a list that could grow without end."""
        rows = list(queryset[:limit] if limit else queryset)
        return Response(build(rows))

    def initial(self, request, *args, **kwargs):
        limit = self.max_body_bytes or settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except (TypeError, ValueError):
            length = 0
        if limit and length > limit:
            raise DomainError(
                f"The request body is larger than {limit} bytes.", code="payload_too_large"
            )
        super().initial(request, *args, **kwargs)


def apply_ordering(queryset, request, allowed: dict[str, str], default: list[str]):
    """`?ordering=a,-b` over a whitelist {public name: model field}; anything else is a 400.
    The primary key is always the last tie-breaker so pages never overlap."""
    raw = request.query_params.get("ordering")
    terms: list[str] = []
    if raw:
        bad = []
        for part in raw.split(","):
            part = part.strip()
            name = part.lstrip("-")
            if not part or name not in allowed or part.count("-") > 1:
                bad.append(part[:40])
                continue
            terms.append(("-" if part.startswith("-") else "") + allowed[name])
        if bad:
            raise DomainError(
                "Unknown ordering field.",
                code="validation_error",
                fields={"ordering": [f"Order by one of: {', '.join(sorted(allowed))}."]},
            )
    terms = terms or list(default)
    if not any(t.lstrip("-") in ("pk", "id") for t in terms):
        terms.append("-id" if terms and terms[0].startswith("-") else "id")
    return queryset.order_by(*terms)


def ordering_parameter(allowed) -> OpenApiParameter:
    return OpenApiParameter(
        "ordering",
        str,
        description="Comma-separated fields, `-` for descending. Allowed: "
        + ", ".join(sorted(allowed))
        + ".",
        required=False,
    )


# --- The handler ------------------------------------------------------------------------------


def _messages(value) -> list[str]:
    if isinstance(value, dict):
        out = []
        for key, inner in value.items():
            out.extend(f"{key}: {m}" for m in _messages(inner))
        return out
    if isinstance(value, list | tuple):
        out = []
        for item in value:
            out.extend(_messages(item))
        return out
    return [str(value)]


def _flatten(detail) -> dict[str, list[str]]:
    if isinstance(detail, dict):
        return {str(k): _messages(v) for k, v in detail.items()}
    return {"non_field_errors": _messages(detail)}


def error_body(exc) -> tuple[dict, int]:
    if isinstance(exc, DomainError):
        if isinstance(exc, NotFound):
            return dict(NOT_FOUND_BODY), 404
        body = {"code": exc.code, "detail": str(exc.detail)}
        if exc.fields:
            body["fields"] = _flatten(exc.fields)
        if "rows" in exc.extra:
            body["code"] = "invalid_rows"
            body["rows"] = {
                str(index): _flatten(row) for index, row in (exc.extra["rows"] or {}).items()
            }
        for key, value in exc.extra.items():
            if key != "rows":
                body[key] = value
        return body, exc.status_code
    raise TypeError(exc)


def exception_handler(exc, context):
    if isinstance(exc, PermissionDeniedError | PermissionDenied | exceptions.PermissionDenied):
        from prm.security_log import log_event  # one record per denial (AUD-04)

        kwargs = context.get("kwargs") or {}
        log_event(
            "permission_denied",
            request=context.get("request"),
            outcome="denied",
            object_id=kwargs.get("pk") or kwargs.get("id"),
            reason=getattr(exc, "code", None) or getattr(exc, "default_code", None),
        )
    if isinstance(exc, DomainError):
        body, code = error_body(exc)
        retry_after = getattr(exc, "retry_after", None)
        headers = {"Retry-After": str(int(retry_after))} if retry_after else None
        return Response(body, status=code, headers=headers)
    if isinstance(exc, Http404 | exceptions.NotFound):
        return Response(dict(NOT_FOUND_BODY), status=404)
    if isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    if is_database_busy(exc):
        # A lock wait that outlasted the busy timeout: the request did nothing (its transaction
        # rolled back), so the client may simply retry.
        logger.warning("Database busy: %s", exc)
        return Response(
            {"code": "service_busy", "detail": BUSY_DETAIL},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    if isinstance(exc, RequestDataTooBig):
        return Response(
            {"code": "payload_too_large", "detail": "The request body is too large."}, status=400
        )
    response = drf_exception_handler(exc, context)
    if response is None:
        # A reference the caller can quote to support, in the body, a header and the log line.
        reference = secrets.token_hex(6).upper()
        logger.error("Unhandled API error %s", reference, exc_info=exc)
        return Response(
            {
                "code": "server_error",
                "detail": f"Something went wrong on our side (reference {reference}).",
            },
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
            headers={"X-Error-Reference": reference},
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
        if isinstance(exc, exceptions.NotAuthenticated):
            code = "not_authenticated"
        if isinstance(exc, exceptions.Throttled):
            code = "throttled"
        text = detail if isinstance(detail, str) else " ".join(_messages(detail))
        response.data = {"code": str(code), "detail": str(text)}
    return response


# --- Strict inputs ----------------------------------------------------------------------------


def validated(serializer_class, data, **kwargs) -> dict:
    """The input checked by `serializer_class` (400 with every field's errors otherwise)."""
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class StrictInputSerializer(serializers.Serializer):
    """An input serializer that refuses unknown keys (400 "This field cannot be set.") instead
    of dropping them, so a client that sends a server-owned field (status, partner, dates...)
    learns it was not applied. The schema says so with additionalProperties: false."""

    def to_internal_value(self, data):
        if hasattr(data, "keys"):
            unknown = sorted(str(key) for key in data.keys() if key not in self.fields)
            if unknown:
                raise serializers.ValidationError(
                    {key[:100]: ["This field cannot be set."] for key in unknown[:20]}
                )
        return super().to_internal_value(data)


class CodeRelatedField(serializers.SlugRelatedField):
    """A related object named by a short code (a tier's `code`). The value is checked as text
    before any query: a NUL byte or a lone surrogate would make PostgreSQL raise (a 500) instead
    of answering "does not exist"."""

    max_code_length = 100

    def to_internal_value(self, data):
        if (
            not isinstance(data, str)
            or len(data) > self.max_code_length
            or "\x00" in data
            or any("\ud800" <= ch <= "\udfff" for ch in data)
        ):
            self.fail("invalid")
        return super().to_internal_value(data)


class _StrictInputExtension(OpenApiSerializerExtension):
    target_class = StrictInputSerializer
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_basic_serializer(self.target, direction)
        schema["additionalProperties"] = False
        return schema


class OptionalKeysSerializer(serializers.Serializer):
    """An output serializer some of whose keys are absent for some callers (manager-only
    fields): `optional_keys` are left out of the schema's `required` list."""

    optional_keys: tuple[str, ...] = ()


class _OptionalKeysExtension(OpenApiSerializerExtension):
    target_class = OptionalKeysSerializer
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_basic_serializer(self.target, direction)
        optional = set(getattr(self.target, "optional_keys", ()))
        required = [name for name in schema.get("required", []) if name not in optional]
        if required:
            schema["required"] = required
        else:
            schema.pop("required", None)
        return schema
