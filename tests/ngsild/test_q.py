"""The NGSI-LD q language: parser (AST shape, errors, fuzz) and evaluator."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bocage.domain.errors import InvalidRequest
from bocage.domain.query import And, AttrPath, Comparison, Or, QNode, Range
from bocage.ngsild.q import MAX_DEPTH, MAX_LENGTH, compile_q, matches, parse_q

NS = "https://ex.org/"
UTC = dt.UTC


def utc(year: int, month: int, day: int) -> dt.datetime:
    return dt.datetime(year, month, day, tzinfo=UTC)


def expand(term: str) -> str:
    return term if ":" in term else NS + term


def p(text: str) -> QNode:
    return parse_q(text, expand)


def cmp(attr: str, op: Any = None, value: Any = None, sub: Any = (), keys: Any = ()) -> Comparison:
    return Comparison(AttrPath(NS + attr, tuple(sub), tuple(keys)), op, value)


def prop(value: Any, **extra: Any) -> dict[str, Any]:
    return {"type": "Property", "value": value, **extra}


def entity(**attrs: Any) -> dict[str, Any]:
    """An internal entity; each keyword is a short attribute name -> list of instances."""
    found: dict[str, Any] = {"id": "urn:ngsi-ld:T:1", "type": [NS + "T"]}
    for name, instances in attrs.items():
        found[NS + name] = instances if isinstance(instances, list) else [instances]
    return found


def check(q: str, ent: dict[str, Any]) -> bool:
    return matches(p(q), ent)


# ------------------------------------------------------------------ parsing


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("temp", cmp("temp")),
        ("temp==1", cmp("temp", "==", 1)),
        ("temp!=1", cmp("temp", "!=", 1)),
        ("temp>1", cmp("temp", ">", 1)),
        ("temp>=1", cmp("temp", ">=", 1)),
        ("temp<1", cmp("temp", "<", 1)),
        ("temp<=1", cmp("temp", "<=", 1)),
        ("name~=^Bo", cmp("name", "~=", "^Bo")),
        ("name!~=^Bo", cmp("name", "!~=", "^Bo")),
        ("temp==-1.5", cmp("temp", "==", -1.5)),
        ("temp==2.5e3", cmp("temp", "==", 2500.0)),
        ("temp==-7", cmp("temp", "==", -7)),
        ('name=="Bob"', cmp("name", "==", "Bob")),
        ('name=="a\\"b\\\\c\\u00e9\\n"', cmp("name", "==", 'a"b\\cé\n')),
        ('name=="a;b|c)(,"', cmp("name", "==", "a;b|c)(,")),
        ('name==""', cmp("name", "==", "")),
        ("name==Bob", cmp("name", "==", "Bob")),  # lenient: unquoted string
        ("ok==true", cmp("ok", "==", True)),
        ("ok==false", cmp("ok", "==", False)),
        ("rel==urn:ngsi-ld:B:1", cmp("rel", "==", "urn:ngsi-ld:B:1")),
        ("url==http://x.org/a/../b", cmp("url", "==", "http://x.org/a/../b")),
        ("t==12:30:00", cmp("t", "==", "12:30:00")),
        ("d==2024-02-29", cmp("d", "==", dt.datetime(2024, 2, 29, tzinfo=UTC))),
        ("d>2024-01-01T10:00:00Z", cmp("d", ">", dt.datetime(2024, 1, 1, 10, tzinfo=UTC))),
        ("d>2024-01-01T10:00:00", cmp("d", ">", dt.datetime(2024, 1, 1, 10, tzinfo=UTC))),
        ("d<2024-01-01T10:00:00+02:00", cmp("d", "<", dt.datetime(2024, 1, 1, 8, tzinfo=UTC))),
        (
            "d<2024-01-01T10:00:00.250Z",
            cmp("d", "<", dt.datetime(2024, 1, 1, 10, 0, 0, 250_000, UTC)),
        ),
        ("temp==1,2,3", cmp("temp", "==", (1, 2, 3))),
        ('name=="a","b"', cmp("name", "==", ("a", "b"))),
        ("temp!=1,2", cmp("temp", "!=", (1, 2))),
        ("temp==1..5", cmp("temp", "==", Range(1, 5))),
        ("temp==-5.5..-1", cmp("temp", "==", Range(-5.5, -1))),
        ('name=="a".."m"', cmp("name", "==", Range("a", "m"))),
        ("t==08:00..18:00", cmp("t", "==", Range("08:00", "18:00"))),
        (
            "d==2024-01-01T00:00:00Z..2024-02-01",
            cmp("d", "==", Range(utc(2024, 1, 1), utc(2024, 2, 1))),
        ),
        ("temp.accuracy==1", cmp("temp", "==", 1, sub=[NS + "accuracy"])),
        ("temp.a.b", cmp("temp", sub=[NS + "a", NS + "b"])),
        ("temp.observedAt", cmp("temp", sub=["observedAt"])),
        ("temp.unitCode==CEL", cmp("temp", "==", "CEL", sub=["unitCode"])),
        ("temp.a.datasetId==urn:d", cmp("temp", "==", "urn:d", sub=[NS + "a", "datasetId"])),
        ("addr[city]==Paris", cmp("addr", "==", "Paris", keys=["city"])),
        ("addr[a.b]==1", cmp("addr", "==", 1, keys=["a", "b"])),
        ("addr[a][b]==1", cmp("addr", "==", 1, keys=["a", "b"])),
        ("addr.meta[a.b]", cmp("addr", sub=[NS + "meta"], keys=["a", "b"])),
        ("observedAt==1", cmp("observedAt", "==", 1)),  # first segment: a plain attribute
        (" temp == 1 ", cmp("temp", "==", 1)),
    ],
)
def test_parse_terms(text: str, expected: QNode) -> None:
    assert p(text) == expected


def test_full_iri_attribute_names() -> None:
    iri = "https://smartdatamodels.org/dataModel.Waste/fillingLevel"
    assert p(f"{iri}>0.5") == Comparison(AttrPath(iri), ">", 0.5)
    assert p(f"{iri}.observedAt") == Comparison(AttrPath(iri, ("observedAt",)))
    assert p(f"{iri}.{NS}sub") == Comparison(AttrPath(iri, (NS + "sub",)))
    assert p("ex:temp.acc") == Comparison(AttrPath("ex:temp", (NS + "acc",)))


def test_logic_precedence_and_grouping() -> None:
    a, b, c, d = (cmp(x) for x in "abcd")
    assert p("a;b") == And((a, b))
    assert p("a|b") == Or((a, b))
    assert p("a;b|c;d") == Or((And((a, b)), And((c, d))))
    assert p("a|b;c") == Or((a, And((b, c))))
    assert p("(a|b);c") == And((Or((a, b)), c))
    assert p("a;(b|c);d") == And((a, Or((b, c)), d))
    assert p("((a))") == a
    assert p("(a;b);c") == And((a, b, c))  # same-operator nesting is flattened
    assert p("a|(b|c)") == Or((a, b, c))
    assert p("( a ; b ) | c") == Or((And((a, b)), c))


def test_patterns() -> None:
    assert p("n~=(?i)bo(b|x);m") == And((cmp("n", "~=", "(?i)bo(b|x)"), cmp("m")))
    assert p("n~=a|m") == Or((cmp("n", "~=", "a"), cmp("m")))
    assert p("(n~=[)|;]x)") == cmp("n", "~=", "[)|;]x")
    assert p('n~="a;b|c"') == cmp("n", "~=", "a;b|c")
    assert p('n~="\\d+\\"x"') == cmp("n", "~=", '\\d+"x')
    assert p("n~=\\)") == cmp("n", "~=", "\\)")
    assert p("(n~=ab ) ; m") == And((cmp("n", "~=", "ab"), cmp("m")))  # spaces around: noise
    assert p('n~=" ab "') == cmp("n", "~=", " ab ")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "temp=1",
        "temp=<1",
        "temp==",
        "temp==;b",
        "temp==1,",
        "temp==,1",
        "temp==1..",
        "temp==1..x",
        'temp==1.."a"',
        "temp==true..false",
        "temp==1..5..7",
        "temp>true",
        "temp>1,2",
        "temp<1..3",
        "(temp",
        "temp)",
        "()",
        "(temp;)",
        ";temp",
        "temp;",
        "temp|",
        "a||b",
        "a;;b",
        "temp==1 2",
        "temp 1",
        "==1",
        "temp..x",
        ".temp",
        "temp.",
        "temp.observedAt.x",
        "temp.observedAt[k]",
        "temp[",
        "temp[]",
        "temp[a..b]",
        "temp[a]b",
        'name=="abc',
        "name~=",
        'name~="abc',
        "name~=(",
        "name~=a)",
        "name~=*",
        "name~=" + "a" * 2000,
        "d==2024-13-01",
        "d==2024-01-01T25:00:00Z",
        "t==1" + "0" * 5000,
        "(" * (MAX_DEPTH + 1) + "a" + ")" * (MAX_DEPTH + 1),
        "a" * (MAX_LENGTH + 1),
        "name=='x'",
    ],
)
def test_invalid_syntax(text: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        p(text)
    assert "q" in caught.value.detail


def test_error_names_the_position() -> None:
    with pytest.raises(InvalidRequest) as caught:
        p("a==1;b==")
    assert "position 8" in caught.value.detail
    assert caught.value.extra["position"] == 8


def test_max_depth_is_accepted() -> None:
    text = "(" * MAX_DEPTH + "a" + ")" * MAX_DEPTH
    assert p(text) == cmp("a")


def test_expand_failure_is_invalid_request() -> None:
    def strict(term: str) -> str:
        raise KeyError(term)

    with pytest.raises(InvalidRequest):
        parse_q("a==1", strict)


_Q_ALPHABET = st.sampled_from([*'abc.[]()"\\;|,=!<>~ 0123456789-+:TZ/#e', "..", "==", "2024-01"])


@settings(max_examples=600, deadline=None)
@given(st.one_of(st.text(max_size=60), st.lists(_Q_ALPHABET, max_size=40).map("".join)))
def test_fuzz_only_invalid_request(text: str) -> None:
    try:
        node = p(text)
    except InvalidRequest:
        return
    # whatever parses must also evaluate without raising
    matches(node, entity(a=prop(1), b=prop("x"), c=prop({"k": [1, "2"]})))


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=10,
)
_INSTANCE = st.fixed_dictionaries(
    {"type": st.sampled_from(["Property", "Relationship", "LanguageProperty", "VocabProperty",
                              "ListProperty", "ListRelationship", "JsonProperty", "Other"])},
    optional={"value": _JSON, "object": _JSON, "languageMap": _JSON, "vocab": _JSON,
              "valueList": _JSON, "objectList": _JSON, "json": _JSON, "observedAt": _JSON,
              NS + "s": _JSON, "unitCode": _JSON},
)  # fmt: skip
_FUZZ_QUERIES = [
    p(text)
    for text in [
        "a", "a==1", "a!=1", "a>1", "a<=2.5", 'a=="x"', "a==x,1,true", "a==1..3", 'a=="a".."z"',
        "a>2024-01-01", "a==12:00", "a~=x", "a!~=^$", "a.s==1", "a.s", "a.observedAt>2024-01-01",
        "a.unitCode==C", "a[k]==1", "a[k.j]", "a.s[k]!=1", "a==true;a|a!=false",
    ]
]  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.one_of(_INSTANCE, st.lists(_INSTANCE, max_size=3), _JSON))
def test_fuzz_evaluator_never_raises(instances: Any) -> None:
    ent = {"id": "urn:x", "type": [NS + "T"], NS + "a": instances}
    for node in _FUZZ_QUERIES:
        assert matches(node, ent) in (True, False)


# --------------------------------------------------------------- evaluation


def test_numbers() -> None:
    e = entity(temp=prop(21.5))
    assert check("temp==21.5", e)
    assert not check("temp==21", e)
    assert check("temp!=21", e)
    assert not check("temp!=21.5", e)
    assert check("temp>21", e) and check("temp>=21.5", e)
    assert check("temp<22", e) and check("temp<=21.5", e)
    assert not check("temp>21.5", e) and not check("temp<21.5", e)
    assert check("temp==20..22", e) and check("temp==21.5..30", e)
    assert not check("temp==22..30", e)
    assert check("temp==1,21.5,3", e) and not check("temp==1,2", e)
    assert check("temp!=1..5", e) and not check("temp!=20..22", e)
    assert check("temp==21.5", entity(temp=prop(21.5)))
    assert check("n==3", entity(n=prop(3.0)))


def test_strings_and_regex() -> None:
    e = entity(name=prop("Bob"))
    assert check('name=="Bob"', e) and check("name==Bob", e)
    assert check('name=="Al","Bob"', e) and not check('name=="Al","Ann"', e)
    assert check('name>"Al"', e) and check('name<"Carl"', e) and not check('name>"Bz"', e)
    assert check('name=="A".."C"', e)
    assert check("name~=^B.b$", e) and check("name~=o", e)  # re.search semantics
    assert not check("name~=^o", e)
    assert check("name!~=^A", e) and not check("name!~=b$", e)
    assert check("name~=(?i)^bob$", e)


def test_booleans() -> None:
    e = entity(ok=prop(True), count=prop(1))
    assert check("ok==true", e) and not check("ok==false", e)
    assert check("ok!=false", e)
    assert not check("count==true", e)  # 1 is not true
    assert not check("ok==1", e)  # true is not 1
    assert not check("ok>0", e)


def test_datetimes() -> None:
    e = entity(
        seen=prop("2024-05-01T12:00:00Z"),
        typed=prop({"@type": "DateTime", "@value": "2024-05-01T12:00:00+02:00"}),
        day=prop({"@type": "Date", "@value": "2024-05-01"}),
        time=prop({"@type": "Time", "@value": "12:30:00"}),
    )
    assert check("seen==2024-05-01T12:00:00Z", e)
    assert check("seen==2024-05-01T14:00:00+02:00", e)  # same instant
    assert check("seen>2024-05-01T11:59:59Z", e) and not check("seen>2024-05-01T12:00:00Z", e)
    assert check("seen==2024-05-01..2024-05-02", e)
    assert check("typed<2024-05-01T12:00:00Z", e) and check("typed==2024-05-01T10:00:00Z", e)
    assert check("day==2024-05-01", e) and check("day<2024-05-02", e)
    assert check("time==12:30:00", e) and check("time>12:00:00", e)
    assert check("time==08:00:00..18:00:00", e)
    assert check('seen=="2024-05-01T12:00:00Z"', e)  # quoted: plain string compare
    assert not check("seen>2024-05-01T12:00:00.500Z", e)


def test_datetime_versus_non_dates_is_false() -> None:
    e = entity(a=prop("hello"), b=prop(5), c=prop("2024-99-99"), d=prop("1234-not-a-date"))
    for attr in "abcd":
        assert not check(f"{attr}>2000-01-01", e)
        assert not check(f"{attr}==2000-01-01", e)


def test_special_members() -> None:
    e = entity(
        temp=[
            prop(20, observedAt="2024-05-01T12:00:00Z", unitCode="CEL"),
            prop(68, observedAt="2024-05-02T12:00:00Z", unitCode="FAH", datasetId="urn:ds:f"),
        ]
    )
    assert check("temp.observedAt>2024-05-02T00:00:00Z", e)
    assert not check("temp.observedAt>2024-05-03", e)
    assert check("temp.unitCode==FAH", e) and check('temp.unitCode=="CEL"', e)
    assert check("temp.datasetId==urn:ds:f", e)
    assert check("temp.datasetId", e) and not check("temp.createdAt", e)


def test_sub_attributes() -> None:
    acc = {"type": "Property", "value": 0.5, "observedAt": "2024-05-01T12:00:00Z"}
    by = {"type": "Relationship", "object": "urn:ngsi-ld:Sensor:1"}
    e = entity(temp=prop(20, **{NS + "accuracy": acc, NS + "providedBy": by}))
    assert check("temp.accuracy==0.5", e) and check("temp.accuracy<1", e)
    assert check("temp.accuracy.observedAt==2024-05-01T12:00:00Z", e)
    assert check("temp.providedBy==urn:ngsi-ld:Sensor:1", e)
    assert check("temp.accuracy", e) and not check("temp.missing", e)
    assert not check("temp.missing==1", e) and not check("temp.missing!=1", e)


def test_compound_values() -> None:
    address = {
        "city": "Lyon",
        "geo": {"zip": 69001, "tags": ["a", "b"]},
        "lines": [{"n": 1}, {"n": 2}],
    }
    e = entity(addr=prop(address))
    assert check("addr[city]==Lyon", e) and not check("addr[city]==Paris", e)
    assert check("addr[geo.zip]==69001", e) and check("addr[geo][zip]>69000", e)
    assert check("addr[geo.tags]==b", e)  # a list at the end: any element
    assert check("addr[lines.n]==2", e)  # a list on the way: any element
    assert check("addr[geo.zip]", e) and not check("addr[geo.nope]", e)
    assert not check("addr[city.x]==1", e)
    assert not check("addr==Lyon", e)  # the dict itself is not a scalar


def test_multi_instance_attributes() -> None:
    e = entity(temp=[prop(10), prop(30, datasetId="urn:ds:2")])
    assert check("temp==30", e) and check("temp==10", e)
    assert check("temp<15", e) and check("temp>25", e)
    assert not check("temp==20", e)
    assert not check("temp!=30", e)  # one instance equals: not "not equal"
    assert check("temp!=20", e)


def test_array_values() -> None:
    e = entity(tags=prop(["a", "b"]), nums=prop([1, 5, 9]))
    assert check("tags==b", e) and not check("tags==c", e)
    assert check("nums>8", e) and check("nums==4..6", e)
    assert not check("tags!=a", e) and check("tags!=c", e)


def test_relationship() -> None:
    e = entity(
        owner={"type": "Relationship", "object": "urn:ngsi-ld:Person:1"},
        parts={"type": "Relationship", "object": ["urn:p:1", "urn:p:2"]},
    )
    assert check("owner==urn:ngsi-ld:Person:1", e)
    assert check('owner=="urn:ngsi-ld:Person:1"', e)
    assert check("owner~=Person", e)
    assert check("parts==urn:p:2", e) and not check("parts==urn:p:3", e)


def test_language_property() -> None:
    names = {"fr": "Moulin", "en": ["Mill", "Windmill"]}
    e = entity(name={"type": "LanguageProperty", "languageMap": names})
    assert check('name=="Moulin"', e) and check('name=="Mill"', e) and check("name==Windmill", e)
    assert not check('name=="Mühle"', e)
    assert check('name[fr]=="Moulin"', e) and not check('name[en]=="Moulin"', e)
    assert check("name~=^Wind", e)


def test_vocab_property() -> None:
    e = entity(cat={"type": "VocabProperty", "vocab": NS + "commercial"})
    multi = entity(cat={"type": "VocabProperty", "vocab": [NS + "a", "https://o.org/v#b"]})
    assert check(f"cat=={NS}commercial", e)
    assert check("cat==commercial", e)  # a term matches the expanded IRI's last segment
    assert check('cat=="x","commercial"', e)
    assert not check("cat==commerc", e) and not check("cat!=commercial", e)
    assert check("cat==b", multi) and check("cat==a", multi) and not check("cat==c", multi)
    assert not check("name==commercial", entity(name=prop(NS + "commercial")))  # only vocab


def test_list_property_and_list_relationship() -> None:
    e = entity(
        readings={"type": "ListProperty", "valueList": [1, 7, 3]},
        path={"type": "ListRelationship", "objectList": [{"object": "urn:a"}, {"object": "urn:b"}]},
    )
    assert check("readings==7", e) and check("readings>6", e) and not check("readings>7", e)
    assert check("path==urn:b", e) and not check("path==urn:c", e)


def test_json_property() -> None:
    e = entity(raw={"type": "JsonProperty", "json": {"k": "v", "n": [1, 2]}})
    assert check("raw[k]==v", e) and check("raw[n]==2", e)
    assert not check("raw==v", e)
    assert check("raw", e)


def test_missing_attribute_is_always_false() -> None:
    e = entity(temp=prop(1))
    for text in ["nope", "nope==1", "nope!=1", "nope>0", "nope~=.", "nope!~=x", "nope==1..2"]:
        assert not check(text, e), text


def test_type_mismatch_is_false() -> None:
    geo = {"type": "GeoProperty", "value": {"type": "Point"}}
    e = entity(temp=prop(5), name=prop("5"), geo=geo)
    assert not check('temp=="5"', e) and not check("name==5", e)
    assert not check('temp>"4"', e) and not check("name>4", e)
    assert not check("temp~=5", e)  # regex only matches strings
    assert check("temp!~=5", e)  # negation: exists, and nothing matches
    assert check('temp!="5"', e)  # negation of a mismatch
    assert not check("geo==1", e) and check("geo[type]==Point", e)


def test_logic_evaluation() -> None:
    e = entity(a=prop(1), b=prop(2))
    assert check("a==1;b==2", e) and not check("a==1;b==3", e)
    assert check("a==9|b==2", e) and not check("a==9|b==9", e)
    assert check("a==9;b==9|a==1", e)  # AND binds tighter
    assert not check("a==9;(b==9|a==1)", e)
    assert check("(a==9|a==1);(b==2|b==9)", e)


def test_malformed_entities_do_not_raise() -> None:
    node = p("a>1;a.s==1;a[k]==1;a.observedAt>2024-01-01|a~=x|a!=3")
    malformed: list[dict[str, Any]] = [
        {"id": "x", NS + "a": "not a list"},
        {"id": "x", NS + "a": ["str", 1, None]},
        {"id": "x", NS + "a": [{"type": "Property"}]},
        {"id": "x", NS + "a": [{"type": "Unknown", "value": 2, NS + "s": "x"}]},
        {"id": "x", NS + "a": {"type": "Property", "value": 2}},
        {"id": "x", NS + "a": [{"type": "Property", "value": {"@value": None}, "observedAt": 5}]},
    ]
    for bad in malformed:
        matches(node, bad)
    assert matches(p("a>1"), {"id": "x", NS + "a": {"type": "Property", "value": 2}})


def test_hand_built_ast() -> None:
    naive = Comparison(AttrPath(NS + "d"), ">", dt.datetime(2024, 1, 1))
    assert matches(naive, entity(d=prop("2024-06-01T00:00:00Z")))
    bad_regex = Comparison(AttrPath(NS + "n"), "~=", "(")
    assert not matches(bad_regex, entity(n=prop("(")))
    mixed = Comparison(AttrPath(NS + "n"), "==", Range(1, "z"))
    assert not matches(mixed, entity(n=prop(2)))
    ordered_list = Comparison(AttrPath(NS + "n"), ">", (1, 2))
    assert not matches(ordered_list, entity(n=prop(2)))


def test_compile_q_and_cache_identity() -> None:
    node = p("temp>20")
    run = compile_q(node)
    assert run(entity(temp=prop(25))) and not run(entity(temp=prop(15)))
    # equal but distinct nodes are each evaluated correctly
    assert matches(p("temp>20"), entity(temp=prop(25)))
    assert not matches(p("temp>30"), entity(temp=prop(25)))
