"""OpenID Connect login: the authorization code flow with PKCE, against a collectivité's
identity provider (settings ``oidc_*``).

The provider authenticates; bocage authorises: the claim named by
``oidc_username_claim`` must name an existing local account (created by an
administrator, possibly without a local password), whose grants apply. An
unknown user is refused and the refusal audited.

State: a login in progress (state, nonce, PKCE verifier) is kept in this
process for ten minutes and bound to the browser by a cookie holding the state;
with several processes behind a load balancer, use sticky sessions for
``/auth/oidc/*``. The ID token's signature is checked against the provider's
published keys (JWKS), and its issuer, audience, expiry and nonce are checked.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlencode

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from bocage.domain.errors import BadRequestData, ServiceUnavailable, Unauthorized

_PENDING_SECONDS: Final = 600
_MAX_PENDING: Final = 10_000


@dataclass(frozen=True, slots=True)
class OidcConfig:
    issuer: str
    client_id: str
    client_secret: str
    redirect_url: str
    username_claim: str = "preferred_username"
    timeout: float = 5.0


@dataclass(frozen=True, slots=True)
class _Pending:
    nonce: str
    verifier: str
    started: float


@dataclass
class OidcClient:
    config: OidcConfig
    _metadata: dict[str, Any] | None = None
    _keys: KeySet | None = None
    _pending: dict[str, _Pending] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _get(self, url: str) -> Any:
        try:
            r = httpx.get(url, timeout=self.config.timeout)
            r.raise_for_status()
            return r.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ServiceUnavailable(f"the identity provider does not answer: {exc}") from None

    def metadata(self) -> dict[str, Any]:
        if self._metadata is None:
            url = self.config.issuer.rstrip("/") + "/.well-known/openid-configuration"
            meta = self._get(url)
            if not isinstance(meta, dict) or meta.get("issuer") != self.config.issuer:
                raise ServiceUnavailable("the identity provider's metadata names another issuer")
            self._metadata = meta
        return self._metadata

    def _key_set(self, refresh: bool = False) -> KeySet:
        if self._keys is None or refresh:
            self._keys = KeySet.import_key_set(self._get(self.metadata()["jwks_uri"]))
        return self._keys

    def start(self) -> tuple[str, str]:
        """(the provider's authorization URL to redirect to, the state for the cookie)."""
        state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(
            hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        now = time.monotonic()
        with self._lock:
            for key in [k for k, p in self._pending.items()
                        if now - p.started > _PENDING_SECONDS]:
                del self._pending[key]
            if len(self._pending) >= _MAX_PENDING:
                raise ServiceUnavailable("too many logins in progress; retry in a minute", 60)
            self._pending[state] = _Pending(nonce, verifier, now)
        query = urlencode({
            "response_type": "code", "client_id": self.config.client_id,
            "redirect_uri": self.config.redirect_url, "scope": "openid profile email",
            "state": state, "nonce": nonce, "code_challenge": challenge,
            "code_challenge_method": "S256"})
        return f"{self.metadata()['authorization_endpoint']}?{query}", state

    def finish(self, code: str, state: str, cookie_state: str) -> str:
        """The username the provider vouches for; Unauthorized if anything is off."""
        if not state or not secrets.compare_digest(state.encode(), cookie_state.encode()):
            raise Unauthorized("this login was not started from this browser")
        with self._lock:
            pending = self._pending.pop(state, None)
        if pending is None or time.monotonic() - pending.started > _PENDING_SECONDS:
            raise Unauthorized("unknown or expired login; start again")
        if not code:
            raise BadRequestData("the identity provider sent no code")
        try:
            r = httpx.post(self.metadata()["token_endpoint"], timeout=self.config.timeout, data={
                "grant_type": "authorization_code", "code": code,
                "redirect_uri": self.config.redirect_url, "client_id": self.config.client_id,
                "client_secret": self.config.client_secret, "code_verifier": pending.verifier})
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(f"the identity provider does not answer: {exc}") from None
        if r.status_code != 200:
            raise Unauthorized("the identity provider refused the code")
        try:
            id_token = r.json()["id_token"]
        except (ValueError, KeyError, TypeError):
            raise Unauthorized("the identity provider sent no ID token") from None
        claims = self._verify(str(id_token), pending.nonce)
        username = claims.get(self.config.username_claim)
        if not isinstance(username, str) or not username:
            raise Unauthorized(f"the ID token has no {self.config.username_claim} claim")
        return username.lower()

    def _verify(self, id_token: str, nonce: str) -> dict[str, Any]:
        registry = jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": self.config.issuer},
            aud={"essential": True, "value": self.config.client_id},
            exp={"essential": True}, nonce={"essential": True, "value": nonce})
        for refresh in (False, True):  # the provider may have rotated its keys
            try:
                token = jwt.decode(id_token, self._key_set(refresh),
                                   algorithms=["RS256", "ES256", "PS256", "EdDSA"])
                registry.validate(token.claims)
                return dict(token.claims)
            except JoseError as exc:
                error = exc
            except ValueError as exc:  # malformed token
                raise Unauthorized(f"invalid ID token: {exc}") from None
        raise Unauthorized(f"invalid ID token: {error.description or error.error}")
