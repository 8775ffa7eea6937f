"""The data quality page: dead letters (filtered, paged, replayed), offline devices,
devices never seen.

Letters are those the visitor may see (``bocage.api.replay``: the same service as
``/api/dead-letters``), filtered in the query so that every page is full. Replaying
one letter, or every open letter of a reason and/or device once its cause is fixed
(a device registered, a codec added), needs ``devices.write`` on the letter's
device; forms carry the UI's double-submit CSRF token, replays are audited, and the
page comes back with a French message saying what happened.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bocage.api.calls import run
from bocage.api.replay import replay_one, replay_open, scoped
from bocage.api.services import Services
from bocage.domain.access import Action
from bocage.domain.errors import BocageError
from bocage.ingest.deadletters import OPEN, REASONS, REPLAYED, DeadLetterQuery
from bocage.security.scoped_store import current_principal
from bocage.web.equipment import Equipment
from bocage.web.i18n import Translator
from bocage.web.supervision_pages import csrf_ok, csrf_token, with_csrf

PER_PAGE = 50
_EUI = re.compile(r"^[0-9A-Fa-f]{16}$")
Page = Callable[..., Response]


@dataclass(frozen=True, slots=True)
class Filters:
    """The letters filter of the page, checked: ``error`` names the field refused."""

    reason: str = ""
    device: str = ""
    page: int = 1
    error: str = ""

    def query(self) -> dict[str, str]:
        """The filter as query parameters (what links and redirects carry)."""
        return {k: v for k, v in (("motif", self.reason), ("appareil", self.device)) if v}


def read_filters(params: Any) -> Filters:
    """The filter from a query string or a form (pure): unknown reason or malformed
    DevEUI -> ``error`` set to the field, the filter left empty for it."""
    reason = str(params.get("motif") or "").strip()
    device = str(params.get("appareil") or "").strip().upper()
    raw_page = str(params.get("page") or "1")
    page = int(raw_page) if raw_page.isascii() and raw_page.isdigit() else 1
    error = ""
    if reason and reason not in REASONS:
        reason, error = "", "motif"
    if device and not _EUI.match(device):
        device, error = "", error or "appareil"
    return Filters(reason, device, max(1, min(page, 100_000)), error)


def reason_label(t: Translator, code: str) -> str:
    """A reason code in words (the main catalogue, then this page's, else the code)."""
    for key in (f"reason.{code}", f"quality.reasons.{code}"):
        text = t(key)
        if text != key:
            return text
    return code


def result_message(t: Translator, params: Any) -> str:
    """What the last replay did, from the redirect's parameters (pure)."""
    def count(name: str) -> int:
        raw = str(params.get(name) or "")
        return int(raw) if raw.isascii() and raw.isdigit() else 0

    done, failing, left = count("fait"), count("echec"), count("reste")
    if not (done or failing or left or "fait" in params):
        return ""
    parts = [t("quality.result.replayed", n=done) if done else t("quality.result.none")]
    if failing:
        why = str(params.get("pourquoi") or "")
        parts.append(t("quality.result.failing", n=failing,
                       reason=reason_label(t, why) if why in REASONS else "–"))
    if left:
        parts.append(t("quality.result.left", n=left))
    return " ".join(parts)


def build_router(services: Services, page: Page, translator: Callable[[Request], Translator],
                 equipment: Callable[[Request], Awaitable[list[Equipment]]],
                 refresh: Callable[[], None]) -> APIRouter:
    """``equipment(request)``: the visitor's equipment summaries; ``refresh`` drops
    them after a replay changed readings."""
    router = APIRouter(prefix="/ui", include_in_schema=False)
    terms = services.contexts.core_term_map

    def may_replay() -> bool:
        return current_principal().can(Action.DEVICES_WRITE)

    def actor() -> str:
        return current_principal().name

    async def show(request: Request, filters: Filters, status: int = 200) -> Response:
        ingestion = request.app.state.ingestion
        letters: list[Any] = []
        total = 0
        if ingestion.started:
            query = DeadLetterQuery(status=OPEN, reason=filters.reason or None,
                                    dev_eui=filters.device or None, limit=PER_PAGE,
                                    offset=(filters.page - 1) * PER_PAGE)

            def read() -> tuple[list[Any], int]:
                q = scoped(query, services.store, terms)
                return ingestion.inbox.dead_letters(q), ingestion.inbox.count_dead_letters(q)

            letters, total = await run(read)
        items = await equipment(request)
        t = translator(request)
        pages = max(1, -(-total // PER_PAGE))
        base = filters.query()
        link = {n: "/ui/qualite?" + urlencode({**base, "page": str(n)})
                for n in (filters.page - 1, filters.page + 1) if 1 <= n <= pages}
        return with_csrf(request, page(
            request, "quality.html", status=status, letters=letters, total=total,
            filters=filters, reasons=sorted(REASONS), pages=pages, link=link,
            reason_label=lambda code: reason_label(t, code), can_replay=may_replay(),
            csrf=csrf_token(request), result=result_message(t, request.query_params),
            back_query=urlencode(base),
            field_error=t(f"quality.invalid.{filters.error}") if filters.error else "",
            offline=[i for i in items if i.status == "offline"][:100],
            never=[i for i in items if i.last_seen is None][:100]))

    @router.get("/qualite", summary="Data quality")
    async def quality_page(request: Request) -> Response:
        filters = read_filters(request.query_params)
        return await show(request, filters, 400 if filters.error else 200)

    def refused(request: Request, key: str, status: int) -> Response:
        subject = translator(request)("form.csrf_subject") if key == "form.csrf" else (
            Action.DEVICES_WRITE.value)
        return with_csrf(request, page(request, "error.html", status=status,
                                       message_key=key, subject=subject))

    def back(filters: Filters, **outcome: int | str) -> Response:
        params = {**filters.query(), **{k: str(v) for k, v in outcome.items()}}
        return RedirectResponse("/ui/qualite?" + urlencode(params) + "#lettres",
                                status_code=303)

    @router.post("/qualite/lettres/{letter_id}/rejouer", summary="Replay one dead letter")
    async def replay_letter(request: Request, letter_id: str) -> Response:
        form = await request.form()
        if not csrf_ok(request, form):
            return refused(request, "form.csrf", 403)
        if not may_replay():
            return refused(request, "quality.forbidden", 403)
        filters = read_filters(form)
        if not (letter_id.isascii() and letter_id.isdigit()) or len(letter_id) > 18:
            return page(request, "error.html", status=404, message_key="error.not_found",
                        subject=letter_id)
        ident = int(letter_id)
        try:
            letter = await run(lambda: replay_one(request.app.state.ingestion,
                                                  services.store, ident))
        except BocageError:
            return page(request, "error.html", status=404, message_key="error.not_found",
                        subject=letter_id)
        await run(lambda: services.security.audit(actor(), "dead-letter.replay",
                                                  f"dead-letter:{ident}", {
                                                      "devEui": letter.record.dev_eui,
                                                      "status": letter.status,
                                                      "reason": letter.reason, "via": "ui"}))
        if letter.status == REPLAYED:
            refresh()
            return back(filters, fait=1)
        return back(filters, fait=0, echec=1, pourquoi=letter.reason)

    @router.post("/qualite/rejouer", summary="Replay the open dead letters of a filter")
    async def replay_all(request: Request) -> Response:
        form = await request.form()
        if not csrf_ok(request, form):
            return refused(request, "form.csrf", 403)
        if not may_replay():
            return refused(request, "quality.forbidden", 403)
        filters = read_filters(form)
        if filters.error:
            return await show(request, filters, 400)
        outcome = await run(lambda: replay_open(
            request.app.state.ingestion, services.store, terms,
            reason=filters.reason or None, dev_eui=filters.device or None))
        await run(lambda: services.security.audit(actor(), "dead-letter.replay-all", "", {
            "reason": filters.reason or None, "devEui": filters.device or None,
            "replayed": outcome.replayed, "failing": outcome.failing,
            "left": outcome.left, "via": "ui"}))
        if outcome.replayed:
            refresh()
        why = max(outcome.reasons, key=lambda r: outcome.reasons[r]) if outcome.reasons else ""
        return back(filters, fait=outcome.replayed, echec=outcome.failing, reste=outcome.left,
                    pourquoi=why)

    return router
