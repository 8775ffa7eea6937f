"""Tests of bocage.ngsild.geo: parsing, validation, bounding boxes, evaluation."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bocage.domain.errors import BadRequestData, InvalidRequest
from bocage.domain.query import GeoQuery
from bocage.ngsild.geo import (
    EARTH_RADIUS_M,
    distance_m,
    geo_matches,
    geometry_bbox,
    parse_geoq,
    query_bbox,
    validate_geometry,
)

LOC = "https://uri.etsi.org/ngsi-ld/location"
M_PER_DEG = EARTH_RADIUS_M * math.pi / 180

# Town centres (lon, lat)
LYON = (4.8357, 45.7640)
PARIS = (2.3522, 48.8566)
VILLEURBANNE = (4.8798, 45.7719)
BOURG = (5.2258, 46.2052)  # Bourg-en-Bresse, ~58 km from Lyon
MARSEILLE = (5.3698, 43.2965)

SQUARE = [[[4.0, 45.0], [5.0, 45.0], [5.0, 46.0], [4.0, 46.0], [4.0, 45.0]]]
HOLE = [[4.4, 45.4], [4.6, 45.4], [4.6, 45.6], [4.4, 45.6], [4.4, 45.4]]


def point(lon: float, lat: float) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [lon, lat]}


def entity(*geometries: dict[str, Any], attr: str = LOC) -> dict[str, Any]:
    insts = [
        {"type": "GeoProperty", "value": g, **({"datasetId": f"urn:ds:{i}"} if i else {})}
        for i, g in enumerate(geometries)
    ]
    return {"id": "urn:ngsi-ld:T:1", "type": ["https://ex.org/T"], attr: insts}


def q(georel: str, geometry: str, coords: Any, prop: str = LOC) -> GeoQuery:
    gq = parse_geoq(georel, geometry, json.dumps(coords), prop)
    assert gq is not None
    return gq


def north_of(lon: float, lat: float, metres: float) -> tuple[float, float]:
    return lon, lat + metres / M_PER_DEG


def destination(lon: float, lat: float, metres: float, bearing: float) -> tuple[float, float]:
    """Point reached from (lon, lat) after `metres` along a great circle."""
    d, th = metres / EARTH_RADIUS_M, math.radians(bearing)
    p1, l1 = math.radians(lat), math.radians(lon)
    p2 = math.asin(
        max(-1.0, min(1.0, math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(th)))
    )
    l2 = l1 + math.atan2(
        math.sin(th) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * math.sin(p2)
    )
    lon2 = (math.degrees(l2) + 180.0) % 360.0 - 180.0
    return lon2, math.degrees(p2)


# ---------------------------------------------------------------- parse_geoq


def test_all_absent_is_none() -> None:
    assert parse_geoq(None, None, None, LOC) is None


def test_parse_near_max() -> None:
    gq = parse_geoq("near;maxDistance==2000", "Point", "[8.0,40.0]", LOC)
    assert gq == GeoQuery("near", {"type": "Point", "coordinates": [8.0, 40.0]}, LOC, 2000.0)


def test_parse_near_min_and_both_with_spaces() -> None:
    gq = q("near;minDistance==100", "Point", [8, 40])
    assert (gq.min_distance, gq.max_distance) == (100.0, None)
    gq = q(" near ; maxDistance==2.5e3 ; minDistance==0 ", "Point", [8, 40])
    assert (gq.min_distance, gq.max_distance) == (0.0, 2500.0)


def test_parse_coordinates_as_list_from_json_body() -> None:
    gq = parse_geoq("within", "Polygon", SQUARE, "https://ex.org/area")
    assert gq is not None
    assert gq.geometry == {"type": "Polygon", "coordinates": SQUARE}
    assert gq.geoproperty == "https://ex.org/area"


@pytest.mark.parametrize(
    "georel", ["within", "contains", "intersects", "equals", "disjoint", "overlaps"]
)
def test_parse_every_georel(georel: str) -> None:
    gq = q(georel, "Polygon", SQUARE)
    assert gq.georel == georel and gq.max_distance is None and gq.min_distance is None


VALID_QUERY_GEOMETRIES: list[tuple[str, Any]] = [
    ("Point", [8, 40]),
    ("MultiPoint", [[8, 40], [9, 41]]),
    ("LineString", [[8, 40], [9, 41]]),
    ("MultiLineString", [[[8, 40], [9, 41]], [[0, 0], [1, 1], [2, 0]]]),
    ("Polygon", [*SQUARE, HOLE]),
    ("MultiPolygon", [SQUARE, [[[0, 0], [1, 0], [1, 1], [0, 0]]]]),
]


@pytest.mark.parametrize(("geometry", "coords"), VALID_QUERY_GEOMETRIES)
def test_parse_every_geometry(geometry: str, coords: Any) -> None:
    gq = q("intersects", geometry, coords)
    assert gq.geometry == {"type": geometry, "coordinates": coords}


def test_parse_keeps_ints_and_altitude() -> None:
    gq = q("near;maxDistance==1", "Point", [8, 40, 120])
    assert gq.geometry["coordinates"] == [8, 40, 120]
    coords = gq.geometry["coordinates"]
    assert isinstance(coords, list) and all(type(n) is int for n in coords)


BAD_QUERIES: list[tuple[Any, Any, Any, str]] = [
    ("within", None, "[8,40]", "geometry missing"),
    ("within", "Point", None, "coordinates missing"),
    (None, "Point", "[8,40]", "georel missing"),
    ("", "Point", "[8,40]", "georel missing"),
    ("inside", "Point", "[8,40]", "unknown georel"),
    ("Within", "Point", "[8,40]", "unknown georel"),
    ("within;maxDistance==3", "Point", "[8,40]", "takes no modifier"),
    ("near", "Point", "[8,40]", "needs maxDistance"),
    ("near;", "Point", "[8,40]", "invalid near modifier"),
    ("near;maxDistance=10", "Point", "[8,40]", "invalid near modifier"),
    ("near;maxDistance:10", "Point", "[8,40]", "invalid near modifier"),
    ("near;maxDistance==-1", "Point", "[8,40]", "invalid near modifier"),
    ("near;maxDistance==abc", "Point", "[8,40]", "invalid near modifier"),
    ("near;maxDistance==inf", "Point", "[8,40]", "invalid near modifier"),
    ("near;maxDistance==1e999", "Point", "[8,40]", "not a finite number"),
    ("near;maxDistance==1;maxDistance==2", "Point", "[8,40]", "twice"),
    ("near;maxDistance==10;minDistance==20", "Point", "[8,40]", "greater than"),
    ("near;maxDistance==10", "Polygon", json.dumps(SQUARE), "needs a Point"),
    ("within", "Circle", "[8,40]", "unsupported geometry"),
    ("within", "point", "[8,40]", "unsupported geometry"),
    ("within", "GeometryCollection", "[]", "unsupported geometry"),
    ("within", "Point", "[[8,40]]", "position must be"),
    ("within", "Point", "[8]", "position must be"),
    ("within", "Point", "[8,40,1,2]", "position must be"),
    ("within", "Point", '["8",40]', "not a finite number"),
    ("within", "Point", "[true,40]", "not a finite number"),
    ("within", "Point", "[8,NaN]", "not a finite number"),
    ("within", "Point", "[200,40]", "longitude 200"),
    ("within", "Point", "[-180.5,40]", "longitude"),
    ("within", "Point", "[8,95]", "latitude 95"),
    ("within", "Point", "5", "position must be"),
    ("within", "Point", '{"type":"Point"}', "position must be"),
    ("within", "MultiPoint", "[]", "at least 1"),
    ("within", "MultiPoint", "[8,40]", "wrong nesting"),
    ("within", "LineString", "[[8,40]]", "at least 2"),
    ("within", "MultiLineString", "[[8,40],[9,41]]", "wrong nesting"),
    ("within", "Polygon", "[[[8,40],[9,40],[9,41],[8,41]]]", "not closed"),
    ("within", "Polygon", "[[[8,40],[9,40],[8,40]]]", "at least 4"),
    ("within", "Polygon", json.dumps(SQUARE[0]), "wrong nesting"),
    ("within", "MultiPolygon", json.dumps(SQUARE), "wrong nesting"),
    ("within", "Polygon", [[[8, 40], [9, 40], [9, 41], [8, 40]], []], "at least 4"),
]


@pytest.mark.parametrize(("georel", "geometry", "coords", "detail"), BAD_QUERIES)
def test_bad_queries(georel: Any, geometry: Any, coords: Any, detail: str) -> None:
    with pytest.raises(BadRequestData) as err:
        parse_geoq(georel, geometry, coords, LOC)
    assert detail in err.value.detail


@pytest.mark.parametrize(
    "coords", ["[8,40", "8,40", "[8;40]", "[" * 100_000, "[" + "9" * 5000 + ",1]", "[8,40]x"]
)
def test_unparsable_coordinates(coords: str) -> None:
    with pytest.raises(InvalidRequest, match="coordinates is not valid JSON"):
        parse_geoq("within", "Point", coords, LOC)


def test_error_path_in_detail() -> None:
    bad = [[[4, 45], [5, 45], [5, 146], [4, 45]]]
    with pytest.raises(BadRequestData, match=r"coordinates\[0\]\[2\]: latitude 146"):
        parse_geoq("within", "Polygon", bad, LOC)


_json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-400, 400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5),
)
_json = st.recursive(_json_leaf, lambda kids: st.lists(kids, max_size=5), max_leaves=30)
_georels = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["near", "within", "disjoint", "overlaps"]).flatmap(
        lambda rel: st.lists(
            st.one_of(
                st.text(max_size=12),
                st.builds(
                    "{}=={}".format,
                    st.sampled_from(["maxDistance", "minDistance"]),
                    st.one_of(st.text(max_size=8), st.floats().map(str), st.integers().map(str)),
                ),
            ),
            max_size=3,
        ).map(lambda mods: ";".join([rel, *mods]))
    ),
)
_geometries = st.one_of(st.none(), st.text(max_size=12), st.sampled_from(["Point", "Polygon"]))
_coordinates = st.one_of(st.none(), st.text(max_size=40), _json, _json.map(json.dumps))


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(
    georel=st.one_of(st.none(), _georels), geometry=_geometries, coordinates=_coordinates
)
def test_fuzz_parse_geoq_only_raises_client_errors(
    georel: str | None, geometry: str | None, coordinates: Any
) -> None:
    try:
        gq = parse_geoq(georel, geometry, coordinates, LOC)
    except (BadRequestData, InvalidRequest) as exc:
        assert exc.detail
        return
    if gq is not None:  # whatever parses can be evaluated and boxed without crashing
        query_bbox(gq)
        geo_matches(gq, entity(point(8, 40)))


# --------------------------------------------------------- validate_geometry

VALID_GEOMETRIES: list[dict[str, Any]] = [
    {"type": t, "coordinates": c} for t, c in VALID_QUERY_GEOMETRIES
] + [
    {
        "type": "GeometryCollection",
        "geometries": [
            point(1, 2),
            {"type": "GeometryCollection", "geometries": [{"type": "LineString",
                                                           "coordinates": [[0, 0], [1, 1]]}]},
        ],
    }
]


@pytest.mark.parametrize("geometry", VALID_GEOMETRIES, ids=lambda g: g["type"])
def test_validate_valid(geometry: dict[str, Any]) -> None:
    assert validate_geometry(geometry) == geometry


def test_validate_normalises() -> None:
    out = validate_geometry(
        {"type": "Point", "coordinates": (8, 40.5), "bbox": [8, 40.5, 8, 40.5], "crs": {}}
    )
    assert out == {"type": "Point", "coordinates": [8, 40.5], "bbox": [8, 40.5, 8, 40.5]}
    assert type(out["coordinates"][0]) is int


def _nested(depth: int) -> dict[str, Any]:
    g: dict[str, Any] = point(0, 0)
    for _ in range(depth):
        g = {"type": "GeometryCollection", "geometries": [g]}
    return g


@pytest.mark.parametrize(
    ("value", "detail"),
    [
        ([8, 40], "must be an object"),
        ("POINT(8 40)", "must be an object"),
        ({"coordinates": [8, 40]}, "not a GeoJSON geometry type"),
        ({"type": "Feature", "geometry": point(8, 40)}, "'Feature' is not a GeoJSON"),
        ({"type": "Point"}, "Point without coordinates"),
        ({"type": "Point", "coordinates": [8, 40, 1, 2]}, "position must be"),
        ({"type": "Point", "coordinates": [181, 40]}, "longitude 181"),
        ({"type": "Point", "coordinates": [8, -91]}, "latitude -91"),
        ({"type": "Point", "coordinates": [8, None]}, "None is not a finite number"),
        ({"type": "Point", "coordinates": [8, float("inf")]}, "not a finite number"),
        ({"type": "LineString", "coordinates": [[8, 40]]}, "at least 2 positions"),
        ({"type": "Polygon", "coordinates": [[[8, 40], [9, 40], [9, 41], [8, 41]]]}, "not closed"),
        ({"type": "Polygon", "coordinates": []}, "at least 1 linear rings"),
        ({"type": "GeometryCollection"}, "geometries: expected an array"),
        ({"type": "GeometryCollection", "geometries": []}, "at least 1 geometries"),
        ({"type": "GeometryCollection", "geometries": [{"type": "Point"}]}, "geometries[0]"),
        (_nested(9), "nested too deeply"),
        ({"type": "Point", "coordinates": [8, 40], "bbox": [1, 2]}, "bbox"),
        ({"type": "Point", "coordinates": [8, 40], "bbox": [1, 2, 3, "4"]}, "bbox"),
    ],
)
def test_validate_invalid(value: object, detail: str) -> None:
    with pytest.raises(BadRequestData) as err:
        validate_geometry(value)
    assert detail in err.value.detail


def test_validate_accepts_self_intersecting_polygon() -> None:
    bowtie = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}
    assert validate_geometry(bowtie) == bowtie


def test_validate_deep_collection_limit_ok() -> None:
    assert validate_geometry(_nested(8)) == _nested(8)


# -------------------------------------------------------------- geometry_bbox


@pytest.mark.parametrize(
    ("geometry", "bbox"),
    [
        (point(8, 40), (8, 40, 8, 40)),
        ({"type": "Point", "coordinates": [8, 40, 300]}, (8, 40, 8, 40)),
        ({"type": "MultiPoint", "coordinates": [[8, 40], [-9, 41]]}, (-9, 40, 8, 41)),
        ({"type": "LineString", "coordinates": [[8, 40], [9, 39]]}, (8, 39, 9, 40)),
        ({"type": "Polygon", "coordinates": [*SQUARE, HOLE]}, (4, 45, 5, 46)),
        (
            {"type": "MultiPolygon", "coordinates": [SQUARE, [[[0, 0], [1, 0], [1, 1], [0, 0]]]]},
            (0, 0, 5, 46),
        ),
        (
            {"type": "MultiLineString", "coordinates": [[[8, 40], [9, 41]], [[-1, 0], [1, 1]]]},
            (-1, 0, 9, 41),
        ),
        (
            {"type": "GeometryCollection", "geometries": [point(1, 2), _nested(3), point(-5, 7)]},
            (-5, 0, 1, 7),
        ),
    ],
)
def test_geometry_bbox(geometry: dict[str, Any], bbox: tuple[float, ...]) -> None:
    got = geometry_bbox(geometry)
    assert got == bbox and all(type(v) is float for v in got)


# ------------------------------------------------------------------ distance


def test_distance_known_figures() -> None:
    # Paris - Lyon is about 392 km as the crow flies
    assert distance_m(*PARIS, *LYON) == pytest.approx(392_000, rel=0.005)
    # Paris - Marseille about 660 km
    assert distance_m(*PARIS, *MARSEILLE) == pytest.approx(660_500, rel=0.005)
    # exact figures on the sphere
    assert distance_m(0, 0, 0, 1) == pytest.approx(M_PER_DEG, rel=1e-12)
    assert distance_m(0, 0, 1, 0) == pytest.approx(M_PER_DEG, rel=1e-12)
    assert distance_m(0, 0, 0, 90) == pytest.approx(math.pi * EARTH_RADIUS_M / 2, rel=1e-12)
    assert distance_m(0, 0, 180, 0) == pytest.approx(math.pi * EARTH_RADIUS_M, rel=1e-12)
    assert distance_m(179.9, 0, -179.9, 0) == pytest.approx(0.2 * M_PER_DEG, rel=1e-9)
    assert distance_m(*LYON, *LYON) == 0.0
    assert distance_m(*PARIS, *LYON) == distance_m(*LYON, *PARIS)


@settings(max_examples=200)
@given(
    st.floats(-180, 180), st.floats(-89, 89), st.floats(1, 1e6), st.floats(0, 360)
)
def test_distance_matches_destination(lon: float, lat: float, d: float, brg: float) -> None:
    assert distance_m(lon, lat, *destination(lon, lat, d, brg)) == pytest.approx(d, rel=1e-6)


# ------------------------------------------------------------------ geo_matches: near


def test_near_towns() -> None:
    near10 = q("near;maxDistance==10000", "Point", list(LYON))
    assert geo_matches(near10, entity(point(*VILLEURBANNE)))  # ~3.6 km
    assert not geo_matches(near10, entity(point(*BOURG)))  # ~55 km
    assert not geo_matches(near10, entity(point(*north_of(*LYON, 80_000))))
    assert geo_matches(q("near;maxDistance==400000", "Point", list(LYON)), entity(point(*PARIS)))
    assert not geo_matches(q("near;minDistance==10000", "Point", list(LYON)),
                           entity(point(*VILLEURBANNE)))
    assert geo_matches(q("near;minDistance==10000", "Point", list(LYON)), entity(point(*BOURG)))
    between = q("near;minDistance==10000;maxDistance==100000", "Point", list(LYON))
    assert geo_matches(between, entity(point(*BOURG)))
    assert not geo_matches(between, entity(point(*PARIS)))
    assert not geo_matches(between, entity(point(*VILLEURBANNE)))


def test_near_bounds_are_inclusive() -> None:
    d = distance_m(*LYON, *BOURG)
    e = entity(point(*BOURG))
    assert geo_matches(GeoQuery("near", point(*LYON), LOC, max_distance=d), e)
    assert not geo_matches(GeoQuery("near", point(*LYON), LOC, max_distance=d * (1 - 1e-9)), e)
    assert geo_matches(GeoQuery("near", point(*LYON), LOC, min_distance=d), e)
    assert not geo_matches(GeoQuery("near", point(*LYON), LOC, min_distance=d * (1 + 1e-9)), e)
    assert geo_matches(GeoQuery("near", point(*LYON), LOC, max_distance=0), entity(point(*LYON)))


def test_near_across_antimeridian() -> None:
    gq = q("near;maxDistance==30000", "Point", [179.9, -17.0])
    assert geo_matches(gq, entity(point(-179.9, -17.0)))  # ~21 km
    box = query_bbox(gq)
    assert box is not None and box[0] == -180.0 and box[2] == 180.0


def test_near_multipoint_is_nearest_point() -> None:
    gq = q("near;maxDistance==10000", "Point", list(LYON))
    assert geo_matches(gq, entity({"type": "MultiPoint", "coordinates": [PARIS, VILLEURBANNE]}))
    assert not geo_matches(gq, entity({"type": "MultiPoint", "coordinates": [PARIS, BOURG]}))


def _meridian_line(lon: float, lat: float, metres_east: float) -> dict[str, Any]:
    x = lon + metres_east / (M_PER_DEG * math.cos(math.radians(lat)))
    return {"type": "LineString", "coordinates": [[x, lat - 0.5], [x, lat + 0.5]]}


@pytest.mark.parametrize("lat", [0.0, 45.764, 70.0])
def test_near_line_distance(lat: float) -> None:
    line = entity(_meridian_line(4.8357, lat, 1000.0))
    assert geo_matches(q("near;maxDistance==1010", "Point", [4.8357, lat]), line)
    assert not geo_matches(q("near;maxDistance==990", "Point", [4.8357, lat]), line)
    assert geo_matches(q("near;minDistance==990", "Point", [4.8357, lat]), line)
    assert not geo_matches(q("near;minDistance==1010", "Point", [4.8357, lat]), line)


def test_near_far_line_within_one_percent() -> None:
    # a line 300 km east of Lyon: equirectangular error must stay well under 1 %
    line = entity(_meridian_line(*LYON, 300_000.0))
    assert geo_matches(q("near;maxDistance==301500", "Point", list(LYON)), line)
    assert not geo_matches(q("near;maxDistance==298500", "Point", list(LYON)), line)


def test_near_polygon_inside_hole_and_outside() -> None:
    poly = entity({"type": "Polygon", "coordinates": [*SQUARE, HOLE]})
    inside = [4.2, 45.2]
    assert geo_matches(q("near;maxDistance==0", "Point", inside), poly)
    assert not geo_matches(q("near;minDistance==1", "Point", inside), poly)
    # centre of the hole (4.5, 45.5): nearest boundary is 0.1 deg of latitude away
    # north/south or 0.1 deg of longitude east/west (shorter, by cos(lat))
    d = 0.1 * M_PER_DEG * math.cos(math.radians(45.5))
    assert geo_matches(q(f"near;maxDistance=={d * 1.005}", "Point", [4.5, 45.5]), poly)
    assert not geo_matches(q(f"near;maxDistance=={d * 0.995}", "Point", [4.5, 45.5]), poly)
    # 0.5 deg west of the square
    d = distance_m(3.5, 45.5, 4.0, 45.5)
    assert geo_matches(q(f"near;maxDistance=={d * 1.005}", "Point", [3.5, 45.5]), poly)
    assert not geo_matches(q(f"near;maxDistance=={d * 0.995}", "Point", [3.5, 45.5]), poly)


def test_near_at_pole() -> None:
    gq = q("near;maxDistance==200000", "Point", [0, 90])
    assert geo_matches(gq, entity(point(123, 89)))
    assert not geo_matches(gq, entity(point(0, 88)))
    ring = {"type": "LineString", "coordinates": [[-170, 89], [170, 89]]}
    assert geo_matches(gq, entity(ring))
    box = query_bbox(gq)
    assert box is not None and (box[0], box[2], box[3]) == (-180.0, 180.0, 90.0)
    assert box[1] == pytest.approx(90 - 200 / 111.195, rel=1e-3)


# ------------------------------------------------------ geo_matches: relations

POLY = {"type": "Polygon", "coordinates": [*SQUARE, HOLE]}
INNER = {"type": "Polygon", "coordinates": [[[4.1, 45.1], [4.3, 45.1], [4.3, 45.3], [4.1, 45.1]]]}
OVERLAPPING = {"type": "Polygon", "coordinates": [[[4.8, 45.8], [5.5, 45.8], [5.5, 46.5],
                                                   [4.8, 46.5], [4.8, 45.8]]]}
FAR = {"type": "Polygon", "coordinates": [[[10, 10], [11, 10], [11, 11], [10, 10]]]}
SQUARE_GEOM = {"type": "Polygon", "coordinates": SQUARE}
CROSSING = {"type": "LineString", "coordinates": [[3.5, 45.2], [5.5, 45.2]]}

RELATIONS: list[tuple[str, dict[str, Any], dict[str, Any], bool]] = [
    # (georel, query geometry, entity geometry, expected)
    ("within", POLY, point(4.2, 45.2), True),
    ("within", POLY, point(4.5, 45.5), False),  # in the hole
    ("within", POLY, point(4.0, 45.5), False),  # on the boundary: not in the interior
    ("within", POLY, point(8, 40), False),
    ("within", POLY, INNER, True),
    ("within", POLY, OVERLAPPING, False),
    ("within", INNER, POLY, False),
    ("within", {"type": "MultiPolygon", "coordinates": [SQUARE, FAR["coordinates"]]},
     {"type": "MultiPoint", "coordinates": [[4.5, 45.5], [10.5, 10.2]]}, True),
    ("contains", point(4.2, 45.2), POLY, True),
    ("contains", point(4.5, 45.5), POLY, False),
    ("contains", INNER, POLY, True),
    ("contains", POLY, INNER, False),
    ("contains", POLY, point(4.2, 45.2), False),
    ("contains", {"type": "LineString", "coordinates": [[4.1, 45.1], [4.2, 45.2]]}, INNER, False),
    ("intersects", POLY, point(4.0, 45.5), True),  # boundary counts
    ("intersects", POLY, point(4.5, 45.5), False),
    ("intersects", POLY, CROSSING, True),
    ("intersects", POLY, FAR, False),
    ("intersects", CROSSING, POLY, True),
    ("intersects", {"type": "MultiLineString",
                    "coordinates": [[[0, 0], [1, 1]], [[4.5, 44], [4.5, 47]]]}, POLY, True),
    ("equals", POLY, POLY, True),
    ("equals", SQUARE_GEOM,
     {"type": "Polygon", "coordinates": [[[5, 46], [4, 46], [4, 45], [5, 45], [5, 46]]]}, True),
    ("equals", point(8, 40), point(8.0, 40.0), True),
    ("equals", point(8, 40), point(8, 40.000001), False),
    ("equals", POLY, SQUARE_GEOM, False),
    ("disjoint", POLY, FAR, True),
    ("disjoint", POLY, point(4.5, 45.5), True),
    ("disjoint", POLY, point(4.2, 45.2), False),
    ("disjoint", POLY, CROSSING, False),
    ("overlaps", POLY, OVERLAPPING, True),
    ("overlaps", POLY, INNER, False),  # containment is not overlap
    ("overlaps", POLY, FAR, False),
    ("overlaps", POLY, CROSSING, False),  # different dimensions
    ("overlaps", {"type": "LineString", "coordinates": [[0, 0], [2, 0]]},
     {"type": "LineString", "coordinates": [[1, 0], [3, 0]]}, True),
    ("overlaps", {"type": "MultiPoint", "coordinates": [[0, 0], [1, 1]]},
     {"type": "MultiPoint", "coordinates": [[1, 1], [2, 2]]}, True),
    ("within", POLY, {"type": "GeometryCollection", "geometries": [point(4.2, 45.2), INNER]},
     True),
    ("intersects", POLY, {"type": "GeometryCollection", "geometries": [FAR, point(4.2, 45.2)]},
     True),
]


@pytest.mark.parametrize(("georel", "query", "geometry", "expected"), RELATIONS)
def test_relations(
    georel: str, query: dict[str, Any], geometry: dict[str, Any], expected: bool
) -> None:
    gq = q(georel, query["type"], query["coordinates"])
    assert geo_matches(gq, entity(geometry)) is expected
    box = query_bbox(gq)
    if expected and box is not None:  # the prefilter never drops a match
        x0, y0, x1, y1 = geometry_bbox(geometry)
        assert x0 <= box[2] and box[0] <= x1 and y0 <= box[3] and box[1] <= y1


def test_multi_instance_any_matches() -> None:
    gq = q("near;maxDistance==10000", "Point", list(LYON))
    assert geo_matches(gq, entity(point(*PARIS), point(*VILLEURBANNE)))
    assert not geo_matches(gq, entity(point(*PARIS), point(*BOURG)))
    within = q("within", "Polygon", SQUARE)
    assert geo_matches(within, entity(point(8, 40), point(4.5, 45.5)))


def test_missing_or_unusable_attribute() -> None:
    gq = q("near;maxDistance==10000", "Point", list(LYON))
    assert not geo_matches(gq, {"id": "urn:x", "type": ["T"]})
    assert not geo_matches(gq, entity(point(*LYON), attr="https://ex.org/other"))
    assert not geo_matches(gq, {"id": "urn:x", LOC: []})
    as_property = {"id": "urn:x", LOC: [{"type": "Property", "value": point(*LYON)}]}
    assert not geo_matches(gq, as_property)
    for corrupt in (None, 3, {"type": "Point"}, {"type": "Point", "coordinates": ["a", 1]},
                    {"type": "Nope", "coordinates": []}, {"type": "LineString", "coordinates": 5}):
        assert not geo_matches(gq, {"id": "urn:x", LOC: [{"type": "GeoProperty",
                                                          "value": corrupt}]})
        assert not geo_matches(q("within", "Polygon", SQUARE),
                               {"id": "urn:x", LOC: [{"type": "GeoProperty", "value": corrupt}]})


def test_other_geoproperty() -> None:
    prop = "https://ex.org/observationSpace"
    gq = q("within", "Polygon", SQUARE, prop)
    e = entity(point(4.2, 45.2), attr=prop)
    e[LOC] = [{"type": "GeoProperty", "value": point(8, 40)}]
    assert geo_matches(gq, e)
    assert not geo_matches(q("within", "Polygon", SQUARE), e)


def test_invalid_geometries_do_not_raise() -> None:
    bowtie = {"type": "Polygon", "coordinates": [[[4, 45], [5, 46], [5, 45], [4, 46], [4, 45]]]}
    assert geo_matches(q("intersects", "Polygon", bowtie["coordinates"]), entity(point(4.1, 45.5)))
    for rel in ("within", "contains", "intersects", "equals", "disjoint", "overlaps"):
        geo_matches(q(rel, "Polygon", SQUARE), entity(bowtie))
        geo_matches(q(rel, "Polygon", bowtie["coordinates"]), entity(bowtie))


def test_distinct_queries_are_not_confused_by_the_cache() -> None:
    e = entity(point(*VILLEURBANNE))
    for _ in range(3):
        for metres, expected in ((1000, False), (10000, True)):
            assert geo_matches(q(f"near;maxDistance=={metres}", "Point", list(LYON)), e) is expected


def test_hand_built_geoquery_is_validated() -> None:
    bad = GeoQuery("within", {"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]}, LOC)
    with pytest.raises(BadRequestData):
        geo_matches(bad, entity(point(0, 0)))


# ---------------------------------------------------------------- query_bbox


def test_query_bbox_simple_cases() -> None:
    assert query_bbox(q("disjoint", "Polygon", SQUARE)) is None
    assert query_bbox(q("near;minDistance==5", "Point", [8, 40])) is None
    for rel in ("within", "contains", "intersects", "equals", "overlaps"):
        assert query_bbox(q(rel, "Polygon", SQUARE)) == (4.0, 45.0, 5.0, 46.0)
    assert query_bbox(q("near;maxDistance==0", "Point", [8, 40])) == pytest.approx(
        (8, 40, 8, 40), abs=1e-5
    )
    assert query_bbox(q("near;maxDistance==20000000", "Point", [8, 40])) == (-180, -90, 180, 90)
    box = query_bbox(q("near;maxDistance==10000", "Point", list(LYON)))
    assert box is not None
    # about 0.09 deg of latitude and 0.129 deg of longitude each way at 45.8 N
    assert box[3] - LYON[1] == pytest.approx(10 / 111.195, rel=0.002)
    assert box[2] - LYON[0] == pytest.approx(10 / (111.195 * math.cos(math.radians(45.764))),
                                             rel=0.003)


@settings(max_examples=1500)
@given(
    lon=st.floats(-180, 180),
    lat=st.floats(-90, 90),
    metres=st.one_of(st.floats(0, 25_000_000), st.floats(0, 50_000)),
    bearing=st.floats(0, 360),
    fraction=st.floats(0, 1),
)
def test_every_point_within_max_distance_is_in_query_bbox(
    lon: float, lat: float, metres: float, bearing: float, fraction: float
) -> None:
    gq = GeoQuery("near", point(lon, lat), LOC, max_distance=metres)
    box = query_bbox(gq)
    assert box is not None
    x0, y0, x1, y1 = box
    assert -180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90
    d = min(metres * fraction, math.pi * EARTH_RADIUS_M)
    plon, plat = destination(lon, lat, d, bearing)
    assert x0 <= plon <= x1 and y0 <= plat <= y1
    if d < metres * (1 - 1e-6) - 0.01:  # the destination is computed to ~mm only
        assert geo_matches(gq, entity(point(plon, plat)))


@settings(max_examples=300)
@given(
    lon=st.floats(-170, 170),
    lat=st.floats(-85, 85),
    metres=st.floats(1, 2_000_000),
    bearing=st.floats(0, 360),
    fraction=st.floats(0, 1.5),
)
def test_near_matching_lines_intersect_query_bbox(
    lon: float, lat: float, metres: float, bearing: float, fraction: float
) -> None:
    a = destination(lon, lat, metres * fraction, bearing)
    b = destination(lon, lat, metres * fraction, bearing + 90)
    line = {"type": "LineString", "coordinates": [list(a), list(b)]}
    gq = GeoQuery("near", point(lon, lat), LOC, max_distance=metres)
    box = query_bbox(gq)
    assert box is not None
    if geo_matches(gq, entity(line)) and abs(a[0] - b[0]) < 180:
        x0, y0, x1, y1 = geometry_bbox(line)
        assert x0 <= box[2] and box[0] <= x1 and y0 <= box[3] and box[1] <= y1


def test_shared_query_across_threads() -> None:
    # one GeoQuery (a subscription's, say) evaluated by several worker threads
    from concurrent.futures import ThreadPoolExecutor

    ring = [[4 + math.cos(t / 100) * 0.5, 45 + math.sin(t / 100) * 0.5] for t in range(629)]
    gq = q("within", "Polygon", [[*ring, ring[0]]])
    inside, outside = entity(point(4.1, 45.1)), entity(point(4.6, 45.6))

    def work(i: int) -> bool:
        return geo_matches(gq, inside if i % 2 else outside) is bool(i % 2)

    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(work, range(2000)))
