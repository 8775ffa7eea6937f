"""Question 14, incident lighting: ``/ui/eclairage-urgence`` (police, agents).

The caller picks a commune or a lighting zone among the targets of its scopes
for the lighting command, a duration and a reason, and presses "Allumer"; the
command goes through the same checks, audit and durable queue as ``POST
/api/commands`` (``bocage.api.commands.submit``), and the page then shows its
status, refreshed by htmx polling a fragment (no inline script). A refused
field re-renders the form with a message next to it, and nothing is sent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bocage.api.calls import run
from bocage.api.commands import submit, visible
from bocage.api.services import Services
from bocage.commands.downlink import OPEN
from bocage.commands.lighting import MAX_MINUTES, LightingCommand
from bocage.commands.service import Commands
from bocage.domain.access import Action, Principal
from bocage.domain.entity import Entity, instance_value
from bocage.domain.errors import BocageError
from bocage.domain.query import EntityQuery
from bocage.security.scoped_store import PrincipalStore, current_principal
from bocage.web.login_pages import LOGIN_PATH
from bocage.web.supervision_pages import csrf_ok, csrf_token, with_csrf

Page = Callable[..., Response]
BASE: Final = "/ui/eclairage-urgence"
DURATIONS: Final = (15, 30, 60, 120, 240, 480)
ZONE_TYPES: Final = ("StreetlightGroup", "StreetlightControlCabinet")


@dataclass(frozen=True, slots=True)
class Target:
    #: a scope path (a commune) or a zone's entity id
    value: str
    label: str
    kind: str  # commune | zone


def _first(entity: Entity, iri: str) -> Any:
    insts = entity.get(iri)
    return instance_value(insts[0]) if insts else None


def targets(services: Services, tenant: str, principal: Principal) -> list[Target]:
    """Communes and lighting zones the principal may switch on (blocking)."""
    store = services.store
    assert isinstance(store, PrincipalStore)
    reader = store.scoped_for(Action.LIGHTING_COMMAND)
    terms = services.contexts.core_term_map
    zones: list[Entity] = []
    for type_name in ZONE_TYPES:
        offset = 0
        while True:
            page = reader.query(tenant, EntityQuery(types=((terms.expand(type_name),),),
                                                    limit=1000, offset=offset)).entities
            zones.extend(page)
            if len(page) < 1000:
                break
            offset += 1000
    communes: dict[str, str] = {}
    for grant_scope in principal.scopes(Action.LIGHTING_COMMAND) or ():
        if grant_scope.count("/") >= 4:  # a commune's own grant: /FR/<dep>/<epci>/<insee>
            communes.setdefault(grant_scope, "")
    out: list[Target] = []
    for zone in zones:
        address = _first(zone, terms.expand("address"))
        town = address.get("addressLocality", "") if isinstance(address, dict) else ""
        for scope in zone.get("scope") or ():
            if not communes.get(scope):
                communes[scope] = town
        name = _first(zone, terms.expand("name")) or zone["id"].rsplit(":", 1)[-1]
        out.append(Target(zone["id"], f"{name}" + (f" ({town})" if town and town not in name
                                                     else ""), "zone"))
    found = [Target(scope, f"{town} ({scope.rsplit('/', 1)[-1]})" if town
                    else scope.rsplit("/", 1)[-1], "commune")
             for scope, town in communes.items()]
    return sorted(found, key=lambda t: t.label) + sorted(out, key=lambda t: t.label)


def build_router(services: Services, page: Page,
                 translator: Callable[[Request], Any]) -> APIRouter:
    router = APIRouter(prefix=BASE, include_in_schema=False)

    def lighting(request: Request) -> Commands:
        found: Commands = request.app.state.commands
        return found

    def tenant(request: Request) -> str:
        return request.headers.get("NGSILD-Tenant", "")

    def gate(request: Request) -> Response | None:
        """Anonymous visitors log in first; others need the lighting command."""
        principal = current_principal()
        if principal.kind == "anonymous":
            return RedirectResponse(f"{LOGIN_PATH}?suivant={quote(request.url.path)}",
                                    status_code=303)
        if not principal.can(Action.LIGHTING_COMMAND):
            return page(request, "error.html", status=403, message_key="cmd.forbidden",
                        subject="")
        return None

    async def form(request: Request, status: int = 200, errors: dict[str, str] | None = None,
                   values: dict[str, str] | None = None) -> Response:
        principal = current_principal()
        choices = await run(lambda: targets(services, tenant(request), principal))
        records = await run(lighting(request).queue_recent)
        mine = [r for r in records if visible(r, principal)][:10]
        return with_csrf(request, page(
            request, "lighting.html", status=status, csrf=csrf_token(request),
            choices=choices, durations=DURATIONS, errors=errors or {},
            values=values or {"duration": "60"}, recent=mine, base=BASE))

    @router.get("", summary="Incident lighting")
    async def lighting_form(request: Request) -> Response:
        return gate(request) or await form(request)

    @router.post("", summary="Switch the lighting on")
    async def lighting_submit(request: Request) -> Response:
        refused = gate(request)
        if refused is not None:
            return refused
        data = await request.form()
        t = translator(request)
        if not csrf_ok(request, data):
            return with_csrf(request, page(request, "error.html", status=403,
                                           message_key="form.csrf", subject=""))
        values = {k: str(data.get(k, "")).strip() for k in ("target", "duration", "reason")}
        principal = current_principal()
        allowed = {c.value for c in await run(lambda: targets(services, tenant(request),
                                                              principal))}
        errors: dict[str, str] = {}
        if values["target"] not in allowed:
            errors["target"] = t("cmd.error.target")
        minutes = int(values["duration"]) if values["duration"].isdigit() else 0
        if not 1 <= minutes <= MAX_MINUTES:
            errors["duration"] = t("cmd.error.duration", most=MAX_MINUTES)
        if not values["reason"]:
            errors["reason"] = t("cmd.error.reason")
        elif len(values["reason"]) > 1000:
            errors["reason"] = t("cmd.error.reason_long")
        if errors:
            return await form(request, 400, errors, values)
        cmd = LightingCommand(values["target"], "on", values["reason"], None, minutes)
        try:
            record = await run(lambda: submit(services, lighting(request), tenant(request),
                                              cmd))
        except BocageError as exc:
            key = "cmd.error.unknown_target" if exc.status == 404 else "cmd.error.refused"
            return await form(request, 400, {"target": t(key, detail=str(exc.detail))},
                              values)
        return RedirectResponse(f"{BASE}/commande/{quote(record.id, safe=':')}",
                                status_code=303)

    async def command_view(request: Request, command_id: str) -> dict[str, Any] | None:
        service = lighting(request)
        record = await run(lambda: service.queue.command(command_id))
        if record is None or not visible(record, current_principal()):
            return None
        return await run(lambda: service.view(record))

    @router.get("/commande/{command_id:path}", summary="One incident lighting command")
    async def command_page(request: Request, command_id: str) -> Response:
        refused = gate(request)
        if refused is not None:
            return refused
        view = await command_view(request, command_id)
        if view is None:
            return page(request, "error.html", status=404, message_key="error.not_found",
                        subject=command_id)
        principal = current_principal()
        labels = {c.value: c.label for c in await run(
            lambda: targets(services, tenant(request), principal))}
        return page(request, "lighting_command.html", command=view, base=BASE,
                    moving=view["status"] in OPEN,
                    target_label=labels.get(view["target"], view["target"]))

    @router.get("/etat/{command_id:path}", summary="A command's status (fragment)")
    async def command_status(request: Request, command_id: str) -> Response:
        refused = gate(request)
        if refused is not None:
            return refused
        view = await command_view(request, command_id)
        if view is None:
            return Response(status_code=404)
        return page(request, "_lighting_status.html", command=view, base=BASE,
                    moving=view["status"] in OPEN)

    return router
