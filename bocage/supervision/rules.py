"""Declarative supervision rules and their evaluation. Pure.

A :class:`Rule` is data (it comes from JSON: the API, the CLI or a file) and is
compiled once by :func:`compile_rule`, which refuses a rule it cannot run with
the reason. Evaluation is a pure function of the rule, the rule's state for one
entity, what is known of the entity now (:class:`Snapshot`) and the time:
:func:`evaluate` returns the new state and a :class:`Decision` (raise, clear
or nothing). The caller keeps the states and turns decisions into alarms.

Condition kinds (``kind``):

============== ===========================================================
threshold      ``attribute`` ``op`` (> >= < <= == !=) ``value``; optional ``hysteresis``
rate           ``attribute`` rising by at least ``rise`` per hour (``window_s``)
silence        no data for ``factor`` × ``interval_s`` (offline device, silent camera)
battery_low    ``attribute`` (batteryLevel) below ``below`` (ratio 0..1 or percent)
battery_trend  linear forecast: empty (``level``) within ``days`` days
night_flow     minimum ``attribute`` between ``from_hour`` and ``to_hour`` (Europe/Paris)
               above ``above`` for ``nights`` nights in a row (a leak)
lamp_failure   switched on (``powerState`` on) but ``powerConsumption`` below ``min_power``
occupied       ``attribute`` above ``above`` during occupancy (weekdays, ``hours``)
codec_errors   share of a device's messages that end in dead letters (codec error,
               codec timeout, value out of range) above ``above`` over ``window_s``,
               once at least ``min_messages`` arrived in the window (the ingestion
               worker reports each message's outcome: ``Snapshot.messages``)
all / any      a combination of ``conditions``
============== ===========================================================

Every rule may add ``for_s`` (the condition must hold that long before the
alarm is raised) and names its ``severity`` (X.733: critical, major, minor,
warning, indeterminate).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo

from bocage.domain.errors import BadRequestData

SEVERITIES: Final = ("critical", "major", "minor", "warning", "indeterminate")
PARIS: Final = ZoneInfo("Europe/Paris")
KINDS: Final = ("threshold", "rate", "silence", "battery_low", "battery_trend", "night_flow",
                "lamp_failure", "occupied", "codec_errors", "all", "any")
_OPS: Final[Mapping[str, Callable[[float, float], bool]]] = {
    ">": lambda a, b: a > b, ">=": lambda a, b: a >= b, "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b, "==": lambda a, b: a == b, "!=": lambda a, b: a != b,
}
#: readings kept per (rule, entity) for rates and trends
_WINDOW_POINTS: Final = 64
#: message outcomes kept per (rule, device) for codec_errors (the newest)
_OUTCOME_POINTS: Final = 1024
#: the series codec_errors keeps: (t, 1.0 failed / 0.0 decoded) per message
MESSAGES: Final = "@messages"

Scalar = float | int | str | bool | None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What is known of one entity when a rule is evaluated."""

    entity_id: str
    entity_type: str
    #: short attribute name -> (value, observedAt in ms since the epoch, or None)
    values: Mapping[str, tuple[Scalar, int | None]]
    scope: tuple[str, ...] = ()
    model: str | None = None
    #: the device's expected reporting interval, seconds (for ``silence``)
    interval_s: float | None = None
    #: messages of the device since the last evaluation: (received at ms, failed?)
    messages: tuple[tuple[int, bool], ...] = ()

    def number(self, name: str) -> tuple[float, int | None] | None:
        found = self.values.get(name)
        if found is None:
            return None
        value, at = found
        if isinstance(value, bool) or not isinstance(value, int | float) or (
                isinstance(value, float) and math.isnan(value)):
            return None
        return float(value), at

    def last_seen(self) -> int | None:
        times = [at for _, at in self.values.values() if at is not None]
        return max(times) if times else None


@dataclass(frozen=True, slots=True)
class Target:
    """Which entities a rule watches: any of the given selectors (empty: none)."""

    entity_type: str | None = None
    model: str | None = None
    scope: str | None = None  # a scope prefix: /FR/01/240100883 covers its communes
    entity_id: str | None = None

    def matches(self, snap: Snapshot) -> bool:
        if self.entity_id is not None and snap.entity_id != self.entity_id:
            return False
        if self.entity_type is not None and snap.entity_type != self.entity_type:
            return False
        if self.model is not None and snap.model != self.model:
            return False
        if self.scope is not None:
            prefix = self.scope.rstrip("/")
            if not any(s == prefix or s.startswith(prefix + "/") for s in snap.scope):
                return False
        return True


@dataclass(frozen=True, slots=True)
class Condition:
    kind: str
    params: Mapping[str, Any]
    children: tuple[Condition, ...] = ()


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    name: str
    target: Target
    condition: Condition
    severity: str = "major"
    for_s: float = 0.0
    #: clear the alarm by itself when the condition ends
    auto_clear: bool = True
    #: open an intervention automatically with the alarm
    intervention: bool = False
    enabled: bool = True
    description: str = ""


#: the series of a state that remembers none (shared: states are immutable)
_NO_SERIES: Final[Mapping[str, tuple[tuple[int, float], ...]]] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class State:
    """A rule's memory for one entity."""

    active: bool = False
    #: when the condition started to hold (ms), for ``for_s``
    since: int | None = None
    #: recent (t, value) per attribute the condition looks back on
    series: Mapping[str, tuple[tuple[int, float], ...]] = field(
        default_factory=lambda: _NO_SERIES)
    #: night_flow: (night date ISO, minimum) of recent nights
    nights: tuple[tuple[str, float], ...] = ()

    @property
    def idle(self) -> bool:
        """Nothing to remember: the same as a fresh state (the caller need not keep it)."""
        return not (self.active or self.since is not None or self.series or self.nights)


#: the state of a rule for an entity it has nothing to remember about
IDLE: Final = State()


@dataclass(frozen=True, slots=True)
class Decision:
    action: Literal["raise", "clear", "none"]
    message: str = ""


NOTHING: Final = Decision("none")


# ----------------------------------------------------------------- compiling


def compile_rule(data: object) -> Rule:
    """A rule from its JSON form; BadRequestData saying what is wrong."""
    if not isinstance(data, dict):
        raise BadRequestData("a rule must be a JSON object")
    ident = data.get("id")
    if not isinstance(ident, str) or not ident or not all(
            c.isalnum() or c in "-_." for c in ident):
        raise BadRequestData("a rule needs an id of letters, digits, - _ . only")
    name = data.get("name", ident)
    if not isinstance(name, str):
        raise BadRequestData(f"rule {ident}: name must be a string")
    target = _target(ident, data.get("target"))
    condition = _condition(ident, data.get("condition"))
    severity = data.get("severity", "major")
    if severity not in SEVERITIES:
        raise BadRequestData(f"rule {ident}: severity must be one of {', '.join(SEVERITIES)}")
    for_s = _number(ident, data, "for_s", 0.0, minimum=0)
    flags = {k: data.get(k, default) for k, default in
             (("auto_clear", True), ("intervention", False), ("enabled", True))}
    for key, flag in flags.items():
        if not isinstance(flag, bool):
            raise BadRequestData(f"rule {ident}: {key} must be true or false")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise BadRequestData(f"rule {ident}: description must be a string")
    unknown = set(data) - {"id", "name", "target", "condition", "severity", "for_s",
                           "auto_clear", "intervention", "enabled", "description"}
    if unknown:
        raise BadRequestData(f"rule {ident}: unknown member(s) {', '.join(sorted(unknown))}")
    return Rule(ident, name, target, condition, str(severity), for_s,
                bool(flags["auto_clear"]), bool(flags["intervention"]), bool(flags["enabled"]),
                description)


def rule_to_json(rule: Rule) -> dict[str, Any]:
    target = {k: v for k, v in (("type", rule.target.entity_type), ("model", rule.target.model),
                                ("scope", rule.target.scope), ("id", rule.target.entity_id))
              if v is not None}
    return {"id": rule.id, "name": rule.name, "target": target,
            "condition": _condition_to_json(rule.condition), "severity": rule.severity,
            "for_s": rule.for_s, "auto_clear": rule.auto_clear,
            "intervention": rule.intervention, "enabled": rule.enabled,
            "description": rule.description}


def _condition_to_json(c: Condition) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": c.kind, **c.params}
    if c.children:
        out["conditions"] = [_condition_to_json(child) for child in c.children]
    return out


def _target(ident: str, raw: object) -> Target:
    if not isinstance(raw, dict) or not raw:
        raise BadRequestData(f"rule {ident}: target must name a type, model, scope or id")
    unknown = set(raw) - {"type", "model", "scope", "id"}
    if unknown:
        raise BadRequestData(f"rule {ident}: unknown target member(s) {', '.join(sorted(unknown))}")
    for key, value in raw.items():
        if not isinstance(value, str) or not value:
            raise BadRequestData(f"rule {ident}: target {key} must be a non-empty string")
    scope = raw.get("scope")
    if scope is not None and not scope.startswith("/"):
        raise BadRequestData(f"rule {ident}: target scope must start with /")
    return Target(raw.get("type"), raw.get("model"), scope, raw.get("id"))


_PARAMS: Final[Mapping[str, Mapping[str, object]]] = {
    # name -> default (None: required); strings are attribute names
    "threshold": {"attribute": None, "op": None, "value": None, "hysteresis": 0.0},
    "rate": {"attribute": None, "rise": None, "window_s": 3600.0},
    "silence": {"factor": 3.0, "interval_s": None},
    "battery_low": {"attribute": "batteryLevel", "below": 0.2},
    "battery_trend": {"attribute": "batteryLevel", "days": 30.0, "level": 0.05},
    "night_flow": {"attribute": "flow", "above": None, "nights": 3, "from_hour": 1,
                   "to_hour": 5},
    "lamp_failure": {"state": "powerState", "power": "powerConsumption", "min_power": 5.0},
    "occupied": {"attribute": "co2", "above": 1500.0, "hours": [[8, 12], [13, 17]],
                 "weekdays": [0, 1, 2, 3, 4]},
    "codec_errors": {"above": 0.2, "window_s": 86400.0, "min_messages": 10},
}


def _condition(ident: str, raw: object) -> Condition:
    if not isinstance(raw, dict):
        raise BadRequestData(f"rule {ident}: condition must be an object with a kind")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise BadRequestData(f"rule {ident}: condition kind must be one of {', '.join(KINDS)}")
    if kind in ("all", "any"):
        children = raw.get("conditions")
        if not isinstance(children, list) or not children:
            raise BadRequestData(f"rule {ident}: {kind} needs a non-empty list of conditions")
        if set(raw) - {"kind", "conditions"}:
            raise BadRequestData(f"rule {ident}: {kind} takes only conditions")
        return Condition(kind, {}, tuple(_condition(ident, c) for c in children))
    spec = _PARAMS[kind]
    unknown = set(raw) - set(spec) - {"kind"}
    if unknown:
        raise BadRequestData(f"rule {ident}: {kind} has no parameter {', '.join(sorted(unknown))}")
    params: dict[str, Any] = {}
    for name, default in spec.items():
        value = raw.get(name, default)
        if value is None:
            raise BadRequestData(f"rule {ident}: {kind} needs {name}")
        if isinstance(default, str) or name in ("attribute", "state", "power"):
            if not isinstance(value, str) or not value:
                raise BadRequestData(f"rule {ident}: {kind}.{name} must be an attribute name")
        elif name == "op":
            if value not in _OPS:
                raise BadRequestData(f"rule {ident}: op must be one of {' '.join(_OPS)}")
        elif name == "value":
            if isinstance(value, list | dict):
                raise BadRequestData(f"rule {ident}: threshold value must be a number or text")
        elif name == "hours":
            if not (isinstance(value, list) and all(
                    isinstance(h, list) and len(h) == 2 and all(
                        isinstance(x, int | float) and 0 <= x <= 24 for x in h) and h[0] < h[1]
                    for h in value)):
                raise BadRequestData(f"rule {ident}: hours must be [[start, end], ...] in 0..24")
        elif name == "weekdays":
            if not (isinstance(value, list) and all(
                    isinstance(d, int) and 0 <= d <= 6 for d in value)):
                raise BadRequestData(f"rule {ident}: weekdays must be integers 0 (Monday)..6")
        elif isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(
                value):
            raise BadRequestData(f"rule {ident}: {kind}.{name} must be a number")
        params[name] = value
    if kind == "night_flow" and not (0 <= params["from_hour"] < params["to_hour"] <= 24):
        raise BadRequestData(f"rule {ident}: night_flow needs 0 <= from_hour < to_hour <= 24")
    if kind == "silence" and (params["interval_s"] <= 0 or params["factor"] <= 0):
        raise BadRequestData(f"rule {ident}: silence needs positive factor and interval_s")
    if kind in ("rate", "codec_errors") and params["window_s"] <= 0:
        raise BadRequestData(f"rule {ident}: {kind} needs a positive window_s")
    if kind == "codec_errors" and not 0 <= params["above"] < 1:
        raise BadRequestData(f"rule {ident}: codec_errors.above is a share from 0 to 1 "
                             "(0.2: one message in five)")
    if kind == "codec_errors" and (not isinstance(params["min_messages"], int)
                                   or params["min_messages"] < 1):
        raise BadRequestData(f"rule {ident}: codec_errors needs min_messages >= 1 "
                             "(an integer)")
    if kind == "night_flow" and (not isinstance(params["nights"], int) or params["nights"] < 1):
        raise BadRequestData(f"rule {ident}: night_flow needs nights >= 1 (an integer)")
    return Condition(str(kind), params)


def _number(ident: str, data: Mapping[str, Any], key: str, default: float,
            minimum: float) -> float:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        raise BadRequestData(f"rule {ident}: {key} must be a number >= {minimum:g}")
    return float(value)


# ---------------------------------------------------------------- evaluation


def evaluate(rule: Rule, state: State, snap: Snapshot, now_ms: int) -> tuple[State, Decision]:
    """One evaluation of ``rule`` for one entity: the new state and what to do.

    The new state is :data:`IDLE` itself whenever it has nothing to remember, so
    that a caller keeping states per entity can drop those."""
    plan = _plan(rule.condition)
    series = _remember(plan, state.series, snap, now_ms)
    nights = _nights(plan.night, state.nights, snap) if plan.night is not None else state.nights
    holds, why = _holds(rule.condition, snap, series, nights, now_ms, state.active)
    if holds is None:  # not enough data to say: keep the alarm as it is
        return _state(state.active, state.since, series, nights), NOTHING
    if holds:
        since = state.since if state.since is not None else now_ms
        if state.active:
            return _state(True, since, series, nights), NOTHING
        if now_ms - since >= rule.for_s * 1000:
            return _state(True, since, series, nights), Decision("raise", why)
        return _state(False, since, series, nights), NOTHING
    if state.active:
        return (_state(False, None, series, nights),
                Decision("clear", why) if rule.auto_clear else NOTHING)
    return _state(False, None, series, nights), NOTHING


def _state(active: bool, since: int | None,
           series: Mapping[str, tuple[tuple[int, float], ...]],
           nights: tuple[tuple[str, float], ...]) -> State:
    if not (active or since is not None or series or nights):
        return IDLE
    return State(active, since, series, nights)


@dataclass(frozen=True, slots=True)
class _Plan:
    """What evaluating a condition needs to remember, found once per condition."""

    series: frozenset[str]
    counts_messages: bool
    night: Condition | None


#: condition (by identity, kept alive by the entry) -> its plan
_PLANS: dict[int, tuple[Condition, _Plan]] = {}


def _plan(c: Condition) -> _Plan:
    found = _PLANS.get(id(c))
    if found is not None and found[0] is c:
        return found[1]
    nights = _night_conditions(c)
    plan = _Plan(frozenset(_attrs_with_series(c)), _counts_messages(c),
                 nights[0] if nights else None)
    if len(_PLANS) >= 4096:  # rules are few; replaced rules leave their plans behind
        _PLANS.clear()
    _PLANS[id(c)] = (c, plan)
    return plan


def _attrs_with_series(c: Condition) -> set[str]:
    if c.kind in ("all", "any"):
        return set().union(*(_attrs_with_series(child) for child in c.children))
    if c.kind in ("rate", "battery_trend"):
        return {str(c.params["attribute"])}
    return set()


def _counts_messages(c: Condition) -> bool:
    if c.kind in ("all", "any"):
        return any(_counts_messages(child) for child in c.children)
    return c.kind == "codec_errors"


def _remember(plan: _Plan, series: Mapping[str, tuple[tuple[int, float], ...]],
              snap: Snapshot, now_ms: int) -> Mapping[str, tuple[tuple[int, float], ...]]:
    wanted = plan.series
    counted = snap.messages and plan.counts_messages
    if not wanted and not counted:
        return series
    out = dict(series)
    if counted:
        new = tuple((t, 1.0 if failed else 0.0) for t, failed in sorted(snap.messages))
        out[MESSAGES] = (*out.get(MESSAGES, ()), *new)[-_OUTCOME_POINTS:]
    for name in wanted:
        found = snap.number(name)
        if found is None:
            continue
        value, at = found
        t = at if at is not None else now_ms
        points = out.get(name, ())
        if points and points[-1][0] >= t:
            continue  # an old or repeated reading adds nothing
        out[name] = (*points, (t, value))[-_WINDOW_POINTS:]
    return out if out else _NO_SERIES


def _night_conditions(c: Condition) -> list[Condition]:
    if c.kind in ("all", "any"):
        return [n for child in c.children for n in _night_conditions(child)]
    return [c] if c.kind == "night_flow" else []


def _nights(cond: Condition, nights: tuple[tuple[str, float], ...],
            snap: Snapshot) -> tuple[tuple[str, float], ...]:
    """Keep the minimum of each night's readings (night = its date in Paris) of the
    ``night_flow`` condition ``cond``."""
    found = snap.number(str(cond.params["attribute"]))
    if found is None or found[1] is None:
        return nights
    value, at = found[0], found[1]
    local = dt.datetime.fromtimestamp(at / 1000, dt.UTC).astimezone(PARIS)
    if not cond.params["from_hour"] <= local.hour + local.minute / 60 < cond.params["to_hour"]:
        return nights
    night = local.date().isoformat()
    kept = dict(nights)
    kept[night] = min(value, kept.get(night, math.inf))
    return tuple(sorted(kept.items()))[-14:]


def _holds(c: Condition, snap: Snapshot, series: Mapping[str, tuple[tuple[int, float], ...]],
           nights: tuple[tuple[str, float], ...], now_ms: int,
           active: bool) -> tuple[bool | None, str]:
    """(does the condition hold?, why). None: cannot tell (no data)."""
    p = c.params
    if c.kind in ("all", "any"):
        results = [_holds(child, snap, series, nights, now_ms, active) for child in c.children]
        known = [(h, why) for h, why in results if h is not None]
        if c.kind == "all":
            if any(h is False for h, _ in known):
                return False, ""
            if len(known) < len(results):
                return None, ""
            return True, " and ".join(why for _, why in known)
        hits = [why for h, why in known if h]
        if hits:
            return True, " or ".join(hits)
        # a condition without data does not hold; with no data at all, nothing is known
        return (False, "") if known else (None, "")
    if c.kind == "threshold":
        return _threshold(p, snap, active)
    if c.kind == "rate":
        points = [pt for pt in series.get(p["attribute"], ())
                  if pt[0] >= now_ms - p["window_s"] * 1000]
        if len(points) < 2 or points[-1][0] == points[0][0]:
            return None, ""
        hours = (points[-1][0] - points[0][0]) / 3_600_000
        speed = (points[-1][1] - points[0][1]) / hours
        return speed >= p["rise"], f"{p['attribute']} +{speed:.3g}/h"
    if c.kind == "silence":
        interval = snap.interval_s or p["interval_s"]
        seen = snap.last_seen()
        if seen is None:
            return None, ""
        silent_s = (now_ms - seen) / 1000
        return silent_s > p["factor"] * interval, f"no data for {silent_s / 3600:.1f} h"
    if c.kind == "battery_low":
        found = snap.number(p["attribute"])
        if found is None:
            return None, ""
        level = found[0] / 100 if found[0] > 1 else found[0]
        below = p["below"] / 100 if p["below"] > 1 else p["below"]
        return level < below, f"{p['attribute']} {level:.0%}"
    if c.kind == "battery_trend":
        days = days_until(series.get(p["attribute"], ()), p["level"])
        if days is None:
            return None, ""
        return days < p["days"], f"{p['attribute']} empty in {days:.0f} days"
    if c.kind == "night_flow":
        recent = [m for _, m in nights[-p["nights"]:]]
        if len(recent) < p["nights"]:
            return None, ""
        return all(m > p["above"] for m in recent), (
            f"night minimum of {p['attribute']} above {p['above']:g} for {p['nights']} nights")
    if c.kind == "lamp_failure":
        state = snap.values.get(p["state"])
        power = snap.number(p["power"])
        if state is None or power is None:
            return None, ""
        on = state[0] in ("on", True, 1)
        return on and power[0] < p["min_power"], f"switched on, {power[0]:g} W"
    if c.kind == "occupied":
        found = snap.number(p["attribute"])
        if found is None:
            return None, ""
        value, at = found
        local = dt.datetime.fromtimestamp((at if at is not None else now_ms) / 1000,
                                          dt.UTC).astimezone(PARIS)
        hour = local.hour + local.minute / 60
        occupied = local.weekday() in p["weekdays"] and any(
            start <= hour < end for start, end in p["hours"])
        return occupied and value > p["above"], f"{p['attribute']} {value:g} during occupancy"
    if c.kind == "codec_errors":
        recent = [v for t, v in series.get(MESSAGES, ()) if t >= now_ms - p["window_s"] * 1000]
        if len(recent) < p["min_messages"]:
            return None, ""
        share = sum(recent) / len(recent)
        return share > p["above"], (
            f"{share:.0%} of {len(recent)} messages not decoded "
            f"(codec error, timeout or out of range) over {p['window_s'] / 3600:g} h")
    raise AssertionError(c.kind)  # compile_rule admits no other kind


def _threshold(p: Mapping[str, Any], snap: Snapshot, active: bool) -> tuple[bool | None, str]:
    found = snap.values.get(p["attribute"])
    if found is None or found[0] is None:
        return None, ""
    value, limit, op = found[0], p["value"], p["op"]
    if isinstance(limit, str | bool) or isinstance(value, str | bool):
        if op not in ("==", "!="):
            return None, ""
        return (value == limit) == (op == "=="), f"{p['attribute']} {op} {limit}"
    assert isinstance(value, int | float)
    hysteresis = float(p["hysteresis"])
    # once raised, the alarm holds until the value is back beyond the hysteresis band
    if active and op in (">", ">="):
        limit = limit - hysteresis
    elif active and op in ("<", "<="):
        limit = limit + hysteresis
    return _OPS[op](float(value), float(limit)), f"{p['attribute']} = {value:g}"


def days_until(points: Sequence[tuple[int, float]], level: float) -> float | None:
    """Least-squares forecast of the days until the series reaches ``level``.

    None when it cannot be told (fewer than 3 points, under a day of data, not
    draining). Levels may be ratios or percentages: ``level`` follows them.
    """
    if len(points) < 3 or points[-1][0] - points[0][0] < 86_400_000:
        return None
    scale = 100.0 if max(v for _, v in points) > 1 else 1.0
    target = level * scale if level <= 1 else level
    t0 = points[0][0]
    xs = [(t - t0) / 86_400_000 for t, _ in points]
    ys = [v for _, v in points]
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return None
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    if slope >= 0:
        return None
    now_value = my + slope * (xs[-1] - mx)
    return max(0.0, (target - now_value) / slope)
