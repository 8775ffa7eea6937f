"""Which dead letters a caller may see and replay, and replaying them: one service for
the API (``/api/dead-letters``) and the web UI (``/ui/qualite``).

A dead letter belongs to its device: a caller sees the letters of the devices it
sees through the scoped store (with ``devices.read``), and replays those of the
devices it may change (``devices.write`` on one of the device's scopes). Letters
of a device nobody registered only a platform-wide ``devices.read`` sees (and a
platform-wide ``devices.write`` replays). The visible devices are turned into a
filter of the query itself, so a listing's pages are exact (never a page of
letters filtered afterwards, which would hide a commune's letters further down).
"""

from __future__ import annotations

from dataclasses import dataclass

from bocage.devices.catalogue import TENANT, all_of_type
from bocage.devices.records import DEVICE_PREFIX, device_id
from bocage.domain.access import Action
from bocage.domain.errors import ResourceNotFound
from bocage.domain.terms import Terms
from bocage.ingest.deadletters import OPEN, REPLAYED, DeadLetter, DeadLetterQuery
from bocage.ingest.service import Ingestion
from bocage.security.scoped_store import current_principal
from bocage.storage.base import Store

#: letters replayed by one "replay all" (the rest waits for the next one)
BATCH = 500


def visible_euis(store: Store, terms: Terms, action: Action = Action.DEVICES_READ,
                 ) -> frozenset[str] | None:
    """DevEUIs of the devices whose letters the current principal may see (or, with
    ``devices.write``, replay): None for every letter, unknown devices included."""
    principal = current_principal()
    where = principal.scopes(action)
    if where is None:
        return None
    if not where:
        return frozenset()
    devices = all_of_type(store, terms, "Device")
    return frozenset(str(d["id"]).removeprefix(DEVICE_PREFIX) for d in devices
                     if principal.allows(action, d.get("scope") or ()))


def scoped(query: DeadLetterQuery, store: Store, terms: Terms,
           action: Action = Action.DEVICES_READ) -> DeadLetterQuery:
    """``query`` narrowed to the letters the current principal may see (or replay)."""
    euis = visible_euis(store, terms, action)
    if euis is None:
        return query
    if query.dev_euis is not None:
        euis &= query.dev_euis
    return DeadLetterQuery(status=query.status, reason=query.reason, dev_eui=query.dev_eui,
                           source=query.source, dev_euis=euis, limit=query.limit,
                           offset=query.offset)


def letter_allowed(store: Store, letter: DeadLetter,
                   action: Action = Action.DEVICES_READ) -> bool:
    """Whether the current principal may see (or, with ``devices.write``, replay) one
    letter: platform-wide, any; else those of its devices seen through ``store``."""
    principal = current_principal()
    where = principal.scopes(action)
    if where is None:
        return True
    eui = letter.record.dev_eui
    if not where or not eui:
        return False
    device = store.get(TENANT, device_id(eui))
    return device is not None and principal.allows(action, device.get("scope") or ())


def replay_one(ingestion: Ingestion, store: Store, letter_id: int) -> DeadLetter:
    """Run one letter through the pipeline again; it comes back settled (``replayed``,
    or still open with its new reason). Not found when the caller may not replay it."""
    letter = ingestion.inbox.dead_letter(letter_id)
    if letter is None or not letter_allowed(store, letter, Action.DEVICES_WRITE):
        raise ResourceNotFound(f"no dead letter {letter_id}")
    return ingestion.replay(letter_id)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one "replay all" did."""

    replayed: int
    failing: int
    #: open letters of the same filter left for another round (past ``BATCH``)
    left: int
    #: reason -> how many are still failing with it
    reasons: dict[str, int]


def replay_open(ingestion: Ingestion, store: Store, terms: Terms, *, reason: str | None = None,
                dev_eui: str | None = None, batch: int = BATCH) -> Outcome:
    """Replay the open letters of a reason and/or device that the caller may replay,
    oldest first, at most ``batch`` of them."""
    query = scoped(DeadLetterQuery(status=OPEN, reason=reason, dev_eui=dev_eui, limit=batch),
                   store, terms, Action.DEVICES_WRITE)
    inbox = ingestion.inbox
    replayed = failing = 0
    reasons: dict[str, int] = {}
    for letter in inbox.dead_letters(query):
        done = ingestion.replay(letter.id)
        if done.status == REPLAYED:
            replayed += 1
        else:
            failing += 1
            reasons[done.reason] = reasons.get(done.reason, 0) + 1
    left = max(0, inbox.count_dead_letters(query) - failing)
    return Outcome(replayed, failing, left, reasons)
