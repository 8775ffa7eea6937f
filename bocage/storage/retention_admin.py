"""Managing retention policies (API and CLI share this): JSON shape, the guard
against silently shortening a window, and the set of policies in force."""

from __future__ import annotations

from typing import Any

from bocage.domain.errors import BadRequestData, ResourceNotFound
from bocage.history.retention import DEFAULT_POLICIES, Policy, guard_change, resolve
from bocage.storage.history_base import HistoryStore

_FIELDS = {"entityType": "entity_type", "attribute": "attribute", "scope": "scope",
           "rawDays": "raw_days", "hourlyDays": "hourly_days", "dailyDays": "daily_days"}


def policy_json(policy: Policy) -> dict[str, Any]:
    return {key: getattr(policy, name) for key, name in _FIELDS.items()}


def policy_from_json(body: Any) -> Policy:
    if not isinstance(body, dict):
        raise BadRequestData("a retention policy must be a JSON object")
    unknown = set(body) - set(_FIELDS)
    if unknown:
        raise BadRequestData(f"unknown member(s) {', '.join(sorted(unknown))}; "
                             f"expected {', '.join(_FIELDS)}")
    for key in ("entityType", "attribute", "scope"):
        value = body.get(key)
        if value is not None and (not isinstance(value, str) or not value):
            raise BadRequestData(f"{key} must be a non-empty string or null")
    for key in ("rawDays", "hourlyDays", "dailyDays"):
        if key not in body:
            raise BadRequestData(f"{key} is required (a number of days, 0, or null = forever)")
    policy = Policy(**{name: body.get(key) for key, name in _FIELDS.items()})
    return policy.validate()


def in_force(store: HistoryStore) -> list[Policy]:
    """The defaults, then the operator's policies (which win ties)."""
    return [*DEFAULT_POLICIES, *store.retention_policies()]


def _same_key(a: Policy, b: Policy) -> bool:
    return (a.entity_type, a.attribute, a.scope) == (b.entity_type, b.attribute, b.scope)


def set_policy(store: HistoryStore, policy: Policy, confirmed: bool) -> None:
    """Store ``policy``; refused when it would remove data sooner than the
    policy that governs its series now, unless ``confirmed``."""
    policy.validate()
    current = resolve(in_force(store), policy.entity_type or "", policy.attribute or "",
                      policy.scope)
    guard_change(current, policy, confirmed)
    store.put_retention_policy(policy)


def delete_policy(store: HistoryStore, entity_type: str | None, attribute: str | None,
                  scope: str | None, confirmed: bool) -> None:
    """Remove an operator policy; the policy that would then apply must not
    shorten any window, unless ``confirmed``."""
    key = Policy(entity_type, attribute, scope, 1, None, None)
    stored = [p for p in store.retention_policies() if _same_key(p, key)]
    if not stored:
        raise ResourceNotFound("no such retention policy")
    rest = [*DEFAULT_POLICIES, *(p for p in store.retention_policies() if not _same_key(p, key))]
    after = resolve(rest, entity_type or "", attribute or "", scope)
    guard_change(stored[0], after, confirmed)
    store.delete_retention_policy(entity_type, attribute, scope)
