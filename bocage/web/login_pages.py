"""Logging in and out of the web UI: ``/ui/connexion`` and ``/ui/deconnexion``.

The form posts the username and password with the UI's double-submit CSRF
token (a login form is a cross-site target too: it would log the victim in as
the attacker). A good password opens the same session as ``POST /auth/login``
(an HttpOnly, SameSite cookie) and goes back to the page the visitor came
from; a wrong one re-renders the form with a message next to the fields and
opens nothing. Both outcomes are audited by the security service, and the
guard rate-limits the form like the API's login.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bocage.api.access import session_cookie
from bocage.api.calls import run
from bocage.api.guard import SESSION_COOKIE, client_of
from bocage.api.services import Services
from bocage.domain.access import Principal
from bocage.domain.errors import Unauthorized
from bocage.security.scoped_store import current_principal
from bocage.web.supervision_pages import csrf_ok, csrf_token, with_csrf

Page = Callable[..., Response]
LOGIN_PATH = "/ui/connexion"
LOGOUT_PATH = "/ui/deconnexion"


def safe_next(target: object) -> str:
    """Where to go after logging in: a page of the UI, never another site."""
    if not isinstance(target, str) or not target.startswith("/ui") or target.startswith("//"):
        return "/ui/"
    if target.startswith((LOGIN_PATH, LOGOUT_PATH)) or "\\" in target:
        return "/ui/"
    return target


def build_router(services: Services, page: Page) -> APIRouter:
    router = APIRouter(prefix="/ui", include_in_schema=False)
    security = services.security

    def form(request: Request, *, status: int = 200, error: str = "", username: str = "",
             next_page: str = "/ui/") -> Response:
        return with_csrf(request, page(
            request, "login.html", status=status, csrf=csrf_token(request), error=error,
            username=username, next_page=next_page, oidc=services.oidc is not None))

    @router.get("/connexion", summary="Log-in form")
    async def login_form(request: Request) -> Response:
        return form(request, next_page=safe_next(request.query_params.get("suivant")))

    @router.post("/connexion", summary="Log in")
    async def login(request: Request) -> Response:
        data = await request.form()
        username = str(data.get("username") or "")[:128]
        password = str(data.get("password") or "")
        next_page = safe_next(data.get("suivant"))
        if not csrf_ok(request, data):
            return form(request, status=403, error="login.csrf", username=username,
                        next_page=next_page)
        if not services.settings.auth_on:
            return RedirectResponse(next_page, status_code=303)
        if not username or not password:
            return form(request, status=400, error="login.missing", username=username,
                        next_page=next_page)
        try:
            _, token = await run(lambda: security.login(username, password,
                                                        client_of(request.scope)))
        except Unauthorized:
            return form(request, status=401, error="login.refused", username=username,
                        next_page=next_page)
        response = RedirectResponse(next_page, status_code=303)
        response.headers.append("Set-Cookie", session_cookie(request, token,
                                                             int(security.session_seconds)))
        return response

    @router.post("/deconnexion", summary="Log out")
    async def logout(request: Request) -> Response:
        data = await request.form()
        if not csrf_ok(request, data):
            return form(request, status=403, error="login.csrf")
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            actor = current_principal().name
            await run(lambda: security.logout(token, actor))
        response = RedirectResponse("/ui/", status_code=303)
        response.headers.append("Set-Cookie", session_cookie(request, "", 0))
        return response

    return router


def grant_summary(principal: Principal, t: Callable[..., str]) -> list[str]:
    """The principal's grants for the session bar: ``agent communal sur /FR/01/…``."""
    by_scope: dict[str, list[str]] = {}
    for grant in principal.grants:
        by_scope.setdefault(grant.scope, []).append(t(f"role.{grant.role}"))
    return [t("login.roles_on", roles=", ".join(roles),
              scope=t("login.scope_all") if scope == "/" else scope)
            for scope, roles in by_scope.items()]


def session_values(request: Request) -> dict[str, Any]:
    """What the session bar of every page needs (the logout form's token)."""
    return {"logout_csrf": csrf_token(request), "login_path": LOGIN_PATH,
            "logout_path": LOGOUT_PATH}
