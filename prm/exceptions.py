"""One hierarchy of domain errors. The API maps them to status codes (prm/api.py), pages to
messages. Services raise them; nothing else decides what an illegal move looks like."""

from __future__ import annotations


class DomainError(Exception):
    code = "domain_error"
    status_code = 400

    def __init__(
        self, detail: str = "", *, fields: dict | None = None, code: str | None = None, **extra
    ):
        super().__init__(detail or self.__class__.__doc__ or self.code)
        if code:
            self.code = code
        self.detail = detail or (self.__class__.__doc__ or self.code).strip()
        self.fields = fields
        self.extra = extra


class ValidationFailed(DomainError):
    """The input is not valid."""

    code = "validation_error"
    status_code = 400


class UnsupportedFile(ValidationFailed):
    """The file is too large or its content is not one of the accepted types."""

    code = "unsupported_file"
    status_code = 400


class InvalidTransition(DomainError):
    """This action is not allowed in the registration's current status."""

    code = "invalid_transition"
    status_code = 409


class DuplicateRegistration(DomainError):
    """Your company already has an active registration for this customer."""

    code = "duplicate_registration"
    status_code = 409


class StateConflict(DomainError):
    """The request conflicts with the current state."""

    code = "conflict"
    status_code = 409


class PermissionDeniedError(DomainError):
    """You do not have permission to perform this action."""

    code = "permission_denied"
    status_code = 403


class NotFound(DomainError):
    """Not found."""

    code = "not_found"
    status_code = 404
