"""Whose eyes a subscription sees through, and who manages it. Pure."""

from __future__ import annotations

from typing import Any

from bocage.domain.access import ROOT, Grant, Principal
from bocage.subscriptions.access import EVERYTHING, NOTHING, manages, reader_for
from bocage.subscriptions.repository import Owner, owner_from_json

EPCI = "/FR/01/240100883"
A, B = EPCI + "/01004", EPCI + "/01202"


def entity(*scopes: str) -> dict[str, Any]:
    return {"id": "urn:x", "type": ["T"], "scope": list(scopes)}


def test_the_creators_grants_then_and_now_both_apply() -> None:
    owner = Owner("key:a", (Grant("integrator", EPCI),))
    reader = reader_for(owner, lambda name: (Grant("integrator", A),), "/open")
    assert reader.sees(entity(A))
    assert not reader.sees(entity(B))  # granted then, no longer
    assert not reader.sees(entity())  # unscoped: root grants only
    assert reader.sees(entity("/open/lights"))  # open data
    narrowed_then = reader_for(Owner("key:a", (Grant("integrator", A),)),
                               lambda name: (Grant("admin", ROOT),), "")
    assert not narrowed_then.sees(entity(B))  # a later, wider grant does not widen it


def test_a_creator_that_is_gone_sees_nothing_and_root_readers_everything() -> None:
    owner = Owner("key:a", (Grant("integrator", A),))
    assert reader_for(owner, lambda name: None) is NOTHING
    assert not NOTHING.sees(entity("/open/x"))
    root = Owner("system", (Grant("admin", ROOT),))
    assert reader_for(root, lambda name: (Grant("admin", ROOT),)) is EVERYTHING
    assert reader_for(None, lambda name: None) is EVERYTHING  # made before owners existed
    assert reader_for(root, lambda name: (Grant("admin", A),)) is not EVERYTHING


def test_who_manages_a_subscription() -> None:
    owner = Owner("key:a", (Grant("integrator", A),))
    assert manages(Principal("key", "key:a", (Grant("integrator", A),)), owner)
    assert manages(Principal("account", "maire", (Grant("admin", A),)), owner)
    assert manages(Principal("account", "epci", (Grant("admin", EPCI),)), owner)
    assert not manages(Principal("account", "b", (Grant("admin", B),)), owner)
    assert not manages(Principal("key", "key:z", (Grant("integrator", A),)), owner)
    assert not manages(Principal("account", "epci", (Grant("admin", EPCI),)), None)
    assert manages(Principal("account", "root", (Grant("admin", ROOT),)), None)


def test_owner_round_trip_drops_unknown_roles() -> None:
    owner = Owner("key:a", (Grant("integrator", A), Grant("agent", B)))
    assert owner_from_json(owner.to_json()) == owner
    assert owner_from_json({"name": "x", "grants": [{"role": "gone", "scope": A}]}) == Owner(
        "x", ())
    assert owner_from_json(None) is None
