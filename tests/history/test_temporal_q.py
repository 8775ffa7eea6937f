"""q over past values, against a brute-force oracle that replays the history instant by instant."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bocage.domain.temporal import History, Record
from bocage.history.temporal_q import history_matches, q_attributes
from bocage.ngsild.q import parse_q

A, B = "https://example.org/a", "https://example.org/b"
T0 = 1_767_225_600_000


def expand(name: str) -> str:
    return f"https://example.org/{name}"


def record(attr: str, t: int, value: Any, dataset: str = "") -> Record:
    instance: dict[str, Any] = {"type": "Property", "value": value}
    if dataset:
        instance["datasetId"] = dataset
    return Record(attr=attr, dataset=dataset, t=t, observed=t, created=t, modified=t,
                  instance=instance)


def history(*records: Record) -> History:
    out: History = {}
    for r in records:
        out.setdefault(r.attr, []).append(r)
    return out


def test_one_attribute_matches_when_some_instance_does() -> None:
    h = history(record(A, T0, 400), record(A, T0 + 1, 1200), record(A, T0 + 2, 500))
    assert history_matches(parse_q("a>1000", expand), h)
    assert not history_matches(parse_q("a>1200", expand), h)
    assert history_matches(parse_q("a==500", expand), h)
    assert not history_matches(parse_q("a>1", expand), {})  # no history: no match


def test_several_attributes_must_hold_together() -> None:
    # a peaks at t0, b rises at t0+2 once a has fallen back: never both
    h = history(record(A, T0, 1200), record(A, T0 + 1, 400), record(B, T0 + 2, 1))
    assert not history_matches(parse_q("a>1000;b>0", expand), h)
    assert history_matches(parse_q("a>1000|b>0", expand), h)
    # b rises while a is still high (a's last value carries forward)
    h = history(record(A, T0, 1200), record(B, T0 + 2, 1), record(A, T0 + 3, 400))
    assert history_matches(parse_q("a>1000;b>0", expand), h)
    # simultaneous instances are applied together
    h = history(record(A, T0, 1200), record(B, T0, 1), record(A, T0 + 1, 0))
    assert history_matches(parse_q("a>1000;b==1", expand), h)


def test_absent_attribute_and_datasets() -> None:
    h = history(record(A, T0, 5))
    assert not history_matches(parse_q("b!=3", expand), h)  # != needs a value
    assert history_matches(parse_q("a;a!=3", expand), h)
    # two datasets of one attribute: each keeps its own latest instance
    h = history(record(A, T0, 1, "urn:d:1"), record(A, T0 + 1, 9, "urn:d:2"),
                record(A, T0 + 2, 2, "urn:d:1"))
    assert history_matches(parse_q("a==9;a==1", expand), h)  # both at t0+1
    assert history_matches(parse_q("a==9;a==2", expand), h)  # both at t0+2


def test_sub_attribute_observed_at_is_the_instance_time() -> None:
    h = history(record(A, T0, 5))
    assert history_matches(parse_q("a.observedAt==2026-01-01T00:00:00Z", expand), h)
    assert not history_matches(parse_q("a.observedAt>2026-01-01T00:00:00Z", expand), h)


def test_q_attributes() -> None:
    assert q_attributes(parse_q("a>1;(b<2|a==3)", expand)) == {A, B}


# ------------------------------------------------------------------ the oracle

OPS: dict[str, Callable[[Any, Any], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le,
    "==": operator.eq, "!=": operator.ne,
}
TERMS = st.tuples(st.sampled_from(["a", "b"]), st.sampled_from(sorted(OPS)),
                  st.integers(0, 10))
EXPRS = st.tuples(TERMS, st.one_of(st.none(), st.tuples(st.sampled_from([";", "|"]), TERMS)))
SERIES = st.lists(st.tuples(st.integers(0, 30), st.integers(0, 10)), max_size=12)


def oracle(expr: Any, series: dict[str, list[tuple[int, int]]]) -> bool:
    """Replay every instant; the latest value of each attribute at that instant."""
    first, rest = expr

    def term(t: tuple[str, str, int], at: int) -> bool:
        name, op, bound = t
        seen = [v for (tt, v) in sorted(series[name], key=lambda p: p[0]) if tt <= at]
        return bool(seen) and OPS[op](seen[-1], bound)

    for at in sorted({t for s in series.values() for t, _ in s}):
        ok = term(first, at)
        if rest is not None:
            glue, second = rest
            ok = (ok and term(second, at)) if glue == ";" else (ok or term(second, at))
        if ok:
            return True
    return False


@given(EXPRS, SERIES, SERIES)
def test_matches_the_oracle(expr: Any, a: list[tuple[int, int]],
                            b: list[tuple[int, int]]) -> None:
    # one value per instant and attribute (a series has distinct times)
    series = {"a": sorted(dict(a).items()), "b": sorted(dict(b).items())}
    h = history(*(record(expand(name), T0 + t, v) for name, s in series.items() for t, v in s))
    first, rest = expr
    text = "".join(map(str, first)) + ("" if rest is None else rest[0] + "".join(map(str, rest[1])))
    assert history_matches(parse_q(text, expand), h) is oracle(expr, series), text
