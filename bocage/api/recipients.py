"""Alarm recipients: ``/api/alarm-recipients`` (list, retrieve, create or replace, delete).

A recipient is an entity of its scope subtree, read and written through the
caller's scopes: an agent of a commune manages the recipients of its commune
(or below) and sees no other. Each answer carries the recipient's delivery
counters (``status``: sent, failed, last success and failure, last error).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from bocage.alerting import service as alerting
from bocage.alerting.recipients import Recipient, recipient_to_json
from bocage.alerting.service import AlarmNotifier
from bocage.api.calls import run
from bocage.api.negotiation import json_response, read_json
from bocage.api.services import Services
from bocage.api.subscriptions import redact_uri
from bocage.domain.errors import BadRequestData
from bocage.security.scoped_store import current_principal


def _tenant(request: Request) -> str:
    return request.headers.get("NGSILD-Tenant", "")


def build_router(services: Services, notifier: AlarmNotifier) -> APIRouter:
    router = APIRouter(prefix="/api/alarm-recipients", tags=["Supervision"])
    store, terms = services.store, notifier.terms
    max_body = services.settings.max_body_bytes

    def shown(tenant: str, r: Recipient) -> dict[str, Any]:
        s = notifier.status(tenant, r.id)
        return {**recipient_to_json(r), "status": {
            "timesSent": s.times_sent, "timesFailed": s.times_failed,
            "lastNotification": s.last_notification, "lastSuccess": s.last_success,
            "lastFailure": s.last_failure, "lastError": s.last_error}}

    @router.get("", summary="List alarm recipients (those of the caller's scopes)")
    async def list_recipients(request: Request) -> Response:
        tenant = _tenant(request)
        found = await run(lambda: alerting.recipients(store, terms, tenant))
        return json_response([shown(tenant, r) for r in found])

    @router.get("/{recipient_id}", summary="One alarm recipient, with its delivery counters")
    async def get_recipient(request: Request, recipient_id: str) -> Response:
        tenant = _tenant(request)
        r = await run(lambda: alerting.recipient(store, terms, tenant, recipient_id))
        return json_response(shown(tenant, r))

    @router.put("/{recipient_id}", summary="Create or replace an alarm recipient")
    async def put_recipient(request: Request, recipient_id: str) -> Response:
        body = await read_json(request, max_body)
        if not isinstance(body, dict):
            raise BadRequestData("a recipient must be a JSON object")
        if body.get("id", recipient_id) != recipient_id:
            raise BadRequestData("the recipient's id must be the one in the path")
        tenant = _tenant(request)
        r = await run(lambda: alerting.put_recipient(store, terms, tenant,
                                                     {**body, "id": recipient_id}, services.now()))
        # where alarms of a territory are sent: on record
        await run(lambda: services.security.audit(
            current_principal().name, "recipient.put", r.id,
            {"tenant": tenant, "channel": r.channel, "address": redact_uri(r.address),
             "scope": r.scope}))
        return json_response(shown(tenant, r))

    @router.delete("/{recipient_id}", status_code=204, summary="Delete an alarm recipient")
    async def delete_recipient(request: Request, recipient_id: str) -> Response:
        tenant = _tenant(request)
        await run(lambda: alerting.delete_recipient(store, tenant, recipient_id,
                                                          notifier.outlet))
        await run(lambda: services.security.audit(current_principal().name, "recipient.delete",
                                                  recipient_id, {"tenant": tenant}))
        return Response(status_code=204)

    return router
