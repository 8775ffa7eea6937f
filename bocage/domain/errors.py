"""Domain errors, one class per ETSI NGSI-LD problem type.

Raised where the problem is found; mapped to ``application/problem+json`` in one
place (``bocage.api.errors``)::

    BocageError
    ├── InvalidRequest            400  (syntax: malformed JSON, bad query string)
    ├── BadRequestData            400  (well-formed but semantically wrong)
    ├── Unauthorized              401  (no or bad credentials)
    ├── Forbidden                 403  (authenticated, but the role does not allow it)
    ├── ResourceNotFound          404  (also: outside the caller's scopes)
    ├── NonexistentTenant         404
    ├── AlreadyExists             409
    ├── OperationNotSupported     422
    ├── LdContextNotAvailable     503
    ├── TooComplexQuery           403
    ├── TooManyResults            403
    ├── PayloadTooLarge           413
    ├── TooManyRequests           429  (rate limits)
    └── ServiceUnavailable        503  (back-pressure, database down)
"""

from __future__ import annotations

_BASE = "https://uri.etsi.org/ngsi-ld/errors/"


class BocageError(Exception):
    """Base of every error bocage reports to a client."""

    type_name: str = "InternalError"
    status: int = 500
    title: str = "Internal error"

    def __init__(self, detail: str, **extra: object) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra

    @property
    def type_uri(self) -> str:
        return _BASE + self.type_name

    def problem(self) -> dict[str, object]:
        """The NGSI-LD ProblemDetails body."""
        body: dict[str, object] = {
            "type": self.type_uri,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        body.update(self.extra)
        return body


class InvalidRequest(BocageError):
    type_name = "InvalidRequest"
    status = 400
    title = "Invalid request"


class BadRequestData(BocageError):
    type_name = "BadRequestData"
    status = 400
    title = "Bad request data"


class ResourceNotFound(BocageError):
    type_name = "ResourceNotFound"
    status = 404
    title = "Resource not found"


class Unauthorized(BocageError):
    type_name = "Unauthorized"
    status = 401
    title = "Unauthorized"


class Forbidden(BocageError):
    type_name = "Forbidden"
    status = 403
    title = "Forbidden"


class PayloadTooLarge(BocageError):
    type_name = "PayloadTooLarge"
    status = 413
    title = "Payload too large"


class TooManyRequests(BocageError):
    type_name = "TooManyRequests"
    status = 429
    title = "Too many requests"

    def __init__(self, detail: str, retry_after: int = 60, **extra: object) -> None:
        super().__init__(detail, **extra)
        self.retry_after = retry_after


class NonexistentTenant(BocageError):
    type_name = "NonexistentTenant"
    status = 404
    title = "Nonexistent tenant"


class AlreadyExists(BocageError):
    type_name = "AlreadyExists"
    status = 409
    title = "Already exists"


class OperationNotSupported(BocageError):
    type_name = "OperationNotSupported"
    status = 422
    title = "Operation not supported"


class LdContextNotAvailable(BocageError):
    type_name = "LdContextNotAvailable"
    status = 503
    title = "JSON-LD context not available"


class TooComplexQuery(BocageError):
    type_name = "TooComplexQuery"
    status = 403
    title = "Too complex query"


class TooManyResults(BocageError):
    type_name = "TooManyResults"
    status = 403
    title = "Too many results"


class ServiceUnavailable(BocageError):
    type_name = "ServiceUnavailable"
    status = 503
    title = "Service unavailable"

    def __init__(self, detail: str, retry_after: int = 1, **extra: object) -> None:
        super().__init__(detail, **extra)
        self.retry_after = retry_after
