"""Where subscriptions are kept: the seam, and the choice of implementation.

Subscriptions live in the entity database (SQLite file or PostgreSQL), per
tenant, as their validated document and the @context they were created with
(see ``bocage.subscriptions.model``). Each backend's table is created by the
repository itself (``CREATE TABLE IF NOT EXISTS``): the seam stays in this
package and the entity schema's migrations are untouched. Subscriptions
change rarely, so each call is one short transaction on the repository's own
connection. Delivery counters (``timesSent``...) are not kept here: they
change with every notification and live in the outbox
(``bocage.subscriptions.outbox``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from bocage.domain.access import Grant, check_grant


@dataclass(frozen=True, slots=True)
class Owner:
    """Who created a subscription, and the grants it had then: notifications carry only
    entities those grants (and the creator's grants of the moment) let it read."""

    name: str  # the audit name: key:<id>, an account, system
    grants: tuple[Grant, ...]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "grants": [g.to_json() for g in self.grants]}


def owner_from_json(raw: Any) -> Owner | None:
    if not isinstance(raw, dict):
        return None
    grants = []
    for g in raw.get("grants") or ():
        try:
            grants.append(check_grant(g.get("role"), g.get("scope")))
        except (ValueError, AttributeError):
            continue  # a role that no longer exists grants nothing
    return Owner(str(raw.get("name", "")), tuple(grants))


@dataclass(frozen=True, slots=True)
class StoredSubscription:
    tenant: str
    id: str
    doc: dict[str, Any]
    #: the @context the subscription was created with (None = core context)
    context: Any = None
    #: who created it (None: made before owners were recorded, when only platform
    #: administrators could: it is theirs)
    owner: Owner | None = None


class SubscriptionRepository(Protocol):
    def create(self, sub: StoredSubscription) -> None:
        """Insert; raise AlreadyExists when (tenant, id) is taken."""
        ...

    def get(self, tenant: str, sub_id: str) -> StoredSubscription | None: ...

    def page(self, tenant: str, limit: int, offset: int) -> tuple[list[StoredSubscription], int]:
        """One page in creation order, and the tenant's total."""
        ...

    def replace(self, sub: StoredSubscription) -> bool:
        """Overwrite an existing subscription; False when it does not exist."""
        ...

    def delete(self, tenant: str, sub_id: str) -> bool: ...

    def all(self) -> list[StoredSubscription]:
        """Every subscription of every tenant (loaded at start-up)."""
        ...

    def close(self) -> None: ...


def open_repository(store: object) -> SubscriptionRepository:
    """The repository beside an open entity store (same database)."""
    from bocage.storage.postgres import PostgresStore
    from bocage.storage.sqlite import SQLiteStore

    if isinstance(store, SQLiteStore):
        from bocage.subscriptions.repository_sqlite import SQLiteSubscriptions

        return SQLiteSubscriptions(store.path)
    if isinstance(store, PostgresStore):
        from bocage.subscriptions.repository_postgres import PostgresSubscriptions

        return PostgresSubscriptions(store.conninfo)
    raise TypeError(f"no subscription repository for {type(store).__name__}")
