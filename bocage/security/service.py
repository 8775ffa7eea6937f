"""Authentication and the audit trail: accounts, passwords, sessions, API keys.

One :class:`Security` per app (or CLI command), over an :class:`AccessStore`.
It turns credentials into a :class:`Principal` and records who did what.

* Passwords: argon2id (argon2-cffi's defaults), never stored or logged.
  After ``login_max_failures`` failures in a row an account is locked for
  ``lockout_minutes``; a locked account answers exactly like a wrong password.
* Sessions: a random 256-bit token in an HttpOnly cookie, stored hashed, with
  its own CSRF token (sent back by the client in ``X-CSRF-Token``).
* API keys: ``bck_<id>_<secret>``, the secret stored hashed; shown once.
  Valid keys are cached a few seconds (a revocation in this process takes
  effect at once; in another process within ``_KEY_TTL``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from bocage.domain.access import SYSTEM, Grant, Principal
from bocage.domain.audit import AuditEvent, AuditRecord
from bocage.domain.errors import BadRequestData, ResourceNotFound, Unauthorized
from bocage.domain.timefmt import format_utc, parse_datetime
from bocage.security.access_store import AccessStore, Account, ApiKey, Session

KEY_PREFIX: Final = "bck_"
_KEY_TTL: Final = 5.0
#: seconds a principal's current grants are reused by notification matching
_GRANTS_TTL: Final = 2.0
_USERNAME_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._-@")
_MIN_PASSWORD: Final = 12


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _later(now: str, seconds: float) -> str:
    return format_utc(parse_datetime(now) + dt.timedelta(seconds=seconds))


def check_username(name: object) -> str:
    if not isinstance(name, str) or not 1 <= len(name) <= 64 or set(name) - _USERNAME_CHARS:
        raise BadRequestData("a username is 1-64 characters among a-z 0-9 . _ - @")
    return name


def check_password(password: object) -> str:
    if not isinstance(password, str) or len(password) < _MIN_PASSWORD:
        raise BadRequestData(f"a password has at least {_MIN_PASSWORD} characters")
    if len(password) > 1024:
        raise BadRequestData("a password has at most 1024 characters")
    return password


class Security:
    def __init__(self, store: AccessStore, now: Callable[[], str], *,
                 session_hours: float = 12.0, max_failures: int = 5,
                 lockout_minutes: float = 15.0) -> None:
        self.store = store
        self.now = now
        self.session_seconds = session_hours * 3600
        self.max_failures = max_failures
        self.lockout_seconds = lockout_minutes * 60
        self._hasher = PasswordHasher()
        # a hash of no password: failed look-ups cost as much as real ones
        self._decoy = self._hasher.hash(secrets.token_hex(16))
        self._keys: dict[str, tuple[ApiKey, float]] = {}
        self._grants: dict[str, tuple[tuple[Grant, ...] | None, float]] = {}

    # ------------------------------------------------------------- audit

    def audit(self, actor: str, action: str, target: str = "",
              detail: dict[str, Any] | None = None) -> AuditRecord:
        return self.store.append_audit(AuditEvent(self.now(), actor, action, target,
                                                  detail or {}))

    # ----------------------------------------------------------- accounts

    def create_account(self, username: str, password: str, grants: Sequence[Grant], *,
                       by: str, display_name: str = "") -> Account:
        account = Account(username=check_username(username),
                          password_hash=self._hasher.hash(check_password(password)),
                          grants=tuple(grants), created_at=self.now(),
                          display_name=display_name)
        self.store.create_account(account)
        self.audit(by, "account.create", username,
                   {"grants": [g.to_json() for g in grants]})
        return account

    def set_grants(self, username: str, grants: Sequence[Grant], *, by: str) -> Account:
        account = self.store.get_account(username)
        if account is None:
            raise ResourceNotFound(f"no account {username}")
        updated = replace(account, grants=tuple(grants))
        self.store.update_account(updated)
        self._grants.pop(username, None)
        self.audit(by, "account.grants", username, {
            "before": [g.to_json() for g in account.grants],
            "after": [g.to_json() for g in grants]})
        return updated

    def set_password(self, username: str, password: str, *, by: str) -> Account:
        """A new password (and the lock lifted); the account's sessions stay as they are."""
        account = self.store.get_account(username)
        if account is None:
            raise ResourceNotFound(f"no account {username}")
        updated = replace(account, password_hash=self._hasher.hash(check_password(password)),
                          failed_logins=0, locked_until="")
        self.store.update_account(updated)
        self.audit(by, "account.password", username)
        return updated

    def login(self, username: str, password: str, client: str) -> tuple[Session, str]:
        """A new session (and its cookie token) or Unauthorized, audited either way."""
        now = self.now()
        account = self.store.get_account(username) if isinstance(username, str) else None
        ok = False
        try:
            ok = self._hasher.verify(account.password_hash if account and account.password_hash
                                     else self._decoy, password)
        except (VerificationError, InvalidHashError):
            ok = False
        locked = account is not None and account.locked_until > now
        if account is None or not ok or locked or account.disabled:
            if account is not None and not locked:
                after = self.store.login_failed(account.username, now, self.max_failures,
                                                _later(now, self.lockout_seconds))
                if after is not None and after.locked_until:
                    self.audit(username, "login.locked", username,
                               {"client": client, "until": after.locked_until})
            self.audit(str(username)[:64], "login.failed", str(username)[:64],
                       {"client": client, "locked": locked})
            raise Unauthorized("wrong username or password, or the account is locked")
        if account.failed_logins or account.locked_until:
            self.store.update_account(replace(account, failed_logins=0, locked_until=""))
        if self._hasher.check_needs_rehash(account.password_hash):
            self.store.update_account(replace(account, password_hash=self._hasher.hash(password),
                                              failed_logins=0, locked_until=""))
        return self.open_session(account.username, client, method="password")

    def open_session(self, username: str, client: str, method: str) -> tuple[Session, str]:
        now = self.now()
        token = secrets.token_urlsafe(32)
        session = Session(token_hash(token), username, secrets.token_urlsafe(24), now,
                          _later(now, self.session_seconds))
        self.store.create_session(session)
        self.audit(username, "login", username, {"client": client, "method": method})
        return session, token

    def logout(self, token: str, actor: str) -> None:
        self.store.delete_session(token_hash(token))
        self.audit(actor, "logout", actor)

    def session(self, token: str) -> tuple[Principal, Session] | None:
        session = self.store.get_session(token_hash(token))
        if session is None or session.expires_at <= self.now():
            return None
        account = self.store.get_account(session.username)
        if account is None or account.disabled:
            return None
        return Principal("account", account.username, account.grants), session

    # ----------------------------------------------------------- API keys

    def create_key(self, grants: Sequence[Grant], *, name: str, by: str,
                   expires_at: str = "") -> tuple[ApiKey, str]:
        """The key record and the key itself, which is shown once and never stored."""
        if not grants:
            raise BadRequestData("an API key needs at least one grant (role and scope)")
        if expires_at:
            expires_at = format_utc(parse_datetime(expires_at, "expiresAt"))
            if expires_at <= self.now():
                raise BadRequestData("expiresAt is in the past")
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        key = ApiKey(key_id, name[:200], token_hash(secret), tuple(grants), self.now(), by,
                     expires_at)
        self.store.create_key(key)
        self.audit(by, "key.create", key_id, {"name": key.name, "expiresAt": expires_at,
                                              "grants": [g.to_json() for g in grants]})
        return key, f"{KEY_PREFIX}{key_id}_{secret}"

    def revoke_key(self, key_id: str, *, by: str) -> None:
        if not self.store.revoke_key(key_id, self.now()):
            raise ResourceNotFound(f"no active API key {key_id}")
        self._keys.pop(key_id, None)
        self._grants.pop(f"key:{key_id}", None)
        self.audit(by, "key.revoke", key_id)

    def current_grants(self, name: str) -> tuple[Grant, ...] | None:
        """The grants a principal (by its audit name: ``key:<id>``, an account, ``system``)
        holds now; None once it is gone (key revoked or expired, account disabled or
        deleted). Cached for a few seconds: it is asked on every notification match."""
        cached = self._grants.get(name)
        if cached is not None and time.monotonic() - cached[1] < _GRANTS_TTL:
            return cached[0]
        grants: tuple[Grant, ...] | None
        if name == SYSTEM.name:
            grants = SYSTEM.grants
        elif name.startswith("key:"):
            key = self.store.get_key(name[4:])
            grants = None if key is None or key.revoked_at or (
                key.expires_at and key.expires_at <= self.now()) else key.grants
        else:
            account = self.store.get_account(name)
            grants = None if account is None or account.disabled else account.grants
        self._grants[name] = (grants, time.monotonic())
        return grants

    def key_principal(self, token: str) -> Principal:
        """The principal of an API key; Unauthorized for anything but a valid key."""
        if not token.startswith(KEY_PREFIX):
            raise Unauthorized("unknown credentials: send Authorization: Bearer <API key>")
        key_id, _, secret = token[len(KEY_PREFIX):].partition("_")
        cached = self._keys.get(key_id)
        if cached is not None and time.monotonic() - cached[1] < _KEY_TTL:
            key: ApiKey | None = cached[0]
        else:
            key = self.store.get_key(key_id)
            if key is not None:
                self._keys[key_id] = (key, time.monotonic())
        return self._judge_key(key, secret)

    def cached_key_principal(self, token: str) -> Principal | None:
        """:meth:`key_principal` answered from the cache alone, without the store.

        None when the cache cannot tell (key unknown here or its entry too old):
        the caller then asks :meth:`key_principal`, off the event loop. A key the
        cache holds is judged exactly as :meth:`key_principal` judges it.
        """
        if not token.startswith(KEY_PREFIX):
            return None
        key_id, _, secret = token[len(KEY_PREFIX):].partition("_")
        cached = self._keys.get(key_id)
        if cached is None or time.monotonic() - cached[1] >= _KEY_TTL:
            return None
        return self._judge_key(cached[0], secret)

    def _judge_key(self, key: ApiKey | None, secret: str) -> Principal:
        valid = key is not None and hmac.compare_digest(key.secret_hash, token_hash(secret))
        if key is None or not valid or key.revoked_at or (
                key.expires_at and key.expires_at <= self.now()):
            raise Unauthorized("invalid, expired or revoked API key")
        return Principal("key", f"key:{key.key_id}", key.grants)
