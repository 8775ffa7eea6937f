"""Dead letters: ``/api/dead-letters`` (list, get) and ``.../{id}/replay``."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from bocage.api.calls import run
from bocage.api.negotiation import json_response
from bocage.api.replay import letter_allowed, replay_one, scoped
from bocage.domain.errors import BadRequestData, BocageError, ResourceNotFound
from bocage.domain.terms import Terms
from bocage.ingest.deadletters import OPEN, REASONS, REPLAYED, DeadLetter, DeadLetterQuery
from bocage.ingest.service import Ingestion
from bocage.security.scoped_store import current_principal
from bocage.security.service import Security
from bocage.storage.base import Store


class StillFailing(BocageError):
    type_name = "Conflict"
    status = 409
    title = "Replay failed"


def int_param(raw: str | None, name: str, default: int, hi: int) -> int:
    """A query or path parameter that must be an integer in [0, hi]."""
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or not 0 <= int(raw) <= hi:
        raise BadRequestData(f"{name} must be an integer in [0, {hi}]")
    return int(raw)


def letter_visible(store: Store, letter: DeadLetter) -> bool:
    """Whether the current principal may see a dead letter (see ``bocage.api.replay``)."""
    return letter_allowed(store, letter)


def build_router(ingestion: Ingestion, max_limit: int, store: Store, security: Security,
                 terms: Terms) -> APIRouter:
    """``store`` is the scoped store: a caller sees the dead letters of the devices it
    sees; letters of unknown devices only a platform-wide role sees."""
    router = APIRouter(prefix="/api/dead-letters", tags=["Dead letters"])

    def visible(letter: DeadLetter) -> bool:
        return letter_visible(store, letter)

    async def get_visible(ident: int, letter_id: str) -> DeadLetter:
        letter = await run(lambda: ingestion.inbox.dead_letter(ident))
        if letter is None or not await run(lambda: visible(letter)):
            raise ResourceNotFound(f"no dead letter {letter_id}")
        return letter

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
        letters = await run(lambda: ingestion.inbox.dead_letters(scoped(query, store, terms)))
        return json_response([d.to_json() for d in letters])

    @router.get("/{letter_id}", summary="Get one dead letter, with its envelope")
    async def get_letter(letter_id: str) -> Response:
        ident = int_param(letter_id, "dead letter id", 0, 2**62)
        letter = await get_visible(ident, letter_id)
        return json_response(letter.to_json(with_raw=True))

    @router.post("/{letter_id}/replay", summary="Process a dead letter again")
    async def replay(letter_id: str) -> Response:
        ident = int_param(letter_id, "dead letter id", 0, 2**62)
        await get_visible(ident, letter_id)
        letter = await run(lambda: replay_one(ingestion, store, ident))
        await run(lambda: security.audit(current_principal().name, "dead-letter.replay",
                                         f"dead-letter:{ident}", {
                                             "devEui": letter.record.dev_eui,
                                             "status": letter.status,
                                             "reason": letter.reason}))
        if letter.status != REPLAYED:
            raise StillFailing(f"still failing: {letter.reason}: {letter.detail}",
                               deadLetter=letter.to_json())
        return json_response(letter.to_json())

    return router
