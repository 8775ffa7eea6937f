"""Retention and downsampling policies, and their resolution (pure: the clock is passed in).

History is kept in three tiers: raw instances, hourly summaries and daily summaries
(:class:`bocage.history.aggregate.Summary`). A policy says for how many days each tier is
kept (``None`` = forever, ``0`` = the tier is not kept). Data older than the raw window
is rolled into the next kept tier, then dropped when it is older than every window.

**Resolution order.** A policy applies to a series (entity type, attribute, scope) when
each of its set fields matches: the same entity type (or the same local name when one is
an expanded IRI), the same attribute, and a scope that is the series' scope or one of its
ancestors (``/FR/01`` covers ``/FR/01/200071751``; a policy with a scope never covers a
series without one). Among the policies that apply, the most specific wins, compared in
this order: attribute set, then entity type set, then the deeper scope. On a tie the
later policy in the list wins, so policies configured by the operator, listed after
:data:`DEFAULT_POLICIES`, override them. When nothing applies, :data:`GLOBAL_DEFAULT`.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from bocage.domain.errors import BadRequestData

DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class Policy:
    """How long each tier of a series is kept, in days (None = forever, 0 = not kept)."""

    entity_type: str | None
    attribute: str | None
    scope: str | None  # a scope prefix, e.g. "/FR/01"
    raw_days: int | None
    hourly_days: int | None
    daily_days: int | None

    def validate(self) -> Policy:
        """Raise BadRequestData unless the policy is coherent; return it for chaining."""
        for name in ("raw_days", "hourly_days", "daily_days"):
            days = getattr(self, name)
            if days is not None and (type(days) is not int or days < 0):
                raise BadRequestData(f"{name} must be a whole number of days >= 0 or null "
                                     f"(forever), got {days!r}")
        if self.raw_days == 0:
            raise BadRequestData("raw_days must be at least 1: fresh data is always kept raw")
        kept = [(n, d) for n, d in (("raw_days", self.raw_days),
                                    ("hourly_days", self.hourly_days),
                                    ("daily_days", self.daily_days)) if d != 0]
        for (shorter, a), (longer, b) in itertools.pairwise(kept):
            if _longer(a, b):
                raise BadRequestData(f"{longer} ({_days(b)}) must not be shorter than "
                                     f"{shorter} ({_days(a)}): each tier covers older data")
        if self.scope is not None and not self.scope.startswith("/"):
            raise BadRequestData(f"a policy scope is a path like /FR/01, got {self.scope!r}")
        return self


def _longer(a: int | None, b: int | None) -> bool:
    """Whether window ``a`` is strictly longer than ``b`` (None = forever)."""
    if a is None:
        return b is not None
    return b is not None and a > b


def _days(days: int | None) -> str:
    if days is None:
        return "forever"
    return "not kept" if days == 0 else f"{days} days"


def _p(entity_type: str | None, raw: int | None, hourly: int | None, daily: int | None,
      attribute: str | None = None) -> Policy:
    return Policy(entity_type, attribute, None, raw, hourly, daily)


GLOBAL_DEFAULT = _p(None, 90, 730, None)

# One line per equipment family of the territory, with the reason for its figures.
# Daily summaries cost ~365 rows a year per attribute: they are kept forever everywhere.
DEFAULT_POLICIES: tuple[Policy, ...] = (
    GLOBAL_DEFAULT,  # raw 3 months, hourly 2 years, daily forever
    # Lighting: yearly energy audits and before/after comparisons of dimming programmes.
    _p("Streetlight", 400, 1095, None),
    _p("StreetlightGroup", 400, 1095, None),
    _p("StreetlightControlCabinet", 400, 1095, None),
    # Water billing: consumer claims prescribe after 2 years (Code de la consommation
    # L218-2), so meter indexes stay raw for 3 years to answer any dispute on a bill.
    _p("WaterMeter", 1095, 1825, None),
    _p("WaterConsumptionObserved", 1095, 1825, None),
    _p("WaterMeterReading", 1095, 1825, None),
    # Waste: route optimisation needs recent detail; seasonal comparisons use hourly data.
    _p("WasteContainer", 90, 730, None),
    # Parking occupancy tells when people come and go: minimal raw window (GDPR minimisation).
    _p("ParkingSpot", 30, 730, None),
    _p("ParkingSite", 30, 730, None),
    _p("OffStreetParking", 30, 730, None),
    _p("OnStreetParking", 30, 730, None),
    # Classrooms and public buildings: a school year, plus the next to compare with.
    _p("IndoorEnvironmentObserved", 400, 1095, None),
    # Air quality: hourly means are the regulatory resolution; keep them for good.
    _p("AirQualityObserved", 730, None, None),
    # Rivers and floods: rare events matter for years (risk plans); volumes are tiny.
    _p("WaterObserved", None, None, None),
    _p("FloodMonitoring", None, None, None),
    # EV charging: usage statistics and the operator's yearly reporting.
    _p("EVChargingStation", 400, 1095, None),
    # Solar production: year-on-year comparison and panel ageing over a decade.
    _p("PhotovoltaicMeasurement", 400, None, None),
    _p("PhotovoltaicDevice", 400, None, None),
    _p("PhotovoltaicInstallation", 400, None, None),
    # Device telemetry (battery, radio quality): maintenance needs recent detail only.
    _p("Device", 30, 365, 1825),
)


def _local(name: str) -> str:
    return name.rstrip("/#").rsplit("/", 1)[-1].rsplit("#", 1)[-1]


def _type_matches(wanted: str, entity_type: str) -> bool:
    return wanted == entity_type or _local(wanted) == _local(entity_type)


def _scope_depth(prefix: str | None, scope: str | None) -> int | None:
    """-1 when the policy has no scope; its depth when it covers ``scope``; None when not."""
    if prefix is None:
        return -1
    if scope is None:
        return None
    levels = [p for p in prefix.split("/") if p]
    if scope.split("/")[1:1 + len(levels)] != levels:
        return None
    return len(levels)


def resolve(policies: Sequence[Policy], entity_type: str, attribute: str,
            scope: str | None) -> Policy:
    """The policy that governs one series (see the module docstring for the order)."""
    best: Policy = GLOBAL_DEFAULT
    best_key: tuple[bool, bool, int] | None = None
    for policy in policies:
        if policy.entity_type is not None and not _type_matches(policy.entity_type, entity_type):
            continue
        if policy.attribute is not None and policy.attribute != attribute:
            continue
        depth = _scope_depth(policy.scope, scope)
        if depth is None:
            continue
        key = (policy.attribute is not None, policy.entity_type is not None, depth)
        if best_key is None or key >= best_key:
            best, best_key = policy, key
    return best


class Action(enum.Enum):
    """What to do with a piece of history of a given age, in a given tier."""

    KEEP = "keep"  # still inside its tier's window
    ROLL_HOURLY = "roll-hourly"  # summarise into hourly buckets, then drop it
    ROLL_DAILY = "roll-daily"  # summarise into daily buckets, then drop it
    DROP = "drop"  # older than every window that could hold it


TIERS = ("raw", "hourly", "daily")


def plan(policy: Policy, now_ms: int, chunk_t_max: int, tier: str = "raw") -> Action:
    """What to do with data of ``tier`` whose newest instance is at ``chunk_t_max``.

    Age is measured from the newest instance, so a chunk is acted on only when all of it
    is past the window. Windows are whole days back from ``now_ms``. Data is rolled into
    the next tier that is kept and whose window it still fits in; otherwise dropped."""
    if tier not in TIERS:
        raise ValueError(f"unknown tier {tier!r}")
    age = now_ms - chunk_t_max
    windows = {"raw": policy.raw_days, "hourly": policy.hourly_days,
               "daily": policy.daily_days}
    if _inside(age, windows[tier]):
        return Action.KEEP
    for later in TIERS[TIERS.index(tier) + 1:]:
        if windows[later] != 0 and _inside(age, windows[later]):
            return Action.ROLL_HOURLY if later == "hourly" else Action.ROLL_DAILY
    return Action.DROP


def _inside(age_ms: int, days: int | None) -> bool:
    return days is None or age_ms < days * DAY_MS


def shortened(old: Policy, new: Policy) -> list[str]:
    """The tiers whose window the new policy makes shorter (data would leave them sooner)."""
    changes = []
    for name in ("raw_days", "hourly_days", "daily_days"):
        before, after = getattr(old, name), getattr(new, name)
        if _shorter(after, before):
            changes.append(f"{name}: {_days(before)} -> {_days(after)}")
    return changes


def _shorter(after: int | None, before: int | None) -> bool:
    if after == 0:
        return before != 0
    return before != 0 and _longer(before, after)


def guard_change(old: Policy, new: Policy, confirmed: bool) -> None:
    """Refuse a policy change that would remove data sooner than the policy it replaces,
    unless explicitly confirmed (the API's ``confirm=true``, the CLI's ``--yes``)."""
    new.validate()
    changes = shortened(old, new)
    if changes and not confirmed:
        raise BadRequestData(
            "this retention change shortens " + "; ".join(changes)
            + ": data younger than the current policy would be removed; confirm explicitly "
            "to apply it", shortened=changes,
        )
