"""Per-request NGSI-LD plumbing: tenant, @context, body decoding, content negotiation."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from bocage.domain.errors import BadRequestData, BocageError, InvalidRequest
from bocage.domain.terms import Terms
from bocage.ngsild.context import CORE_CONTEXT_URL, link_header, parse_link_header

JSON = "application/json"
JSON_LD = "application/ld+json"
GEO_JSON = "application/geo+json"
MERGE_PATCH = "application/merge-patch+json"
_TENANT = re.compile(r"^[A-Za-z0-9_\-.:/]{1,128}$")


class UnsupportedMediaType(BocageError):
    type_name = "UnsupportedMediaType"
    status = 415
    title = "Unsupported media type"


class NotAcceptable(BocageError):
    type_name = "NotAcceptable"
    status = 406
    title = "Not acceptable"


def header(request: Request, name: bytes) -> str | None:
    """The first value of header ``name`` (lower case), as Starlette's
    ``request.headers.get`` gives it, without building a ``Headers`` object:
    ASGI servers lower-case header names, so a scan of the raw list suffices
    (every hot request reads three or four headers)."""
    for key, value in request.scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def tenant_of(request: Request) -> str:
    raw = header(request, b"ngsild-tenant") or header(request, b"ngsi-ld-tenant")
    if raw is None or raw == "":
        return ""
    if not _TENANT.match(raw):
        raise BadRequestData(f"invalid tenant name {raw!r}")
    return raw


def media_type(request: Request) -> str:
    return (header(request, b"content-type") or "").split(";")[0].strip().lower()


def accepted(request: Request, allowed: tuple[str, ...] = (JSON, JSON_LD)) -> str:
    """The response media type from Accept (q-values honoured; JSON by default)."""
    value = header(request, b"accept") or ""
    if not value.strip():
        return allowed[0]
    best: tuple[float, int, str] | None = None
    for position, part in enumerate(value.split(",")):
        fields = [f.strip() for f in part.split(";")]
        kind = fields[0].lower()
        weight = 1.0
        for f in fields[1:]:
            if f.startswith("q="):
                try:
                    weight = float(f[2:])
                except ValueError:
                    weight = 0.0
        candidates = (
            allowed if kind in ("*/*", "application/*") else (kind,) if kind in allowed else ()
        )
        for c in candidates:
            rank = (weight, -position, c)
            if weight > 0 and (best is None or rank[:2] > best[:2]):
                best = rank
    if best is None:
        raise NotAcceptable(f"cannot produce any of: {value}; available: {', '.join(allowed)}")
    return best[2]


@dataclass(frozen=True, slots=True)
class LdRequest:
    """The decoded NGSI-LD request: tenant, the @context in force and the body."""

    tenant: str
    #: what the client gave as @context (URL, object or list), None = core only
    context: Any
    terms: Terms
    body: Any = None


async def read_json(request: Request, max_bytes: int) -> Any:
    return parse_json_body(await request.body(), max_bytes)


def parse_json_body(raw: bytes, max_bytes: int) -> Any:
    """A request body as JSON, or the problem that says why it is not."""
    if len(raw) > max_bytes:
        raise BadRequestData(f"request body larger than {max_bytes} bytes")
    if not raw.strip():
        raise InvalidRequest("the request body is empty")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"the request body is not valid JSON: {exc}") from None


def request_context(request: Request, body: Any, *, has_body: bool) -> Any:
    """The user @context: from the Link header (JSON) or from the body (JSON-LD)."""
    link = header(request, b"link")
    link_url = parse_link_header(link) if link else None
    if not has_body:
        return link_url
    kind = media_type(request)
    if kind == JSON_LD:
        if link_url is not None:
            raise BadRequestData("a JSON-LD body must carry its @context, not a Link header")
        if not isinstance(body, dict | list):
            raise BadRequestData("the body must be a JSON object or array")
        ctxs = [b.get("@context") for b in (body if isinstance(body, list) else [body])
                if isinstance(b, dict)]
        if not ctxs or any(c is None for c in ctxs):
            raise BadRequestData("a body sent as application/ld+json must contain @context")
        return ctxs[0]
    if kind in (JSON, MERGE_PATCH):
        items = body if isinstance(body, list) else [body]
        if any(isinstance(b, dict) and "@context" in b for b in items):
            raise BadRequestData(
                "@context in the body requires Content-Type application/ld+json"
            )
        return link_url
    raise UnsupportedMediaType(
        f"unsupported Content-Type {kind or '(none)'}; use application/json or "
        "application/ld+json"
    )


def json_response(
    content: Any,
    *,
    status: int = 200,
    media: str = JSON,
    context: Any = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """Serialise with orjson; attach @context as Link header or in the body."""
    hdrs = dict(headers or {})
    ctx = context if context is not None else CORE_CONTEXT_URL
    if media == JSON_LD:
        if isinstance(content, list):
            content = [{**c, "@context": ctx} for c in content]
        elif isinstance(content, dict):
            content = {**content, "@context": ctx}
    elif isinstance(ctx, str):
        hdrs["Link"] = link_header(ctx)
    return Response(orjson.dumps(content), status_code=status, media_type=media, headers=hdrs)
