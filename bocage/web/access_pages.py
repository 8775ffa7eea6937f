"""API keys and accounts in the web UI: ``/ui/acces`` (access managers only).

A platform or EPCI administrator (``access.manage`` on a scope) lists the API keys
and accounts whose grants lie inside his scopes, creates a key (a role on a scope of
his, an optional expiry: the key is shown once, on the answer page, and never stored)
and revokes one. Forms carry the UI's double-submit CSRF token; each change is
audited by the security service, as through ``/api/keys`` and ``bocage keys``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bocage.api.access import manages
from bocage.api.calls import run
from bocage.api.services import Services
from bocage.domain.access import ROLES, Action, Grant, check_grant
from bocage.domain.errors import BocageError
from bocage.security.scoped_store import current_principal
from bocage.web.supervision_pages import csrf_ok, csrf_token, paris_to_utc, with_csrf

Page = Callable[..., Response]


def build_router(services: Services, page: Page) -> APIRouter:
    router = APIRouter(prefix="/ui", include_in_schema=False)
    security = services.security

    def refused(request: Request) -> Response:
        return page(request, "error.html", status=403, message_key="access.refused",
                    subject="")

    def show(request: Request, status: int = 200, **values: Any) -> Response:
        principal = current_principal()
        keys = [k for k in security.store.list_keys() if manages(principal, k.grants)]
        accounts = [a for a in security.store.list_accounts() if manages(principal, a.grants)]
        mine = principal.scopes(Action.ACCESS_MANAGE)
        return with_csrf(request, page(
            request, "access.html", status=status, csrf=csrf_token(request),
            keys=sorted(keys, key=lambda k: (bool(k.revoked_at), k.created_at), reverse=False),
            accounts=sorted(accounts, key=lambda a: a.username), roles=ROLES,
            default_scope=(mine or ("/",))[0], **values))

    async def admitted_form(request: Request) -> FormData | Response:
        """The posted form of an access manager with its CSRF token, else the refusal."""
        if not current_principal().can(Action.ACCESS_MANAGE):
            return refused(request)
        form = await request.form()
        if not csrf_ok(request, form):
            return page(request, "error.html", status=403, message_key="form.csrf",
                        subject="")
        return form

    @router.get("/acces", summary="API keys and accounts")
    async def access_page(request: Request) -> Response:
        if not current_principal().can(Action.ACCESS_MANAGE):
            return refused(request)
        return await run(lambda: show(request))

    @router.post("/acces/cles", summary="Create an API key")
    async def create_key(request: Request) -> Response:
        principal = current_principal()
        form = await admitted_form(request)
        if isinstance(form, Response):
            return form
        name = str(form.get("name") or "").strip()[:200]
        role, scope = str(form.get("role") or ""), str(form.get("scope") or "").strip()
        expires = paris_to_utc(str(form.get("expires") or ""))
        values = {"form_name": name, "form_role": role, "form_scope": scope}
        if not name:
            return await run(lambda: show(request, 400, error="access.name_missing",
                                          field="name", **values))
        try:
            grant = check_grant(role, scope)
        except ValueError:
            return await run(lambda: show(request, 400, error="access.grant_invalid",
                                          field="scope", **values))
        if not manages(principal, [grant]):
            return await run(lambda: show(request, 400, error="access.outside",
                                          field="scope", **values))

        def create() -> Response:
            try:
                key, token = security.create_key([Grant(grant.role, grant.scope)], name=name,
                                                 by=principal.name, expires_at=expires)
            except BocageError:
                return show(request, 400, error="access.expiry_invalid", field="expires",
                            **values)
            response = show(request, 201, created=key, token=token)
            response.headers["Cache-Control"] = "no-store"  # the key is on this page only
            return response

        return await run(create)

    @router.post("/acces/cles/{key_id}/revoquer", summary="Revoke an API key")
    async def revoke_key(request: Request, key_id: str) -> Response:
        principal = current_principal()
        form = await admitted_form(request)
        if isinstance(form, Response):
            return form
        key = await run(lambda: security.store.get_key(key_id))
        if key is None or not manages(principal, key.grants) or key.revoked_at:
            return page(request, "error.html", status=404, message_key="error.not_found",
                        subject=key_id)
        await run(lambda: security.revoke_key(key_id, by=principal.name))
        return RedirectResponse("/ui/acces?revoquee=" + key_id, status_code=303)

    return router
