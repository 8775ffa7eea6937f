"""Admin API of retention policies: ``/api/retention-policies`` (JSON).

GET lists the built-in defaults and the operator's policies; PUT sets one
(``confirm=true`` is required when it would remove data sooner than the policy
in force); DELETE removes one (same guard on the policy that then applies).
"""

from __future__ import annotations

from typing import cast

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from bocage.api.calls import run
from bocage.api.negotiation import json_response, read_json
from bocage.api.services import Services
from bocage.history.retention import DEFAULT_POLICIES
from bocage.storage.history_base import HistoryStore
from bocage.storage.retention_admin import (
    delete_policy,
    policy_from_json,
    policy_json,
    set_policy,
)


def build_router(services: Services) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["Retention"])
    store = cast(HistoryStore, services.store)
    max_body = services.settings.max_body_bytes

    def confirmed(request: Request) -> bool:
        return request.query_params.get("confirm", "false").lower() == "true"

    @router.get("/retention-policies", summary="List retention policies")
    async def list_policies() -> Response:
        stored = await run(store.retention_policies)
        return json_response({"defaults": [policy_json(p) for p in DEFAULT_POLICIES],
                              "policies": [policy_json(p) for p in stored]})

    @router.put("/retention-policies", summary="Set a retention policy")
    async def put_policy(request: Request) -> Response:
        policy = policy_from_json(await read_json(request, max_body))
        await run(lambda: set_policy(store, policy, confirmed(request)))
        return json_response(policy_json(policy))

    @router.delete("/retention-policies", status_code=204, summary="Delete a retention policy")
    async def remove_policy(request: Request) -> Response:
        q = request.query_params
        await run(lambda: delete_policy(store, q.get("entityType"), q.get("attribute"),
                                        q.get("scope"), confirmed(request)))
        return Response(status_code=204)

    return router
