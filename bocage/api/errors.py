"""The one place where errors become HTTP responses (NGSI-LD problem details)."""

from __future__ import annotations

import logging

import orjson
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from bocage.domain.errors import (
    BocageError,
    InvalidRequest,
    ResourceNotFound,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
)

PROBLEM = "application/problem+json"
log = logging.getLogger("bocage.api")


def problem_response(err: BocageError, headers: dict[str, str] | None = None) -> Response:
    hdrs = dict(headers or {})
    if isinstance(err, ServiceUnavailable | TooManyRequests):
        hdrs["Retry-After"] = str(err.retry_after)
    elif isinstance(err, Unauthorized):
        hdrs.setdefault("WWW-Authenticate", 'Bearer realm="bocage"')
    return Response(orjson.dumps(err.problem()), status_code=err.status, media_type=PROBLEM,
                    headers=hdrs)


class MethodNotAllowed(BocageError):
    type_name = "MethodNotAllowed"
    status = 405
    title = "Method not allowed"


def method_not_allowed(allowed: list[str]) -> Response:
    err = MethodNotAllowed(f"allowed methods: {', '.join(allowed)}")
    return problem_response(err, {"Allow": ", ".join(allowed)})


def install(app: FastAPI) -> None:
    async def on_bocage_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, BocageError)
        return problem_response(exc)

    async def on_validation(request: Request, exc: Exception) -> Response:
        return problem_response(InvalidRequest(f"invalid request: {exc}"))

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 404:
            return problem_response(ResourceNotFound(f"no such resource: {request.url.path}"))
        if exc.status_code == 405:
            err: BocageError = MethodNotAllowed(f"{request.method} is not allowed here")
            return problem_response(err, dict(exc.headers or {}))
        err = BocageError(str(exc.detail))
        err.status = exc.status_code
        return problem_response(err, dict(exc.headers or {}))

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return problem_response(BocageError("internal error; see the server log"))

    app.add_exception_handler(BocageError, on_bocage_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(HTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)
