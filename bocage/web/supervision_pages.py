"""The alarm queue, the intervention queue and their forms (web UI).

Forms post to ``/ui/alarmes/...`` and ``/ui/interventions/...`` and are
protected against cross-site requests by a double-submit token: a random
``bocage_csrf`` cookie (SameSite=Strict) that each form repeats in a hidden
field. A refused change re-renders the page with a French (or English)
message next to the field, and nothing is saved.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bocage.api.calls import run
from bocage.api.services import Services
from bocage.domain.errors import BocageError
from bocage.supervision import records as rec
from bocage.supervision.rules import SEVERITIES
from bocage.supervision.service import Supervisor
from bocage.web.i18n import PARIS

CSRF_COOKIE = "bocage_csrf"
Page = Callable[..., Response]


def paris_to_utc(local: str) -> str:
    """``<input type=datetime-local>`` (Europe/Paris wall time) -> UTC ISO; "" stays ""."""
    if not local:
        return ""
    try:
        moment = dt.datetime.fromisoformat(local)
    except ValueError:
        return local  # refused with a clear message by the lifecycle
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=PARIS)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def csrf_token(request: Request) -> str:
    """The token of this browser (set by :func:`with_csrf` on the response)."""
    token = request.cookies.get(CSRF_COOKIE)
    if not token or len(token) != 43:
        token = getattr(request.state, "csrf", None) or secrets.token_urlsafe(32)
    request.state.csrf = token
    return token


def with_csrf(request: Request, response: Response) -> Response:
    """Set the browser's token cookie on ``response`` if the page made a new one."""
    token = getattr(request.state, "csrf", None)
    already = any(v.startswith(CSRF_COOKIE + "=")
                  for v in response.headers.getlist("set-cookie"))
    if token and request.cookies.get(CSRF_COOKIE) != token and not already:
        response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="strict",
                            max_age=12 * 3600, path="/ui")
    return response


def csrf_ok(request: Request, form: FormData) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE) or ""
    sent = form.get("csrf")
    return bool(cookie) and isinstance(sent, str) and hmac.compare_digest(cookie, sent)


def build_router(services: Services, supervisor: Supervisor, page: Page,
                 translator: Callable[[Request], Any],
                 refresh: Callable[[], None]) -> APIRouter:
    """``page(request, template, status=..., **values)`` renders; ``refresh`` drops
    the equipment summaries after a change made here."""
    router = APIRouter(prefix="/ui", include_in_schema=False)

    def tenant(request: Request) -> str:
        return request.headers.get("NGSILD-Tenant", "")

    def actor(request: Request) -> str:
        principal = getattr(request.state, "principal", None)
        return str(getattr(principal, "name", None) or "local")

    def render(request: Request, template: str, status: int = 200, **values: Any) -> Response:
        return with_csrf(request, page(request, template, status=status,
                                       csrf=csrf_token(request), severities=SEVERITIES,
                                       now=services.now(), **values))

    async def form_of(request: Request) -> FormData | None:
        form = await request.form()
        return form if csrf_ok(request, form) else None

    def refused(request: Request) -> Response:
        t = translator(request)
        return render(request, "error.html", status=403, message_key="form.csrf",
                      subject=t("form.csrf_subject"))

    # ------------------------------------------------------------------ alarms

    @router.get("/alarmes")
    async def alarm_queue(request: Request) -> Response:
        status = request.query_params.get("etat", "ouvertes")
        wanted = rec.ALARM_OPEN if status == "ouvertes" else (
            (status,) if status in rec.ALARM_STATUSES else ())
        alarms = await run(lambda: supervisor.alarms(tenant(request), status=wanted))
        severity = request.query_params.get("gravite")
        if severity in SEVERITIES:
            alarms = [a for a in alarms if a.severity == severity]
        commune = request.query_params.get("commune")
        if commune:
            alarms = [a for a in alarms if any(s.endswith("/" + commune) for s in a.scope)]
        # ?fragment=1: the table alone, what the page's live update swaps in
        template = "_alarm_table.html" if request.query_params.get("fragment") else "alarms.html"
        return render(request, template, alarms=alarms, etat=status,
                      gravite=severity or "", commune=commune or "")

    @router.get("/alarmes/{alarm_id:path}")
    async def alarm_page(request: Request, alarm_id: str) -> Response:
        return await show_alarm(request, alarm_id)

    async def show_alarm(request: Request, alarm_id: str, error: str = "",
                         field: str = "") -> Response:
        try:
            alarm = await run(lambda: supervisor.alarm(tenant(request), alarm_id))
        except BocageError:
            return render(request, "error.html", status=404, message_key="error.not_found",
                          subject=alarm_id)
        return render(request, "alarm.html", alarm=alarm, error=error, field=field,
                      status=400 if error else 200)

    @router.post("/alarmes/{alarm_id:path}")
    async def alarm_action(request: Request, alarm_id: str) -> Response:
        form = await form_of(request)
        if form is None:
            return refused(request)
        action, by = str(form.get("action", "")), actor(request)
        text = str(form.get("text", "")).strip()
        changes: dict[str, Callable[[rec.Alarm, str], rec.Alarm]] = {
            "acknowledge": lambda a, at: rec.acknowledge(a, by, at),
            "assign": lambda a, at: rec.assign(a, text, by, at),
            "comment": lambda a, at: rec.comment(a, text, by, at),
            "clear": lambda a, at: rec.clear(a, by, at, text),
        }
        change = changes.get(action)
        t = translator(request)
        if change is None:
            return await show_alarm(request, alarm_id, t("form.unknown_action"), "action")
        try:
            await run(lambda: supervisor.change_alarm(tenant(request), alarm_id, change))
        except BocageError as exc:
            if exc.status == 404:
                return render(request, "error.html", status=404,
                              message_key="error.not_found", subject=alarm_id)
            return await show_alarm(request, alarm_id, t(f"form.alarm.{action}", detail=str(
                exc.detail)), action)
        refresh()
        return RedirectResponse(f"/ui/alarmes/{quote(alarm_id, safe=':')}", status_code=303)

    # ----------------------------------------------------------- interventions

    @router.get("/interventions")
    async def intervention_queue(request: Request) -> Response:
        status = request.query_params.get("etat", "ouvertes")
        wanted = rec.INTERVENTION_OPEN if status == "ouvertes" else (
            (status,) if status in rec.INTERVENTION_STATUSES else ())
        items = await run(lambda: supervisor.interventions(tenant(request), status=wanted))
        return render(request, "interventions.html", items=items, etat=status)

    @router.get("/interventions/{ident:path}")
    async def intervention_page(request: Request, ident: str) -> Response:
        return await show_intervention(request, ident)

    async def show_intervention(request: Request, ident: str, error: str = "",
                                field: str = "") -> Response:
        try:
            item = await run(lambda: supervisor.intervention(tenant(request), ident))
        except BocageError:
            return render(request, "error.html", status=404, message_key="error.not_found",
                          subject=ident)
        return render(request, "intervention.html", item=item, error=error, field=field,
                      work_statuses=rec.INTERVENTION_STATUSES, status=400 if error else 200)

    @router.post("/interventions/{ident:path}")
    async def intervention_action(request: Request, ident: str) -> Response:
        form = await form_of(request)
        if form is None:
            return refused(request)
        t = translator(request)
        new_status = str(form.get("status", ""))
        contractor = str(form.get("contractor", "")).strip() or None
        planned = paris_to_utc(str(form.get("plannedFor", "")).strip()) or None
        note, by = str(form.get("note", "")).strip(), actor(request)
        try:
            await run(lambda: supervisor.change_intervention(
                tenant(request), ident, lambda i, at: rec.move(
                    i, new_status, by, at, contractor=contractor, planned_for=planned,
                    note=note)))
        except BocageError as exc:
            if exc.status == 404:
                return render(request, "error.html", status=404,
                              message_key="error.not_found", subject=ident)
            return await show_intervention(request, ident, t("form.intervention.move",
                                                             detail=str(exc.detail)), "status")
        refresh()
        return RedirectResponse(f"/ui/interventions/{quote(ident, safe=':')}", status_code=303)

    @router.post("/demande-intervention")
    async def request_form(request: Request) -> Response:
        form = await form_of(request)
        if form is None:
            return refused(request)
        t = translator(request)
        equipment = str(form.get("equipment", ""))
        description = str(form.get("description", ""))
        severity = str(form.get("severity", "major"))
        back = f"/ui/equipements/{quote(equipment, safe='')}"
        if not description.strip():
            return RedirectResponse(f"{back}?erreur=description#demande", status_code=303)
        if severity not in SEVERITIES:
            return RedirectResponse(f"{back}?erreur=severity#demande", status_code=303)
        try:
            item = await run(lambda: supervisor.request(tenant(request), equipment,
                                                        description, actor(request),
                                                        severity=severity))
        except BocageError as exc:
            if exc.status == 404:
                return render(request, "error.html", status=404,
                              message_key="error.not_found", subject=equipment)
            return render(request, "error.html", status=400, message_key="form.invalid",
                          subject=t("form.request", detail=str(exc.detail)))
        refresh()
        return RedirectResponse(f"/ui/interventions/{quote(item.id, safe=':')}",
                                status_code=303)

    return router
