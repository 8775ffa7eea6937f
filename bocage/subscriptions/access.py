"""What a subscription's notifications may carry: the entities its creator may read. Pure.

A subscription records its creator (:class:`~bocage.subscriptions.repository.Owner`):
its name and the grants it had when it subscribed. A notification carries an
entity only when both those grants and the creator's grants of the moment allow
reading it (``entities.read`` on one of the entity's scopes), or when the entity
is open data. A creator that is gone (API key revoked or expired, account
disabled or deleted) gets nothing more. A subscription without an owner was made
when only platform administrators could subscribe: it sees everything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from bocage.domain.access import ROOT, Action, Grant, Principal, covers
from bocage.domain.entity import Entity
from bocage.subscriptions.repository import Owner

#: the grants a principal holds now, by its audit name (None: gone)
GrantsOf = Callable[[str], tuple[Grant, ...] | None]


@dataclass(frozen=True, slots=True)
class Reader:
    """Whose eyes a subscription's notifications see through."""

    principals: tuple[Principal, ...]
    open_scope: str = ""
    everything: bool = False
    nothing: bool = False

    def sees(self, entity: Entity) -> bool:
        if self.everything:
            return True
        if self.nothing:
            return False
        scopes = list(entity.get("scope") or ())
        if self.open_scope and any(covers(self.open_scope, s) for s in scopes):
            return True
        return all(p.allows(Action.ENTITIES_READ, scopes) for p in self.principals)


EVERYTHING: Final = Reader((), everything=True)
NOTHING: Final = Reader((), nothing=True)


def reader_for(owner: Owner | None, grants_of: GrantsOf | None, open_scope: str = "") -> Reader:
    if owner is None:
        return EVERYTHING
    recorded = Principal("key" if owner.name.startswith("key:") else "account", owner.name,
                         owner.grants)
    if grants_of is None:  # no access store to ask (tests of the matcher alone)
        return Reader((recorded,), open_scope)
    now = grants_of(owner.name)
    if now is None:
        return NOTHING
    current = Principal(recorded.kind, owner.name, now)
    if recorded.scopes(Action.ENTITIES_READ) is None and current.scopes(
            Action.ENTITIES_READ) is None:
        return EVERYTHING  # reads everywhere, then and now: nothing to filter
    return Reader((recorded, current), open_scope)


def manages(caller: Principal, owner: Owner | None) -> bool:
    """Whether ``caller`` may see and change a subscription of ``owner``: its own, or one
    whose creator's every grant lies inside the caller's ``access.manage`` scopes (the
    administrator of a commune manages the subscriptions of its commune's keys; the
    platform's, every one, those without an owner included)."""
    if owner is not None and owner.name == caller.name:
        return True
    where = caller.scopes(Action.ACCESS_MANAGE)
    if where is None:
        return True
    owned = owner.grants if owner is not None else (Grant("admin", ROOT),)
    return bool(owned) and all(any(covers(w, g.scope) for w in where) for g in owned)
