"""Supervision API: ``/api/alarms``, ``/api/interventions`` and ``/api/rules``.

Alarms and interventions are also NGSI-LD entities (``Alert``,
``Intervention``) readable through ``/ngsi-ld/v1``; these routes add their
lifecycle operations. The tenant is the ``NGSILD-Tenant`` header, as elsewhere.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from bocage.api.calls import run
from bocage.api.negotiation import json_response, read_json
from bocage.api.services import Services
from bocage.domain.errors import BadRequestData
from bocage.supervision import records as rec
from bocage.supervision.rules import SEVERITIES, rule_to_json
from bocage.supervision.service import Supervisor


def _tenant(request: Request) -> str:
    return request.headers.get("NGSILD-Tenant", "")


def _actor(request: Request) -> str:
    """Who acts: the authenticated caller once there is one, else "local"."""
    principal = getattr(request.state, "principal", None)
    name = getattr(principal, "name", None)
    return str(name) if name else "local"


def _alarm_json(alarm: rec.Alarm) -> dict[str, Any]:
    out = dataclasses.asdict(alarm)
    out["scope"] = list(alarm.scope)
    out["events"] = list(alarm.events)
    return out


def _intervention_json(item: rec.Intervention, now: str) -> dict[str, Any]:
    out = dataclasses.asdict(item)
    out["scope"] = list(item.scope)
    out["events"] = list(item.events)
    out["overdue"] = item.overdue(now)
    return out


def _text(body: Any, key: str, required: bool = True) -> str:
    value = body.get(key) if isinstance(body, dict) else None
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise BadRequestData(f"{key} must be a string")
    return value


def _statuses(raw: str | None, allowed: tuple[str, ...]) -> tuple[str, ...]:
    if not raw:
        return ()
    wanted = tuple(raw.split(","))
    bad = [s for s in wanted if s not in allowed]
    if bad:
        raise BadRequestData(f"status must be among {', '.join(allowed)}")
    return wanted


def build_router(services: Services, supervisor: Supervisor) -> APIRouter:
    """Alarms and interventions through the caller's scopes; rules (platform
    configuration) on the supervisor itself."""
    router = APIRouter(prefix="/api", tags=["Supervision"])
    rules_of = supervisor
    supervisor = supervisor.over(services.store)
    max_body = services.settings.max_body_bytes

    # ------------------------------------------------------------------ alarms

    @router.get("/alarms", summary="List alarms (filters: status, severity, source)")
    async def list_alarms(request: Request) -> Response:
        p = request.query_params
        status = _statuses(p.get("status"), rec.ALARM_STATUSES)
        severity = p.get("severity")
        if severity is not None and severity not in SEVERITIES:
            raise BadRequestData(f"severity must be one of {', '.join(SEVERITIES)}")
        alarms = await run(lambda: supervisor.alarms(_tenant(request), status=status,
                                                     source=p.get("source"),
                                                     severity=severity))
        return json_response([_alarm_json(a) for a in alarms])

    @router.get("/alarms/{alarm_id}", summary="One alarm, with its history")
    async def get_alarm(request: Request, alarm_id: str) -> Response:
        alarm = await run(lambda: supervisor.alarm(_tenant(request), alarm_id))
        return json_response(_alarm_json(alarm))

    def alarm_action(name: str, summary: str,
                     make: Callable[[Any, str], Callable[[rec.Alarm, str], rec.Alarm]]) -> None:
        async def action(request: Request, alarm_id: str) -> Response:
            raw = await request.body()
            body = await read_json(request, max_body) if raw.strip() else {}
            change = make(body, _actor(request))
            alarm = await run(lambda: supervisor.change_alarm(_tenant(request), alarm_id,
                                                              change))
            return json_response(_alarm_json(alarm))

        router.add_api_route(f"/alarms/{{alarm_id}}/{name}", action, methods=["POST"],
                             summary=summary)

    alarm_action("acknowledge", "Acknowledge an active alarm",
                 lambda body, by: lambda a, at: rec.acknowledge(a, by, at))
    alarm_action("assign", "Assign an alarm ({\"assignee\": ...})",
                 lambda body, by: lambda a, at: rec.assign(a, _text(body, "assignee"), by, at))
    alarm_action("comment", "Comment on an alarm ({\"text\": ...})",
                 lambda body, by: lambda a, at: rec.comment(a, _text(body, "text"), by, at))
    alarm_action("clear", "Clear an alarm by hand ({\"reason\": ...})",
                 lambda body, by: lambda a, at: rec.clear(
                     a, by, at, _text(body, "reason", required=False)))

    # ----------------------------------------------------------- interventions

    @router.get("/interventions", summary="List interventions (filters: status, equipment)")
    async def list_interventions(request: Request) -> Response:
        p = request.query_params
        status = _statuses(p.get("status"), rec.INTERVENTION_STATUSES)
        items = await run(lambda: supervisor.interventions(
            _tenant(request), status=status, equipment=p.get("equipment")))
        now = services.now()
        return json_response([_intervention_json(i, now) for i in items])

    @router.post("/interventions", status_code=201,
                 summary="Request an intervention on a piece of equipment")
    async def request_intervention(request: Request) -> Response:
        body = await read_json(request, max_body)
        if not isinstance(body, dict):
            raise BadRequestData("the body must be a JSON object")
        severity = body.get("severity", "major")
        if severity not in SEVERITIES:
            raise BadRequestData(f"severity must be one of {', '.join(SEVERITIES)}")
        alarm = body.get("alarm")
        if alarm is not None and not isinstance(alarm, str):
            raise BadRequestData("alarm must be an alarm id")
        item = await run(lambda: supervisor.request(
            _tenant(request), _text(body, "equipment"), _text(body, "description"),
            _actor(request), severity=str(severity), alarm_id=alarm))
        return json_response(_intervention_json(item, services.now()), status=201,
                             headers={"Location": f"/api/interventions/{item.id}"})

    @router.get("/interventions/{ident}", summary="One intervention, with its history")
    async def get_intervention(request: Request, ident: str) -> Response:
        item = await run(lambda: supervisor.intervention(_tenant(request), ident))
        return json_response(_intervention_json(item, services.now()))

    @router.patch("/interventions/{ident}",
                  summary="Move an intervention: status, contractor, plannedFor, note")
    async def move_intervention(request: Request, ident: str) -> Response:
        body = await read_json(request, max_body)
        if not isinstance(body, dict):
            raise BadRequestData("the body must be a JSON object")
        status = _text(body, "status")
        contractor = _text(body, "contractor", required=False) or None
        planned = _text(body, "plannedFor", required=False) or None
        note = _text(body, "note", required=False)
        by = _actor(request)
        item = await run(lambda: supervisor.change_intervention(
            _tenant(request), ident, lambda i, at: rec.move(
                i, status, by, at, contractor=contractor, planned_for=planned, note=note)))
        return json_response(_intervention_json(item, services.now()))

    # ------------------------------------------------------------------- rules

    @router.get("/rules", summary="List supervision rules (built-in and stored)")
    async def list_rules(request: Request) -> Response:
        rules = await run(lambda: rules_of.rules(_tenant(request)))
        return json_response([rule_to_json(r) for r in rules])

    @router.put("/rules/{rule_id}", summary="Create or replace a rule (compiled first)")
    async def put_rule(request: Request, rule_id: str) -> Response:
        body = await read_json(request, max_body)
        if isinstance(body, dict) and body.get("id", rule_id) != rule_id:
            raise BadRequestData("the rule's id must be the one in the path")
        data = {**body, "id": rule_id} if isinstance(body, dict) else body
        rule = await run(lambda: rules_of.put_rule(_tenant(request), data))
        return json_response(rule_to_json(rule))

    @router.delete("/rules/{rule_id}", status_code=204,
                   summary="Delete a stored rule (a built-in one returns to its default)")
    async def delete_rule(request: Request, rule_id: str) -> Response:
        await run(lambda: rules_of.delete_rule(_tenant(request), rule_id))
        return Response(status_code=204)

    return router
