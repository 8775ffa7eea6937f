"""Fragments that keep the live parts of pages current (htmx polls them; see
``templates/_live.html`` and ``static/js/live.js``).

* ``/ui/fragments/apercu?partie=chiffres|alarmes``: the overview's counters and its
  list of equipment in alarm, from the equipment summaries every page shares
  (``bocage.web.cache``): rendering is all a poll costs, and the HTML is kept per
  view and language until the summaries change, so a wall of screens polling the
  same overview costs one rendering per refresh of the summaries;
* ``/ui/fragments/equipements/{id}``: one equipment's status and latest values (a
  point read through the visitor's scopes: 404 outside them);
* the alarm queue's table is ``/ui/alarmes?...&fragment=1`` (``supervision_pages``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from bocage.api.calls import run
from bocage.domain.errors import NonexistentTenant
from bocage.web.equipment import Equipment, tally
from bocage.web.i18n import Translator

Page = Callable[..., Response]
PARTS = ("chiffres", "alarmes")
NO_STORE = {"Cache-Control": "no-store"}


def build_router(page: Page, translator: Callable[[Request], Translator],
                 equipment: Callable[[Request], Awaitable[list[Equipment]]],
                 view_key: Callable[[Request], str],
                 one: Callable[[Request, str], Any]) -> APIRouter:
    """``equipment(request)``: the visitor's summaries (cached); ``view_key(request)``:
    who shares them; ``one(request, id)``: one equipment's summary or None."""
    router = APIRouter(prefix="/ui/fragments", include_in_schema=False)
    #: (view, language, part) -> (the summaries it was made from, its HTML)
    made: dict[tuple[str, str, str], tuple[list[Equipment], bytes]] = {}

    @router.get("/apercu", summary="Overview: live counters or alarm list")
    async def overview_part(request: Request) -> Response:
        part = request.query_params.get("partie", "chiffres")
        if part not in PARTS:
            return Response(status_code=404, headers=NO_STORE)
        items = await equipment(request)
        key = (view_key(request), translator(request).lang, part)
        kept = made.get(key)
        if kept is None or kept[0] is not items:  # the summaries were refreshed
            body = page(request, "_overview_live.html", part=part, total=tally(items),
                        alarms=[i for i in items if i.status == "alarm"][:20]).body
            kept = made[key] = (items, bytes(body))
        return HTMLResponse(kept[1], headers=NO_STORE)

    @router.get("/equipements/{entity_id:path}", summary="Equipment: live status and values")
    async def equipment_part(request: Request, entity_id: str) -> Response:
        try:
            item = await run(lambda: one(request, entity_id))
        except NonexistentTenant:
            item = None
        if item is None:
            return Response(status_code=404, headers=NO_STORE)
        response = page(request, "_equipment_live.html", item=item)
        response.headers.update(NO_STORE)
        return response

    return router
