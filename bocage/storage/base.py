"""The Store seam: what every storage backend provides.

Writes go through one primitive, :meth:`Store.apply`: a list of *mutations*,
each a pure function from the current entity (or ``None`` when absent) to the
new entity (or :data:`DELETE`). The backend runs them atomically, in order, in
one transaction (group commit), and reports per mutation either the entity
written, ``None`` for a deletion, or the :class:`BocageError` the function
raised (which leaves that entity untouched). Create, replace, merge, append,
partial update and delete are all mutations built in ``bocage.domain``; the
backend never interprets NGSI-LD semantics beyond indexing.

Reads return internal entities (see ``bocage.domain.entity``).

Every call carries the tenant: ``""`` is the default tenant. A tenant springs
into existence with its first successful write; reading an unknown tenant
raises :class:`NonexistentTenant`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Protocol

from bocage.domain.entity import Entity
from bocage.domain.errors import BocageError
from bocage.domain.query import EntityQuery, QueryPage


class _Delete:
    __slots__ = ()

    def __repr__(self) -> str:
        return "DELETE"


#: Returned by a mutation function to delete the entity.
DELETE = _Delete()

MutationFn = Callable[[Entity | None], "Entity | _Delete"]


@dataclass(frozen=True, slots=True)
class Mutation:
    entity_id: str
    fn: MutationFn


MutationResult = Entity | None | BocageError


@dataclass(frozen=True, slots=True)
class TypeInfo:
    """Discovery: one entity type, how many entities, which attributes."""

    type: str
    entity_count: int
    attributes: dict[str, set[str]]  # attribute IRI -> attribute types seen


@dataclass(frozen=True, slots=True)
class AttributeInfo:
    """Discovery: one attribute, how many entities hold it, in which types."""

    name: str
    entity_count: int
    attribute_types: set[str]
    type_names: set[str]


class Store(Protocol):
    """A storage backend. Implementations: ``sqlite.SQLiteStore`` (default)."""

    def apply(self, tenant: str, mutations: Sequence[Mutation]) -> list[MutationResult]:
        """Run mutations atomically and durably (committed before returning)."""
        ...

    def submit(self, tenant: str, mutations: Sequence[Mutation]) -> Future[list[MutationResult]]:
        """Like :meth:`apply` without waiting: the future completes once committed.

        Lets an event loop await a write without parking a thread on it.
        May raise ServiceUnavailable at once (back-pressure).
        """
        ...

    def get(self, tenant: str, entity_id: str) -> Entity | None:
        """One entity, or None. Raises NonexistentTenant for an unknown tenant."""
        ...

    def query(self, tenant: str, query: EntityQuery) -> QueryPage:
        """Entities matching ``query``, ordered stably (by creation), paginated."""
        ...

    def types(self, tenant: str) -> list[TypeInfo]:
        """Entity types present in the tenant, sorted by type."""
        ...

    def attributes(self, tenant: str) -> list[AttributeInfo]:
        """Attributes present in the tenant, sorted by name."""
        ...

    def tenants(self) -> list[str]:
        """Known tenants (the default tenant ``""`` once it holds data)."""
        ...

    # JSON-LD contexts added through /jsonldContexts or cached after a fetch
    def put_context(self, url: str, body: bytes, kind: str) -> None: ...

    def get_context(self, url: str) -> tuple[bytes, str] | None: ...

    def list_contexts(self) -> list[tuple[str, str]]:
        """(url, kind) pairs; kind is ``hosted`` or ``cached``."""
        ...

    def delete_context(self, url: str) -> bool: ...

    def ping(self) -> None:
        """Raise ServiceUnavailable when the database cannot serve."""
        ...

    def close(self) -> None: ...
