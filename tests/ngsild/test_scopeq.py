"""NGSI-LD scopes and scopeQ: parsing to DNF, matching, scope validation."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bocage.domain.errors import BadRequestData, InvalidRequest
from bocage.ngsild.scopeq import (
    MAX_DEPTH,
    MAX_GROUPS,
    MAX_LENGTH,
    ScopeQ,
    parse_scope_q,
    scope_matches,
    validate_scope,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/a", (("/a",),)),
        ("/FR/01/200071751/01004", (("/FR/01/200071751/01004",),)),
        ("/#", (("/#",),)),
        ("/a/#", (("/a/#",),)),
        ("/a/+/c", (("/a/+/c",),)),
        ("/+", (("/+",),)),
        ("/a;/b", (("/a", "/b"),)),
        ("/a|/b", (("/a",), ("/b",))),
        ("/a,/b", (("/a",), ("/b",))),
        ("/a;/b|/c", (("/a", "/b"), ("/c",))),
        ("(/a;/b)|/c", (("/a", "/b"), ("/c",))),
        ("/a;(/b|/c)", (("/a", "/b"), ("/a", "/c"))),
        ("(/a|/b);(/c|/d)", (("/a", "/c"), ("/a", "/d"), ("/b", "/c"), ("/b", "/d"))),
        ("((/a))", (("/a",),)),
        ("/a;/a", (("/a",),)),
        ("/a|/a", (("/a",),)),
        (" /a ; ( /b | /c ) ", (("/a", "/b"), ("/a", "/c"))),
        ("/Île-de-France/Cœur_95", (("/Île-de-France/Cœur_95",),)),
    ],
)
def test_parse(text: str, expected: ScopeQ) -> None:
    assert parse_scope_q(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "  ",
        "a",
        "/",
        "//a",
        "/a/",
        "/a//b",
        "/a+",
        "/+a",
        "/a/#/b",
        "/#/",
        "/##",
        "/a;",
        ";/a",
        "/a|",
        "/a||/b",
        "(/a",
        "/a)",
        "()",
        "/a /b",
        '/"a"',
        "(" * (MAX_DEPTH + 1) + "/a" + ")" * (MAX_DEPTH + 1),
        "/" + "a" * MAX_LENGTH,
        ";".join(f"(/a{i}|/b{i})" for i in range(9)),  # 2^9 = 512 AND-groups
        "|".join(f"/a{i}" for i in range(MAX_GROUPS + 1)),
    ],
)
def test_invalid(text: str) -> None:
    with pytest.raises(InvalidRequest):
        parse_scope_q(text)


def test_error_names_the_position() -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_scope_q("/a;/b+")
    assert "position 5" in caught.value.detail


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(
        st.text(max_size=40),
        st.lists(st.sampled_from(list("/ab+#;|,() ")), max_size=30).map("".join),
    )
)
def test_fuzz_only_invalid_request(text: str) -> None:
    try:
        parsed = parse_scope_q(text)
    except InvalidRequest:
        return
    assert parsed and all(parsed)
    scope_matches(parsed, ["/a/b", "/a"])


def m(query: str, *scopes: str) -> bool:
    return scope_matches(parse_scope_q(query), list(scopes))


def test_exact_match() -> None:
    assert m("/a/b", "/a/b")
    assert not m("/a/b", "/a")
    assert not m("/a/b", "/a/b/c")
    assert not m("/a/b", "/a/bc")
    assert m("/a/b", "/x", "/a/b")  # any of the entity's scopes


def test_plus_matches_exactly_one_level() -> None:
    assert m("/a/+", "/a/x")
    assert not m("/a/+", "/a")
    assert not m("/a/+", "/a/x/y")
    assert m("/+/b", "/x/b") and not m("/+/b", "/x/c")
    assert m("/+/+/c", "/a/b/c")


def test_hash_matches_any_depth_including_zero() -> None:
    assert m("/a/#", "/a")
    assert m("/a/#", "/a/b")
    assert m("/a/#", "/a/b/c/d")
    assert not m("/a/#", "/ab")
    assert not m("/a/#", "/b/a")
    assert m("/+/#", "/x/y/z")
    assert m("/#", "/anything/at/all")


def test_and_or() -> None:
    assert m("/a;/b", "/a", "/b")
    assert not m("/a;/b", "/a")
    assert m("/a|/b", "/b")
    assert not m("/a|/b", "/c")
    assert m("(/a;/b)|/c", "/c")
    assert m("(/a;/b)|/c", "/b", "/a")
    assert not m("(/a;/b)|/c", "/a")
    assert m("/x/#;/y/+", "/x", "/y/1")


def test_entities_without_scope_match_nothing() -> None:
    assert not m("/#")
    assert not scope_matches(parse_scope_q("/a"), [])


def test_empty_scope_q_means_no_constraint() -> None:
    assert scope_matches((), [])
    assert scope_matches((), ["/a"])


def test_a_lone_string_is_one_scope() -> None:
    assert scope_matches((("/a/#",),), "/a/b")
    assert not scope_matches((("/a/#",),), "/b")


@pytest.mark.parametrize("value", ["/a", "/a/b/c", "/FR/01/200071751/01004", "/x-y_z.1", "/Île"])
def test_valid_scopes(value: str) -> None:
    validate_scope(value)


@pytest.mark.parametrize(
    "value",
    ["", "/", "a", "a/b", "/a/", "//a", "/a//b", "/a/+", "/#", "/a/#", "/a b", "/a;b", "/a|b",
     "/a,b", "/(a)", '/"a"', "/a\n", 5, None, ["/a"]],
)  # fmt: skip
def test_invalid_scopes(value: object) -> None:
    with pytest.raises(BadRequestData):
        validate_scope(value)


def test_valid_scopes_are_matched_by_their_own_query() -> None:
    for scope in ["/a", "/a/b/c", "/FR/01/200071751/01004"]:
        validate_scope(scope)
        assert m(scope, scope)
