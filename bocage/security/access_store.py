"""The AccessStore seam: accounts, API keys, sessions and the audit log, in the database.

They live in the same database as the entities (SQLite file or PostgreSQL),
in tables of their own (``access_sql``), so a backup or an export carries
them, and so they work on both backends alike; one contract suite
(``tests/security/access_contract.py``) runs on each implementation.

Secrets are never stored: passwords as argon2id hashes, API keys and session
tokens as SHA-256 hashes (they are 256-bit random values, so a fast hash is
enough: nothing to brute-force).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from bocage.commands.lighting import CommandRecord
from bocage.domain.access import Grant
from bocage.domain.audit import AuditEvent, AuditRecord


@dataclass(frozen=True, slots=True)
class Account:
    username: str
    password_hash: str  # "" = no local password (OpenID Connect only)
    grants: tuple[Grant, ...]
    created_at: str
    display_name: str = ""
    failed_logins: int = 0
    locked_until: str = ""
    disabled: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"username": self.username, "displayName": self.display_name,
                "grants": [g.to_json() for g in self.grants], "createdAt": self.created_at,
                "lockedUntil": self.locked_until or None, "disabled": self.disabled,
                "localPassword": bool(self.password_hash)}


@dataclass(frozen=True, slots=True)
class ApiKey:
    key_id: str
    name: str
    secret_hash: str
    grants: tuple[Grant, ...]
    created_at: str
    created_by: str
    expires_at: str = ""  # "" = never
    revoked_at: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"id": self.key_id, "name": self.name,
                "grants": [g.to_json() for g in self.grants], "createdAt": self.created_at,
                "createdBy": self.created_by, "expiresAt": self.expires_at or None,
                "revokedAt": self.revoked_at or None}


@dataclass(frozen=True, slots=True)
class Session:
    token_hash: str
    username: str
    csrf_token: str
    created_at: str
    expires_at: str


class AccessStore(Protocol):
    # accounts
    def create_account(self, account: Account) -> None:
        """Raise AlreadyExists when the username is taken."""
        ...

    def get_account(self, username: str) -> Account | None: ...

    def list_accounts(self) -> list[Account]: ...

    def update_account(self, account: Account) -> None:
        """Replace every field but the username; raise ResourceNotFound."""
        ...

    def login_failed(self, username: str, now: str, max_failures: int,
                     lock_until: str) -> Account | None:
        """Count a failure atomically; at ``max_failures`` lock until ``lock_until``."""
        ...

    # API keys
    def create_key(self, key: ApiKey) -> None: ...

    def get_key(self, key_id: str) -> ApiKey | None: ...

    def list_keys(self) -> list[ApiKey]: ...

    def revoke_key(self, key_id: str, at: str) -> bool:
        """False when there is no such key or it was already revoked."""
        ...

    # sessions
    def create_session(self, session: Session) -> None: ...

    def get_session(self, token_hash: str) -> Session | None: ...

    def delete_session(self, token_hash: str) -> None: ...

    def delete_sessions_of(self, username: str) -> None: ...

    # commands to equipment (pending downlinks)
    def create_command(self, record: CommandRecord) -> None: ...

    def list_commands(self, limit: int = 1000) -> list[CommandRecord]:
        """Most recent first."""
        ...

    # audit log (append-only)
    def append_audit(self, event: AuditEvent) -> AuditRecord:
        """Chain ``event`` after the last record, atomically."""
        ...

    def audit_records(self, after_seq: int = 0, limit: int | None = None) -> list[AuditRecord]:
        """Records with seq > after_seq, in order."""
        ...

    def close(self) -> None: ...
