"""NGSI-LD geo-queries (ETSI GS CIM 009 v1.8 clause 4.10): parse, validate, evaluate.

Pure functions, no I/O. Geometries are GeoJSON dicts in (longitude, latitude)
order. Topological relations are evaluated on the plane of (lon, lat), as
RFC 7946 prescribes for GeoJSON; ``near`` distances are metres on the sphere.
The entity geometry is always the subject: ``within`` means "the entity's
geometry lies within the query geometry", ``contains`` the converse.
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final, cast

import numpy as np
import orjson
import shapely
from shapely.errors import ShapelyError

from bocage.domain.entity import Entity
from bocage.domain.errors import BadRequestData, InvalidRequest
from bocage.domain.query import GeoQuery, GeoRel

#: Mean Earth radius (IUGG), metres.
EARTH_RADIUS_M: Final = 6_371_008.8

GEORELS: Final = ("near", "within", "contains", "intersects", "equals", "disjoint", "overlaps")
WORLD: Final = (-180.0, -90.0, 180.0, 90.0)

_DISTANCE = re.compile(r"(maxDistance|minDistance)==([0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?)")
#: A GeometryCollection may nest; bound it so hostile input cannot recurse deeply.
_MAX_COLLECTION_DEPTH: Final = 8
#: Metres per degree of latitude on the sphere (and of longitude at the equator).
_M_PER_DEG: Final = EARTH_RADIUS_M * math.pi / 180.0
#: Relative + absolute slack of the near box, so that rounding (ours, or the
#: float32 boxes of an R*Tree) can never make it too small.
_BOX_SLACK: Final = 1.001
_BOX_EPS_DEG: Final = 1e-6

Coords = list[Any]

# ------------------------------------------------------------------ validation


def _array(v: object, path: str, minimum: int, what: str) -> list[Any] | tuple[Any, ...]:
    """An array of at least `minimum` arrays (or, for collections, objects)."""
    if not isinstance(v, list | tuple):
        raise BadRequestData(f"{path}: expected an array of {what}, got {type(v).__name__}")
    if v and what != "geometries" and not isinstance(v[0], list | tuple):
        # the commonest mistake: one level of brackets too few for the type
        raise BadRequestData(f"{path}: expected an array of {what}, found {v[0]!r:.20} "
                             "(wrong nesting depth for this geometry type?)")
    if len(v) < minimum:
        raise BadRequestData(f"{path}: expected at least {minimum} {what}, got {len(v)}")
    return v


def _is_number(n: object) -> bool:
    # bool is an int subclass, but `true` is not a coordinate
    return isinstance(n, int | float) and not isinstance(n, bool) and math.isfinite(n)


def _position(v: object, path: str) -> Coords:
    if not isinstance(v, list | tuple) or not 2 <= len(v) <= 3:
        raise BadRequestData(
            f"{path}: a position must be an array of 2 or 3 numbers "
            f"[longitude, latitude(, altitude)], got {v!r:.80}"
        )
    for n in v:
        if not _is_number(n):
            raise BadRequestData(f"{path}: {n!r:.40} is not a finite number")
    if not -180 <= v[0] <= 180:
        raise BadRequestData(f"{path}: longitude {v[0]} is outside [-180, 180]")
    if not -90 <= v[1] <= 90:
        raise BadRequestData(f"{path}: latitude {v[1]} is outside [-90, 90] (order is lon, lat)")
    return list(v)


def _multi(item: Callable[[object, str], Coords], what: str) -> Callable[[object, str], Coords]:
    def parse(v: object, path: str) -> Coords:
        return [item(x, f"{path}[{i}]") for i, x in enumerate(_array(v, path, 1, what))]

    return parse


def _line(v: object, path: str) -> Coords:
    return [_position(p, f"{path}[{i}]") for i, p in enumerate(_array(v, path, 2, "positions"))]


def _ring(v: object, path: str) -> Coords:
    ring = [_position(p, f"{path}[{i}]") for i, p in enumerate(_array(v, path, 4, "positions"))]
    if ring[0][:2] != ring[-1][:2]:
        raise BadRequestData(f"{path}: linear ring is not closed (first position != last)")
    return ring


_polygon = _multi(_ring, "linear rings")
_COORDS: Final[dict[str, Callable[[object, str], Coords]]] = {
    "Point": _position,
    "MultiPoint": _multi(_position, "positions"),
    "LineString": _line,
    "MultiLineString": _multi(_line, "line strings"),
    "Polygon": _polygon,
    "MultiPolygon": _multi(_polygon, "polygons"),
}
#: geoQ geometries: all of GeoJSON but GeometryCollection
QUERY_GEOMETRIES: Final = tuple(_COORDS)


def _geometry(value: object, path: str, depth: int) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadRequestData(f"{path}: a GeoJSON geometry must be an object")
    gtype = value.get("type")
    out: dict[str, Any]
    if gtype == "GeometryCollection":
        if depth >= _MAX_COLLECTION_DEPTH:
            raise BadRequestData(f"{path}: GeometryCollections nested too deeply")
        members = _array(value.get("geometries"), f"{path}.geometries", 1, "geometries")
        parts = [_geometry(g, f"{path}.geometries[{i}]", depth + 1) for i, g in enumerate(members)]
        out = {"type": gtype, "geometries": parts}
    elif isinstance(gtype, str) and gtype in _COORDS:
        if "coordinates" not in value:
            raise BadRequestData(f"{path}: {gtype} without coordinates")
        coords = _COORDS[gtype](value["coordinates"], f"{path}.coordinates")
        out = {"type": gtype, "coordinates": coords}
    else:
        raise BadRequestData(
            f"{path}: {gtype!r:.40} is not a GeoJSON geometry type (expected one of "
            f"{', '.join(_COORDS)}, GeometryCollection)"
        )
    bbox = value.get("bbox")
    if bbox is not None:  # optional RFC 7946 member: keep it if well-formed
        if not isinstance(bbox, list) or len(bbox) not in (4, 6) or not all(map(_is_number, bbox)):
            raise BadRequestData(f"{path}.bbox: expected an array of 4 or 6 numbers")
        out["bbox"] = list(bbox)
    return out


def validate_geometry(value: object) -> dict[str, Any]:
    """Check a GeoProperty value and return it as a fresh, plain GeoJSON dict.

    Numbers are kept as sent (ints stay ints); tuples become lists; members other
    than ``type``, ``coordinates``/``geometries`` and ``bbox`` are dropped.
    Polygon self-intersection is *not* rejected: real-world data often has it and
    the evaluator repairs it when needed.
    """
    return _geometry(value, "geometry", 0)


# --------------------------------------------------------------------- parsing


def _parse_georel(georel: object) -> tuple[str, float | None, float | None]:
    if not isinstance(georel, str):
        raise BadRequestData(f"georel must be a string, got {type(georel).__name__}")
    rel, *mods = (p.strip() for p in georel.split(";"))
    if rel not in GEORELS:
        raise BadRequestData(f"unknown georel {rel!r:.40}; expected one of {', '.join(GEORELS)}")
    if rel != "near":
        if mods:
            raise BadRequestData(f"georel {rel} takes no modifier, got {georel!r:.80}")
        return rel, None, None
    dist: dict[str, float] = {}
    for mod in mods:
        m = _DISTANCE.fullmatch(mod)
        if m is None:
            raise BadRequestData(
                f"invalid near modifier {mod!r:.40}: expected maxDistance==<metres> "
                "or minDistance==<metres>"
            )
        value = float(m[2])
        if not math.isfinite(value):
            raise BadRequestData(f"{m[1]} {m[2]:.40} is not a finite number of metres")
        if m[1] in dist:
            raise BadRequestData(f"{m[1]} given twice in georel")
        dist[m[1]] = value
    if not dist:
        raise BadRequestData("georel near needs maxDistance==<metres> and/or minDistance==<metres>")
    max_d, min_d = dist.get("maxDistance"), dist.get("minDistance")
    if max_d is not None and min_d is not None and min_d > max_d:
        raise BadRequestData(f"minDistance {min_d:g} is greater than maxDistance {max_d:g}")
    return rel, max_d, min_d


def parse_geoq(
    georel: str | None,
    geometry: str | None,
    coordinates: str | list[Any] | None,
    geoproperty: str,
) -> GeoQuery | None:
    """Build a :class:`GeoQuery` from the ``georel``/``geometry``/``coordinates``
    parameters (URL strings, or a subscription's JSON ``geoQ``), or None if all
    three are absent. ``geoproperty`` is already expanded."""
    if georel is None and geometry is None and coordinates is None:
        return None
    given = {"georel": georel, "geometry": geometry, "coordinates": coordinates}
    missing = [k for k, v in given.items() if v is None or v == ""]
    if missing:
        raise BadRequestData(
            f"incomplete geo-query: {', '.join(missing)} missing "
            "(georel, geometry and coordinates go together)"
        )
    rel, max_d, min_d = _parse_georel(georel)
    if not isinstance(geometry, str) or geometry not in QUERY_GEOMETRIES:
        raise BadRequestData(
            f"unsupported geometry {geometry!r:.40}; expected one of {', '.join(QUERY_GEOMETRIES)}"
        )
    if rel == "near" and geometry != "Point":
        raise BadRequestData(f"georel near needs a Point geometry, got {geometry}")
    if isinstance(coordinates, str):
        try:
            coordinates = json.loads(coordinates)
        except (ValueError, RecursionError) as exc:
            # ValueError covers JSONDecodeError and over-long integers
            raise InvalidRequest(f"coordinates is not valid JSON: {exc}"[:200]) from None
    coords = _COORDS[geometry](coordinates, "coordinates")
    if not isinstance(geoproperty, str) or not geoproperty:
        raise BadRequestData("geoproperty must be a non-empty attribute name")
    geom: dict[str, object] = {"type": geometry, "coordinates": coords}
    return GeoQuery(cast(GeoRel, rel), geom, geoproperty, max_distance=max_d, min_distance=min_d)


# -------------------------------------------------------------- bounding boxes


def _positions(g: dict[str, Any]) -> Iterator[Coords]:
    if g["type"] == "GeometryCollection":
        for sub in g["geometries"]:
            yield from _positions(sub)
        return
    stack = [g["coordinates"]]
    while stack:
        c = stack.pop()
        if c and isinstance(c[0], list | tuple):
            stack.extend(c)
        elif c:
            yield c


def geometry_bbox(geometry: dict[str, Any]) -> tuple[float, float, float, float]:
    """(min_lon, min_lat, max_lon, max_lat) of a valid GeoJSON geometry."""
    xs, ys = [], []
    for p in _positions(geometry):
        xs.append(p[0])
        ys.append(p[1])
    if not xs:
        raise BadRequestData("an empty geometry has no bounding box")
    return float(min(xs)), float(min(ys)), float(max(xs)), float(max(ys))


def _near_bbox(lon: float, lat: float, metres: float) -> tuple[float, float, float, float]:
    delta = metres / EARTH_RADIUS_M * _BOX_SLACK  # angular radius of the cap, radians
    if delta >= math.pi / 2:  # a cap this big spans a pole or most longitudes
        return WORLD
    dlat = math.degrees(delta) + _BOX_EPS_DEG
    south, north = lat - dlat, lat + dlat
    if south <= -90.0 or north >= 90.0:  # the cap holds a pole: every longitude
        return -180.0, max(south, -90.0), 180.0, min(north, 90.0)
    cos_lat = math.cos(math.radians(lat))
    ratio = math.sin(delta) / cos_lat
    if ratio >= 1.0:
        return -180.0, south, 180.0, north
    # Widest longitude of a spherical cap is asin(sin d / cos lat); the
    # equirectangular disc used for lines/polygons is d / cos lat: take the wider.
    dlon = math.degrees(max(math.asin(ratio), delta / cos_lat)) + _BOX_EPS_DEG
    if lon - dlon < -180.0 or lon + dlon > 180.0:
        # matches may lie across the antimeridian; an R*Tree box cannot wrap
        return -180.0, south, 180.0, north
    return lon - dlon, south, lon + dlon, north


def query_bbox(gq: GeoQuery) -> tuple[float, float, float, float] | None:
    """A box that every matching geometry intersects (storage prefilter), or
    None when no such box exists (``disjoint``, ``near`` with only minDistance)."""
    if gq.georel == "disjoint":
        return None
    if gq.georel == "near":
        if gq.max_distance is None:
            return None
        c = cast(Coords, gq.geometry["coordinates"])
        return _near_bbox(float(c[0]), float(c[1]), gq.max_distance)
    # within / contains / intersects / equals / overlaps all imply intersection
    return geometry_bbox(gq.geometry)


# ------------------------------------------------------------------ evaluation


def _haversine(lon1: float, p1: float, cos_p1: float, lon2: float, lat2: float) -> float:
    # p1 = latitude 1 in radians, cos_p1 its cosine: precomputed once per query
    p2 = math.radians(lat2)
    h = math.sin((p2 - p1) / 2) ** 2 + cos_p1 * math.cos(p2) * math.sin(
        math.radians(lon2 - lon1) / 2
    ) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, h)))


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle (haversine) distance in metres, R = 6 371 008.8 m."""
    p1 = math.radians(lat1)
    return _haversine(lon1, p1, math.cos(p1), lon2, lat2)


def _shape(g: dict[str, Any]) -> Any:
    # GEOS' own GeoJSON reader fed by orjson is ~3x faster than shapely.geometry.shape
    return shapely.from_geojson(orjson.dumps(g))


@dataclass(frozen=True, slots=True)
class _Compiled:
    """What geo_matches needs from a GeoQuery, precomputed once per query."""

    georel: str
    query: Any = None  # prepared shapely geometry (not for near)
    lon: float = 0.0
    lat: float = 0.0
    lat_rad: float = 0.0
    cos_lat: float = 1.0
    max_d: float = math.inf
    min_d: float = 0.0
    # local equirectangular plane (near): metres = (lonlat - origin) * scale
    origin: Any = None
    scale: Any = None

    def haversine(self, lon: float, lat: float) -> float:
        return _haversine(self.lon, self.lat_rad, self.cos_lat, lon, lat)


def _compile(gq: GeoQuery) -> _Compiled:
    geometry = validate_geometry(gq.geometry)  # GeoQuery may not come from parse_geoq
    if gq.georel == "near":
        lon, lat = (float(x) for x in geometry["coordinates"][:2])
        cos_lat = math.cos(math.radians(lat))
        # at a pole x collapses, but there only latitude matters for the distance
        scale = np.array([_M_PER_DEG * max(cos_lat, 1e-9), _M_PER_DEG])
        return _Compiled(
            "near", None, lon, lat, math.radians(lat), cos_lat,
            math.inf if gq.max_distance is None else gq.max_distance, gq.min_distance or 0.0,
            np.array([lon, lat]), scale,
        )
    query = _shape(geometry)
    if not shapely.is_valid(query):  # e.g. a bow-tie polygon: GEOS predicates need validity
        query = shapely.make_valid(query)
    shapely.prepare(query)
    return _Compiled(gq.georel, query)


# GeoQuery is frozen but unhashable (it holds a dict), and hashing a polygon per
# call would cost more than the test. Key on id() and keep the GeoQuery itself
# in the value: the identity check plus the strong reference make a stale hit
# impossible. One request (or one subscription) reuses its compiled form.
# Per thread, because GEOS prepared geometries build their indexes lazily and
# are not thread-safe (libgeos/geos#825).
_LOCAL = threading.local()
_CACHE_SIZE: Final = 256


def _compiled(gq: GeoQuery) -> _Compiled:
    cache: dict[int, tuple[GeoQuery, _Compiled]] | None = getattr(_LOCAL, "cache", None)
    if cache is None:
        cache = _LOCAL.cache = {}
    hit = cache.get(id(gq))
    if hit is not None and hit[0] is gq:
        return hit[1]
    compiled = _compile(gq)
    if len(cache) >= _CACHE_SIZE:
        cache.clear()  # crude, but a request rarely holds more than one geo-query
    cache[id(gq)] = (gq, compiled)
    return compiled


def _near_distance(c: _Compiled, g: dict[str, Any]) -> float:
    gtype = g["type"]
    if gtype == "Point":
        p = g["coordinates"]
        return c.haversine(p[0], p[1])
    if gtype == "MultiPoint":
        return min(c.haversine(p[0], p[1]) for p in g["coordinates"])
    geom = _shape(g)
    if shapely.intersects_xy(geom, c.lon, c.lat):  # inside a polygon, or on a line
        return 0.0
    # Nearest point found on a local equirectangular plane centred on the query
    # point (an affine map of lon/lat, so topology is unchanged), then measured
    # exactly with haversine: the distance is always that of a real point of
    # the geometry, which keeps query_bbox a sound prefilter.
    plane = shapely.transform(geom, lambda a: (a - c.origin) * c.scale)
    with np.errstate(invalid="ignore", divide="ignore"):  # NaN/inf on zero-length lines
        line = shapely.shortest_line(_ORIGIN, plane)
    x, y = shapely.get_coordinates(line)[1] / c.scale + c.origin
    if math.isfinite(x) and math.isfinite(y):
        return c.haversine(float(x), float(y))
    # degenerate geometry (all vertices equal): its vertices are all there is
    return min(c.haversine(lon, lat) for lon, lat in shapely.get_coordinates(geom))


_ORIGIN: Final = shapely.Point(0.0, 0.0)
# Relations with the *prepared query* first (prepared geometries only speed up
# the first argument): within(E, Q) == contains(Q, E), contains(E, Q) == within(Q, E).
_PRED: Final[dict[str, Callable[[Any, Any], Any]]] = {
    "within": shapely.contains,
    "contains": shapely.within,
    "intersects": shapely.intersects,
    "equals": shapely.equals,
    "disjoint": shapely.disjoint,
    "overlaps": shapely.overlaps,
}
# Fast paths for an entity Point: no shapely object built for it.
_XY_PRED: Final[dict[str, Callable[[Any, float, float], bool]]] = {
    "within": lambda q, x, y: bool(shapely.contains_xy(q, x, y)),
    "intersects": lambda q, x, y: bool(shapely.intersects_xy(q, x, y)),
    "disjoint": lambda q, x, y: not shapely.intersects_xy(q, x, y),
}


def _test(c: _Compiled, g: object) -> bool:
    if not isinstance(g, dict):
        return False
    try:
        if c.georel == "near":
            return c.min_d <= _near_distance(c, g) <= c.max_d
        xy = _XY_PRED.get(c.georel)
        if xy is not None and g["type"] == "Point":
            return xy(c.query, float(g["coordinates"][0]), float(g["coordinates"][1]))
        entity = _shape(g)
        try:
            return bool(_PRED[c.georel](c.query, entity))
        except ShapelyError:  # topology error on an invalid stored geometry: repair, retry
            return bool(_PRED[c.georel](c.query, shapely.make_valid(entity)))
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, ShapelyError):
        # a corrupt stored geometry never breaks a whole query: it just does not match
        return False


def geo_matches(gq: GeoQuery, entity: Entity) -> bool:
    """True if any instance of ``gq.geoproperty`` satisfies the geo-query."""
    instances = entity.get(gq.geoproperty)
    if not instances or not isinstance(instances, list):
        return False
    c = _compiled(gq)
    for inst in instances:
        if isinstance(inst, dict) and inst.get("type") == "GeoProperty" and _test(
            c, inst.get("value")
        ):
            return True
    return False
