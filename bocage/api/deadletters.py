"""Dead letters: ``/api/dead-letters`` (list, get) and ``.../{id}/replay``."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from bocage.api.calls import run
from bocage.api.negotiation import json_response
from bocage.domain.errors import BadRequestData, BocageError, ResourceNotFound
from bocage.ingest.deadletters import OPEN, REASONS, REPLAYED, DeadLetterQuery
from bocage.ingest.service import Ingestion


class StillFailing(BocageError):
    type_name = "Conflict"
    status = 409
    title = "Replay failed"


def int_param(raw: str | None, name: str, default: int, hi: int) -> int:
    """A query or path parameter that must be an integer in [0, hi]."""
    if raw is None:
        return default
    if not raw.isdigit() or not 0 <= int(raw) <= hi:
        raise BadRequestData(f"{name} must be an integer in [0, {hi}]")
    return int(raw)


def build_router(ingestion: Ingestion, max_limit: int) -> APIRouter:
    router = APIRouter(prefix="/api/dead-letters", tags=["Dead letters"])

    @router.get("", summary="List dead letters (filters: status, reason, devEui, source)")
    async def list_letters(request: Request) -> Response:
        p = request.query_params
        status, reason = p.get("status"), p.get("reason")
        if status not in (None, OPEN, REPLAYED):
            raise BadRequestData(f"status must be {OPEN} or {REPLAYED}")
        if reason is not None and reason not in REASONS:
            raise BadRequestData(f"reason must be one of {', '.join(sorted(REASONS))}")
        query = DeadLetterQuery(status=status, reason=reason, dev_eui=p.get("devEui"),
                                source=p.get("source"),
                                limit=int_param(p.get("limit"), "limit", 100, max_limit),
                                offset=int_param(p.get("offset"), "offset", 0, 2**31))
        letters = await run(lambda: ingestion.inbox.dead_letters(query))
        return json_response([d.to_json() for d in letters])

    @router.get("/{letter_id}", summary="Get one dead letter, with its envelope")
    async def get_letter(letter_id: str) -> Response:
        ident = int_param(letter_id, "dead letter id", 0, 2**62)
        letter = await run(lambda: ingestion.inbox.dead_letter(ident))
        if letter is None:
            raise ResourceNotFound(f"no dead letter {letter_id}")
        return json_response(letter.to_json(with_raw=True))

    @router.post("/{letter_id}/replay", summary="Process a dead letter again")
    async def replay(letter_id: str) -> Response:
        ident = int_param(letter_id, "dead letter id", 0, 2**62)
        letter = await run(lambda: ingestion.replay(ident))
        if letter.status != REPLAYED:
            raise StillFailing(f"still failing: {letter.reason}: {letter.detail}",
                               deadLetter=letter.to_json())
        return json_response(letter.to_json())

    return router
