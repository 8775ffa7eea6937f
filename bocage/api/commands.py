"""``POST /api/commands``: the lighting command (police, agents), ``GET /api/commands``.

The target is looked up through the caller's scopes *for this action*: a
street light outside them is 404, as if it did not exist. An accepted command
is audited, then recorded as a pending downlink (202 Accepted); sending it to
the network server is not done yet (see docs/security.md).
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
from bocage.commands.lighting import TARGET_TYPES, CommandRecord, parse_command
from bocage.domain.access import Action, covers
from bocage.domain.errors import BadRequestData, ResourceNotFound
from bocage.security.scoped_store import PrincipalStore, current_principal


def build_router(services: Services) -> APIRouter:
    router = APIRouter(prefix="/api/commands", tags=["Commands"])
    security = services.security
    terms = services.contexts.core_term_map
    store = services.store
    assert isinstance(store, PrincipalStore)

    @router.post("", status_code=202, summary="Switch a street light or zone on / off / dim",
                 openapi_extra=doc(body="object"))
    async def command(request: Request) -> Response:
        principal = current_principal()
        tenant = tenant_of(request)
        cmd = parse_command(await read_json(request, 100_000))
        target = store.scoped_for(Action.LIGHTING_COMMAND).get(tenant, cmd.target)
        if target is None:
            raise ResourceNotFound(f"entity {cmd.target} not found", instance=cmd.target)
        kinds = {terms.compact(t) for t in target.get("type") or ()}
        if not kinds & TARGET_TYPES:
            raise BadRequestData(f"{cmd.target} is not a street light or lighting zone "
                                 f"({', '.join(sorted(TARGET_TYPES))})")
        record = CommandRecord(f"urn:bocage:Command:{secrets.token_hex(8)}", services.now(),
                               principal.name, cmd, tuple(target.get("scope") or ()))
        await run(lambda: security.audit(principal.name, "command.lighting", cmd.target,
                                         record.to_json()))
        await run(lambda: security.store.create_command(record))
        return json_response(record.to_json(), status=202,
                             headers={"Location": f"/api/commands/{record.id}"})

    @router.get("", summary="Recent commands within the caller's scopes")
    async def list_commands() -> Response:
        where = current_principal().scopes(Action.COMMANDS_READ)
        records = await run(security.store.list_commands)
        seen = [r for r in records if where is None
                or any(covers(g, s) for g in where for s in r.scope)]
        return json_response([r.to_json() for r in seen])

    return router
