"""Access control over HTTP: ``/auth/*`` (login, logout, me), ``/api/keys``, ``/api/accounts``,
``/api/audit``.

Managing access is itself scoped: an administrator of a subtree creates keys
and accounts with grants inside that subtree only, and sees and revokes only
those; one outside is answered 404 like a missing one.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

import orjson
from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bocage.api.calls import run
from bocage.api.guard import SESSION_COOKIE, client_of
from bocage.api.negotiation import json_response, media_type, read_json
from bocage.api.openapi_docs import doc
from bocage.api.services import Services
from bocage.domain.access import ANONYMOUS, Action, Grant, Principal, check_grant, covers
from bocage.domain.errors import BadRequestData, Forbidden, ResourceNotFound, Unauthorized
from bocage.security.oidc import OidcClient
from bocage.security.scoped_store import current_principal

OIDC_STATE_COOKIE = "bocage_oidc_state"


def _grants(raw: object) -> list[Grant]:
    if not isinstance(raw, list) or not raw:
        raise BadRequestData('grants must be a non-empty array of {"role", "scope"} objects')
    out = []
    for item in raw:
        if not isinstance(item, dict):
            raise BadRequestData('each grant is a {"role", "scope"} object')
        try:
            out.append(check_grant(item.get("role"), item.get("scope")))
        except ValueError as exc:
            raise BadRequestData(str(exc)) from None
    return out


def manages(principal: Principal, grants: tuple[Grant, ...] | list[Grant]) -> bool:
    """Whether every grant lies inside the principal's access-management scopes."""
    where = principal.scopes(Action.ACCESS_MANAGE)
    if where is None:
        return True
    return bool(grants) and all(any(covers(m, g.scope) for m in where) for g in grants)


def _check_manages(principal: Principal, grants: list[Grant]) -> None:
    if not manages(principal, grants):
        where = ", ".join(principal.scopes(Action.ACCESS_MANAGE) or ()) or "none"
        raise Forbidden(f"you may grant roles within your own scopes only ({where})")


def session_cookie(request: Request, value: str, max_age: int) -> str:
    """The session cookie: HttpOnly, SameSite=Lax, Secure unless plain HTTP on loopback."""
    parts = [f"{SESSION_COOKIE}={value}", "Path=/", "HttpOnly", "SameSite=Lax",
             f"Max-Age={max_age}"]
    if _secure(request):
        parts.append("Secure")
    return "; ".join(parts)


def _secure(request: Request) -> bool:
    """Cookies are Secure, except over plain HTTP to loopback (local development)."""
    host = request.url.hostname or ""
    return request.url.scheme == "https" or host not in ("127.0.0.1", "localhost", "::1")


async def _login_body(request: Request, max_body: int) -> tuple[Any, Any]:
    if media_type(request) == "application/x-www-form-urlencoded":
        raw = await request.body()
        if len(raw) > max_body:
            raise BadRequestData("request body too large")
        form = parse_qs(raw.decode("utf-8", "replace"))
        return form.get("username", [""])[0], form.get("password", [""])[0]
    body = await read_json(request, max_body)
    if not isinstance(body, dict):
        raise BadRequestData('send {"username": ..., "password": ...}')
    return body.get("username"), body.get("password")


def build_router(services: Services) -> APIRouter:
    router = APIRouter(tags=["Access control"])
    security = services.security
    max_body = min(services.settings.max_body_bytes, 100_000)

    # ------------------------------------------------------------- sessions

    @router.post("/auth/login", summary="Log in with a local account (sets a session cookie)",
                 openapi_extra=doc(body="object"))
    async def login(request: Request) -> Response:
        username, password = await _login_body(request, max_body)
        if not isinstance(username, str) or not isinstance(password, str):
            raise BadRequestData("username and password are required strings")
        session, token = await run(lambda: security.login(username, password,
                                                          client_of(request.scope)))
        principal, _ = await run(lambda: security.session(token)) or (ANONYMOUS, None)
        body = {**principal.to_json(), "csrfToken": session.csrf_token,
                "expiresAt": session.expires_at}
        response = json_response(body)
        response.headers["Set-Cookie"] = session_cookie(request, token,
                                                        int(security.session_seconds))
        return response

    @router.post("/auth/logout", status_code=204, summary="End the session")
    async def logout(request: Request) -> Response:
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            actor = current_principal().name
            await run(lambda: security.logout(token, actor))
        response = Response(status_code=204)
        response.headers["Set-Cookie"] = session_cookie(request, "", 0)
        return response

    def oidc_client() -> OidcClient:
        if services.oidc is None:
            raise ResourceNotFound("OpenID Connect login is not configured (BOCAGE_OIDC_ISSUER)")
        return services.oidc

    @router.get("/auth/oidc/login", summary="Log in with the identity provider (redirects)",
                status_code=302)
    async def oidc_login(request: Request) -> Response:
        client = oidc_client()
        url, state = await run(client.start)
        response = RedirectResponse(url, status_code=302)
        response.set_cookie(OIDC_STATE_COOKIE, state, max_age=600, httponly=True,
                            samesite="lax", secure=_secure(request), path="/auth/oidc")
        return response

    @router.get("/auth/oidc/callback", summary="The identity provider's redirect back",
                status_code=303)
    async def oidc_callback(request: Request) -> Response:
        client = oidc_client()
        params = request.query_params
        if params.get("error"):
            raise Unauthorized(f"the identity provider refused: {params['error'][:100]}")
        cookie_state = request.cookies.get(OIDC_STATE_COOKIE, "")
        username = await run(lambda: client.finish(params.get("code", ""),
                                                   params.get("state", ""), cookie_state))
        account = await run(lambda: security.store.get_account(username))
        address = client_of(request.scope)
        if account is None or account.disabled:
            await run(lambda: security.audit(username[:64], "login.failed", username[:64],
                                             {"client": address, "method": "oidc"}))
            raise Forbidden(f"no bocage account {username}: ask an administrator to create it")
        _, token = await run(lambda: security.open_session(username, address, "oidc"))
        response = RedirectResponse("/ui/", status_code=303)
        response.headers.append("Set-Cookie",
                                session_cookie(request, token, int(security.session_seconds)))
        response.delete_cookie(OIDC_STATE_COOKIE, path="/auth/oidc")
        return response

    @router.get("/auth/me", summary="Who the caller is, with its grants")
    async def me() -> Response:
        return json_response(current_principal().to_json())

    # ------------------------------------------------------------- API keys

    @router.get("/api/keys", summary="List API keys (never the keys themselves)")
    async def list_keys() -> Response:
        principal = current_principal()
        keys = await run(security.store.list_keys)
        return json_response([k.to_json() for k in keys if manages(principal, k.grants)])

    @router.post("/api/keys", status_code=201, summary="Create an API key (shown once)",
                 openapi_extra=doc(body="object"))
    async def create_key(request: Request) -> Response:
        principal = current_principal()
        body = await read_json(request, max_body)
        if not isinstance(body, dict):
            raise BadRequestData('send {"name": ..., "grants": [{"role": ..., "scope": ...}]}')
        grants = _grants(body.get("grants"))
        _check_manages(principal, grants)
        expires = body.get("expiresAt") or ""
        if not isinstance(expires, str):
            raise BadRequestData("expiresAt must be an ISO 8601 date-time")
        name = body.get("name") or ""
        if not isinstance(name, str):
            raise BadRequestData("name must be a string")
        key, token = await run(lambda: security.create_key(
            grants, name=name, by=principal.name, expires_at=expires))
        return json_response({**key.to_json(), "key": token}, status=201,
                             headers={"Location": f"/api/keys/{key.key_id}",
                                      "Cache-Control": "no-store"})

    @router.delete("/api/keys/{key_id}", status_code=204, summary="Revoke an API key")
    async def revoke_key(key_id: str) -> Response:
        principal = current_principal()
        key = await run(lambda: security.store.get_key(key_id))
        if key is None or not manages(principal, key.grants):
            raise ResourceNotFound(f"no API key {key_id}")
        await run(lambda: security.revoke_key(key_id, by=principal.name))
        return Response(status_code=204)

    # ------------------------------------------------------------- accounts

    @router.get("/api/accounts", summary="List accounts")
    async def list_accounts() -> Response:
        principal = current_principal()
        accounts = await run(security.store.list_accounts)
        return json_response([a.to_json() for a in accounts if manages(principal, a.grants)])

    @router.post("/api/accounts", status_code=201, summary="Create an account",
                 openapi_extra=doc(body="object"))
    async def create_account(request: Request) -> Response:
        principal = current_principal()
        body = await read_json(request, max_body)
        if not isinstance(body, dict):
            raise BadRequestData('send {"username", "password", "grants"}')
        grants = _grants(body.get("grants"))
        _check_manages(principal, grants)
        username, password = body.get("username"), body.get("password")
        if not isinstance(username, str) or not isinstance(password, str):
            raise BadRequestData("username and password are required strings")
        account = await run(lambda: security.create_account(
            username, password, grants, by=principal.name,
            display_name=str(body.get("displayName") or "")))
        return json_response(account.to_json(), status=201,
                             headers={"Location": f"/api/accounts/{username}"})

    @router.put("/api/accounts/{username}/grants", summary="Replace an account's grants",
                openapi_extra=doc(body="array"))
    async def set_grants(username: str, request: Request) -> Response:
        principal = current_principal()
        account = await run(lambda: security.store.get_account(username))
        if account is None or not manages(principal, account.grants):
            raise ResourceNotFound(f"no account {username}")
        grants = _grants(await read_json(request, max_body))
        _check_manages(principal, grants)
        updated = await run(lambda: security.set_grants(username, grants, by=principal.name))
        await run(lambda: security.store.delete_sessions_of(username))
        return json_response(updated.to_json())

    # ---------------------------------------------------------------- audit

    def platform_wide() -> Principal:
        principal = current_principal()
        if principal.scopes(Action.AUDIT_READ) is not None:
            raise Forbidden("the audit log is platform-wide: reading it needs the admin or "
                            "dpo role on /")
        return principal

    @router.get("/api/audit", summary="Read the audit log (admin, DPO)")
    async def read_audit(request: Request) -> Response:
        platform_wide()
        after = _int(request.query_params.get("after"), "after", 0)
        limit = _int(request.query_params.get("limit"), "limit", 100)
        limit = min(limit, services.settings.max_limit)
        records = await run(lambda: security.store.audit_records(after, limit))
        return json_response([r.to_json() for r in records])

    @router.get("/api/audit/export", summary="Export the whole audit log (JSON lines)")
    async def export_audit() -> Response:
        principal = platform_wide()
        records = await run(security.store.audit_records)
        await run(lambda: security.audit(principal.name, "audit.export", "",
                                         {"records": len(records)}))
        body = b"".join(orjson.dumps(r.to_json()) + b"\n" for r in records)
        return Response(body, media_type="application/x-ndjson",
                        headers={"Content-Disposition": 'attachment; filename="audit.jsonl"'})

    return router


def _int(raw: str | None, name: str, default: int) -> int:
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 12:
        raise BadRequestData(f"{name} must be a non-negative integer")
    return int(raw)
