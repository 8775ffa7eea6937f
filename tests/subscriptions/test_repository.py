"""The subscription repository contract, on both backends (the ``store`` fixture)."""

from __future__ import annotations

import pytest

from bocage.domain.errors import AlreadyExists
from bocage.storage.base import Store
from bocage.subscriptions.repository import (
    StoredSubscription,
    SubscriptionRepository,
    open_repository,
)


@pytest.fixture
def repo(store: Store) -> SubscriptionRepository:
    r = open_repository(store)
    yield r  # type: ignore[misc]
    r.close()


def _sub(tenant: str, n: int, context: object = None) -> StoredSubscription:
    doc = {"id": f"urn:ngsi-ld:Subscription:{n}", "type": "Subscription",
           "entities": [{"type": "Bin"}], "notification": {"endpoint": {"uri": "http://x/"}}}
    return StoredSubscription(tenant, doc["id"], doc, context)


def test_create_get_replace_delete(repo: SubscriptionRepository) -> None:
    sub = _sub("", 1, "https://example.org/ctx.jsonld")
    repo.create(sub)
    assert repo.get("", sub.id) == sub
    with pytest.raises(AlreadyExists):
        repo.create(sub)
    changed = StoredSubscription("", sub.id, {**sub.doc, "isActive": False}, {"a": "b"})
    assert repo.replace(changed)
    assert repo.get("", sub.id) == changed
    assert not repo.replace(_sub("", 2))
    assert repo.delete("", sub.id)
    assert not repo.delete("", sub.id)
    assert repo.get("", sub.id) is None


def test_tenants_are_separate(repo: SubscriptionRepository) -> None:
    repo.create(_sub("a", 1))
    repo.create(_sub("b", 1))  # the same id in another tenant
    assert repo.get("a", "urn:ngsi-ld:Subscription:1") is not None
    assert repo.get("c", "urn:ngsi-ld:Subscription:1") is None
    assert repo.delete("a", "urn:ngsi-ld:Subscription:1")
    assert repo.get("b", "urn:ngsi-ld:Subscription:1") is not None
    assert [s.tenant for s in repo.all()] == ["b"]


def test_pages_in_creation_order_with_total(repo: SubscriptionRepository) -> None:
    for n in (3, 1, 2, 5, 4):
        repo.create(_sub("t", n))
    repo.create(_sub("other", 9))
    page, total = repo.page("t", 2, 1)
    assert total == 5
    assert [s.id for s in page] == ["urn:ngsi-ld:Subscription:1", "urn:ngsi-ld:Subscription:2"]
    assert repo.page("t", 10, 5) == ([], 5)
    assert len(repo.all()) == 6


def test_survives_reopening(store: Store) -> None:
    first = open_repository(store)
    first.create(_sub("", 7))
    first.close()
    again = open_repository(store)
    try:
        assert [s.id for s in again.all()] == ["urn:ngsi-ld:Subscription:7"]
    finally:
        again.close()
