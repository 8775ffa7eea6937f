"""``POST /api/commands``: the lighting command (police, agents); ``GET /api/commands``
and ``GET /api/commands/{id}``: what became of them.

The target -- a street light, a lighting zone (``StreetlightGroup``), a control
cabinet, or a scope path (a commune: ``/FR/01/240100883/01004``) -- is looked
up through the caller's scopes *for this action*: outside them it is 404, as
if it did not exist. An accepted command is audited, then queued durably with
one downlink per device behind the target (202 Accepted); the dispatcher
sends them (docs/commands.md).
"""

from __future__ import annotations

import secrets

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from bocage.api.calls import run
from bocage.api.negotiation import json_response, read_json, tenant_of
from bocage.api.openapi_docs import doc
from bocage.api.services import Services
from bocage.commands.lighting import TARGET_TYPES, CommandRecord, LightingCommand, parse_command
from bocage.commands.service import Commands
from bocage.domain.access import Action, Principal, covers
from bocage.domain.entity import Entity
from bocage.domain.errors import BadRequestData, ResourceNotFound
from bocage.ngsild.scopeq import validate_scope
from bocage.security.scoped_store import PrincipalStore, current_principal


def visible(record: CommandRecord, principal: Principal) -> bool:
    """Commands readers see those of their scopes; anyone sees the commands they gave."""
    if record.actor == principal.name:
        return True
    where = principal.scopes(Action.COMMANDS_READ)
    return where is None or any(covers(g, s) for g in where for s in record.scope)


def submit(services: Services, lighting: Commands, tenant: str,
           cmd: LightingCommand) -> CommandRecord:
    """Check, audit, queue (blocking: run it in a worker thread); raises a BocageError."""
    principal = current_principal()
    store = services.store
    assert isinstance(store, PrincipalStore)
    reader = store.scoped_for(Action.LIGHTING_COMMAND)
    target: Entity | None = None
    if cmd.target.startswith("/"):  # a scope: a commune, an EPCI
        try:
            validate_scope(cmd.target)
        except BadRequestData:
            raise BadRequestData(f"target {cmd.target!r} is not a scope path such as "
                                 "/FR/01/240100883/01004") from None
        where = principal.scopes(Action.LIGHTING_COMMAND)
        if where is not None and not any(covers(g, cmd.target) for g in where):
            raise ResourceNotFound(f"scope {cmd.target} not found", instance=cmd.target)
        scope: tuple[str, ...] = (cmd.target,)
    else:
        target = reader.get(tenant, cmd.target)
        if target is None:
            raise ResourceNotFound(f"entity {cmd.target} not found", instance=cmd.target)
        kinds = {services.contexts.core_term_map.compact(t) for t in target.get("type") or ()}
        if not kinds & TARGET_TYPES:
            raise BadRequestData(f"{cmd.target} is not a street light or lighting zone "
                                 f"({', '.join(sorted(TARGET_TYPES))})")
        scope = tuple(target.get("scope") or ())
    record = CommandRecord(f"urn:bocage:Command:{secrets.token_hex(8)}", services.now(),
                           principal.name, cmd, scope)
    deliveries = lighting.prepare(record, reader, tenant, target)
    services.security.audit(principal.name, "command.lighting", cmd.target,
                            {**record.to_json(), "devices": [d.dev_eui for d in deliveries]})
    return lighting.accept(record, deliveries)


def build_router(services: Services, lighting: Commands) -> APIRouter:
    router = APIRouter(prefix="/api/commands", tags=["Commands"])
    security = services.security

    @router.post("", status_code=202, summary="Switch a street light or zone on / off / dim",
                 openapi_extra=doc(body="object"))
    async def command(request: Request) -> Response:
        tenant = tenant_of(request)
        cmd = parse_command(await read_json(request, 100_000))
        record = await run(lambda: submit(services, lighting, tenant, cmd))
        body = await run(lambda: lighting.view(record))
        return json_response(body, status=202,
                             headers={"Location": f"/api/commands/{record.id}"})

    @router.get("", summary="Recent commands within the caller's scopes")
    async def list_commands() -> Response:
        principal = current_principal()
        records = await run(security.store.list_commands)
        return json_response([r.to_json() for r in records if visible(r, principal)])

    @router.get("/{command_id}", summary="One command, with the state of each downlink")
    async def get_command(command_id: str) -> Response:
        principal = current_principal()
        record = await run(lambda: lighting.queue.command(command_id))
        if record is None or not visible(record, principal):
            raise ResourceNotFound(f"command {command_id} not found", instance=command_id)
        return json_response(await run(lambda: lighting.view(record)))

    return router
