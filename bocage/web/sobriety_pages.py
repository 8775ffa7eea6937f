"""The sobriety panel, ``/ui/sobriete``: the figures of ``bocage.api.sobriety`` in words.

Readable with ``figures.read`` (administrators, elected officials); anyone else
gets a 403 page saying so.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from bocage.api.calls import run
from bocage.api.sobriety import Figures
from bocage.domain.access import Action
from bocage.security.scoped_store import current_principal
from bocage.web.i18n import Translator

Page = Callable[..., Response]
_UNITS = ("B", "KB", "MB", "GB", "TB")


def size(t: Translator, n: float | None) -> str:
    """Bytes in words: ``12,3 Mo`` (fr), ``12.3 MB`` (en); under 10 bytes, one decimal."""
    if n is None:
        return "–"
    unit = 0
    value = float(n)
    while value >= 1000 and unit < len(_UNITS) - 1:
        value /= 1000
        unit += 1
    return f"{t.number(value, 1)}\u00a0{t(f'sobriety.unit.{_UNITS[unit]}')}"


def duration(t: Translator, seconds: float) -> str:
    """``3 h 05 min`` / ``2 j 4 h`` / ``45 s``."""
    s = int(seconds)
    if s < 60:
        return t("sobriety.seconds", n=s)
    if s < 86_400:
        return t("sobriety.hours", h=s // 3600, m=f"{s % 3600 // 60:02d}")
    return t("sobriety.days", d=s // 86_400, h=s % 86_400 // 3600)


def build_router(page: Page, translator: Callable[[Request], Translator]) -> APIRouter:
    router = APIRouter(prefix="/ui", include_in_schema=False)

    @router.get("/sobriete", summary="Sobriety panel")
    async def sobriety_page(request: Request) -> Response:
        if not current_principal().can(Action.FIGURES_READ):
            return page(request, "error.html", status=403, message_key="sobriety.forbidden",
                        subject=Action.FIGURES_READ.value)
        figures: Figures = request.app.state.sobriety
        made = await run(figures.get)
        t = translator(request)
        return page(request, "sobriety.html", s=made, st=made.storage,
                    size=lambda n: size(t, n), duration=lambda n: duration(t, n))

    return router
