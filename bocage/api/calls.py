"""How routes reach blocking services without stalling the event loop.

Threads are used only where work may be long (queries, context downloads):
every extra thread contends for the GIL, and a thread woken while the loop holds
it can wait a whole switch interval. Writes are awaited on the store's future
(no thread parked), and point reads and cached contexts are answered inline.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from anyio import to_thread

from bocage.api.services import Services
from bocage.domain.entity import Entity
from bocage.domain.errors import BocageError
from bocage.domain.terms import Terms
from bocage.storage.base import Mutation, MutationFn, MutationResult

T = TypeVar("T")


async def run(fn: Callable[[], T]) -> T:
    """Run blocking work in the thread pool."""
    return await to_thread.run_sync(fn)


async def terms_for(services: Services, context: Any) -> Terms:
    """The TermMap of a @context: inline when already known, else off the loop."""
    if services.contexts.is_ready(context):
        return services.contexts.resolve(context)
    return await run(lambda: services.contexts.resolve(context))


async def write(
    services: Services, tenant: str, mutations: Sequence[Mutation]
) -> list[MutationResult]:
    """Apply mutations and wait, without a thread, until they are committed."""
    if not mutations:
        return []
    return await asyncio.wrap_future(services.store.submit(tenant, mutations))


async def write_one(
    services: Services, tenant: str, entity_id: str, fn: MutationFn
) -> Entity | None:
    [result] = await write(services, tenant, [Mutation(entity_id, fn)])
    if isinstance(result, BocageError):
        raise result
    return result
