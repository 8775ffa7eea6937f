"""NGSI-LD subscription routes: /subscriptions (clauses 6.10 and 6.11)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from bocage.api.calls import run, terms_for
from bocage.api.negotiation import (
    JSON,
    JSON_LD,
    accepted,
    json_response,
    read_json,
    request_context,
    tenant_of,
)
from bocage.api.openapi_docs import doc
from bocage.api.services import Services
from bocage.domain.access import Principal
from bocage.domain.errors import BadRequestData, ResourceNotFound, TooManyResults
from bocage.domain.terms import Terms
from bocage.ngsild.parse import check_uri
from bocage.security.scoped_store import current_principal
from bocage.subscriptions.access import manages
from bocage.subscriptions.model import merge_update, status_for, validate_document
from bocage.subscriptions.notifier import Notifier
from bocage.subscriptions.outbox import Status
from bocage.subscriptions.repository import Owner, StoredSubscription

_SIMPLE_NAME = re.compile(r"[^,;|()]+")


def build_router(services: Services, notifier: Notifier, prefix: str = "") -> APIRouter:
    router = APIRouter(prefix=prefix, tags=["NGSI-LD subscriptions"])
    settings = services.settings

    def found(tenant: str, sub_id: str, caller: Principal) -> StoredSubscription:
        """The subscription, when the caller owns it or manages its owner: else, as
        for anything outside one's scopes, not found."""
        stored = notifier.repository.get(tenant, check_uri(sub_id, "subscription id"))
        if stored is None or not manages(caller, stored.owner):
            raise ResourceNotFound(f"subscription {sub_id} not found", instance=sub_id)
        return stored

    async def render(stored: StoredSubscription, terms: Terms) -> dict[str, Any]:
        own = stored.context
        own_terms = await terms_for(services, own)
        status = await run(lambda: notifier.status(stored.tenant, stored.id))
        return render_subscription(stored, own_terms, terms, status, services.now())

    @router.post("/subscriptions", status_code=201, summary="Create a subscription",
                 openapi_extra=doc(body="object"))
    async def create_subscription(request: Request) -> Response:
        tenant = tenant_of(request)
        body = await read_json(request, settings.max_body_bytes)
        ctx = request_context(request, body, has_body=True)
        await terms_for(services, ctx)  # an unreachable @context fails here, with its reason
        document = validate_document(body, services.now(), creating=True)
        caller = _caller(request)
        stored = StoredSubscription(tenant, document["id"], document, ctx,
                                    Owner(caller.name, caller.grants))
        await run(lambda: notifier.create(stored))
        # a subscription is a standing export of what its creator may read: on record
        await run(lambda: services.security.audit(
            caller.name, "subscription.create", stored.id,
            {"tenant": tenant, "endpoint": _endpoint(document)}))
        location = f"/ngsi-ld/v1/subscriptions/{quote(stored.id, safe=':')}"
        return Response(status_code=201, headers={"Location": location})

    @router.get("/subscriptions", summary="List subscriptions")
    async def list_subscriptions(request: Request) -> Response:
        tenant = tenant_of(request)
        media = accepted(request, (JSON, JSON_LD))
        ctx = request_context(request, None, has_body=False)
        terms = await terms_for(services, ctx)
        params = request.query_params
        limit = _int(params.get("limit"), "limit", 20)
        offset = _int(params.get("offset"), "offset", 0)
        if limit > settings.max_limit:
            raise TooManyResults(f"limit {limit} exceeds the maximum of {settings.max_limit}")
        caller = _caller(request)

        def mine() -> list[StoredSubscription]:
            every, _ = notifier.repository.page(tenant, 1_000_000, 0)
            return [s for s in every if manages(caller, s.owner)]

        visible = await run(mine)
        total, page = len(visible), visible[offset:offset + limit]
        body = [await render(s, terms) for s in page]
        headers = {}
        if params.get("count", "false").lower() == "true":
            headers["NGSILD-Results-Count"] = str(total)
        return json_response(body, media=media, context=ctx, headers=headers)

    @router.get("/subscriptions/{sub_id:path}", summary="Retrieve a subscription")
    async def retrieve_subscription(sub_id: str, request: Request) -> Response:
        tenant = tenant_of(request)
        media = accepted(request, (JSON, JSON_LD))
        ctx = request_context(request, None, has_body=False)
        terms = await terms_for(services, ctx)
        caller = _caller(request)
        stored = await run(lambda: found(tenant, sub_id, caller))
        return json_response(await render(stored, terms), media=media, context=ctx)

    @router.patch("/subscriptions/{sub_id:path}", status_code=204,
                  summary="Update a subscription", openapi_extra=doc(body="object"))
    async def update_subscription(sub_id: str, request: Request) -> Response:
        tenant = tenant_of(request)
        body = await read_json(request, settings.max_body_bytes)
        ctx = request_context(request, body, has_body=True)
        caller = _caller(request)
        stored = await run(lambda: found(tenant, sub_id, caller))
        merged = merge_update(stored.doc, body)
        document = validate_document(merged, services.now(), creating=False)
        context = ctx if ctx is not None else stored.context
        await terms_for(services, context)
        updated = StoredSubscription(tenant, stored.id, document, context, stored.owner)
        await run(lambda: notifier.replace(updated))
        await run(lambda: services.security.audit(
            caller.name, "subscription.update", stored.id,
            {"tenant": tenant, "endpoint": _endpoint(document)}))
        return Response(status_code=204)

    @router.delete("/subscriptions/{sub_id:path}", status_code=204,
                   summary="Delete a subscription")
    async def delete_subscription(sub_id: str, request: Request) -> Response:
        tenant = tenant_of(request)
        caller = _caller(request)
        await run(lambda: found(tenant, sub_id, caller))
        await run(lambda: notifier.delete(tenant, sub_id))
        await run(lambda: services.security.audit(caller.name, "subscription.delete", sub_id,
                                                  {"tenant": tenant}))
        return Response(status_code=204)

    return router


def _endpoint(document: dict[str, Any]) -> str:
    return redact_uri(document["notification"]["endpoint"].get("uri"))


def redact_uri(uri: object) -> str:
    """An endpoint for the audit log: no credentials, no query (it may hold a token)."""
    if not isinstance(uri, str):
        return ""
    parts = urlsplit(uri)
    if not parts.scheme or not parts.hostname:
        return uri.split("?")[0]
    netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _caller(request: Request) -> Principal:
    principal = getattr(request.state, "principal", None)
    return principal if isinstance(principal, Principal) else current_principal()


def _int(raw: str | None, name: str, default: int) -> int:
    if raw is None:
        return default
    if not re.fullmatch(r"\d{1,9}", raw):
        raise BadRequestData(f"{name} must be a non-negative integer, got {raw!r}")
    return int(raw)


def _translate(name: str, own: Terms, terms: Terms) -> str:
    return terms.compact(own.expand(name))


def _types(expr: str, own: Terms, terms: Terms) -> str:
    return _SIMPLE_NAME.sub(lambda m: _translate(m.group(), own, terms), expr)


def render_subscription(stored: StoredSubscription, own: Terms, terms: Terms, status: Status,
                        now: str) -> dict[str, Any]:
    """The stored document in the caller's terms, with the read-only members."""
    d = stored.doc
    out: dict[str, Any] = dict(d)
    if "entities" in d:
        out["entities"] = [
            {**sel, "type": _types(sel["type"], own, terms)} if "type" in sel else sel
            for sel in d["entities"]
        ]
    if "watchedAttributes" in d:
        out["watchedAttributes"] = [_translate(a, own, terms) for a in d["watchedAttributes"]]
    note = dict(d["notification"])
    if "attributes" in note:
        note["attributes"] = [_translate(a, own, terms) for a in note["attributes"]]
    note["timesSent"] = status.times_sent
    note["timesFailed"] = status.times_failed
    for key, value in (("lastNotification", status.last_notification),
                       ("lastSuccess", status.last_success),
                       ("lastFailure", status.last_failure)):
        if value is not None:
            note[key] = value
    if status.last_notification is not None:
        failed = status.last_failure is not None and (
            status.last_success is None or status.last_failure >= status.last_success)
        note["status"] = "failed" if failed else "ok"
    out["notification"] = note
    out["isActive"] = d.get("isActive", True)
    expires = d.get("expiresAt")
    out["status"] = status_for(out["isActive"], expires, now)
    if isinstance(stored.context, str):
        out["jsonldContext"] = stored.context
    return out
