"""A few example equipment entities of a rural territory (until the simulator lands).

Positions are illustrative, near real communes of the Ain (INSEE codes are real).
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from pathlib import Path
from typing import Any, Final

from bocage.domain.access import ROOT, Grant
from bocage.domain.terms import Terms
from bocage.domain.timefmt import format_utc
from bocage.ngsild import mutations as mut
from bocage.ngsild.parse import parse_entity
from bocage.security.service import Security
from bocage.storage.base import Mutation, Store


def _prop(value: Any, unit: str | None = None, observed: str | None = None) -> list[dict[str, Any]]:
    inst: dict[str, Any] = {"type": "Property", "value": value}
    if unit:
        inst["unitCode"] = unit
    if observed:
        inst["observedAt"] = observed
    return [inst]


def _geo(lon: float, lat: float) -> list[dict[str, Any]]:
    return [{"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}}]


EPCI: Final = "/FR/01/240100883"  # CC de la Plaine de l'Ain
AMBE: Final = EPCI + "/01004"  # Ambérieu-en-Bugey
LAGN: Final = EPCI + "/01202"  # Lagnieu
OPEN: Final = "/open"  # the default open-data scope (BOCAGE_OPEN_DATA_SCOPE)


def example_entities(now: str) -> list[dict[str, Any]]:
    scope_ambe, scope_lagn = AMBE, LAGN
    return [
        {
            "id": "urn:ngsi-ld:Streetlight:01004-0001",
            "type": "Streetlight",
            "scope": [scope_ambe],
            "location": _geo(5.3601, 45.9581),
            "status": _prop("ok"),
            "powerState": _prop("on", observed=now),
            "illuminanceLevel": _prop(0.7, "C62", now),
        },
        {
            "id": "urn:ngsi-ld:WasteContainer:01202-0001",
            "type": "WasteContainer",
            "scope": [scope_lagn],
            "location": _geo(5.3445, 45.8996),
            "fillingLevel": _prop(0.62, "C62", now),
            "binFullnessThreshold": _prop(80),
        },
        {
            "id": "urn:ngsi-ld:ParkingSite:01004-covoiturage",
            "type": "ParkingSite",
            "scope": [scope_ambe, OPEN],  # open data: anyone may read it
            "name": _prop("Aire de covoiturage de la gare"),
            "location": _geo(5.3632, 45.9555),
            "totalSpotNumber": _prop(40),
            "availableSpotNumber": _prop(12, observed=now),
        },
        {
            "id": "urn:ngsi-ld:EVChargingStation:01004-0001",
            "type": "EVChargingStation",
            "scope": [scope_ambe, OPEN],
            "location": _geo(5.3634, 45.9557),
            "status": _prop("available", observed=now),
            "capacity": _prop(2),
        },
        {
            "id": "urn:ngsi-ld:AirQualityObserved:01004-ecole",
            "type": "AirQualityObserved",
            "scope": [scope_ambe],
            "location": _geo(5.3588, 45.9602),
            "co2": _prop(870, "59", now),
            "temperature": _prop(20.5, "CEL", now),
        },
    ]


#: who the demo keys are for: (role, scope) — the syndicate, a commune, its EPCI
DEMO_GRANTS: Final = {
    "admin": ("admin", ROOT),
    "agent": ("agent", AMBE),     # technical agent of Ambérieu-en-Bugey
    "elu": ("elu", EPCI),         # elected official of the CC de la Plaine de l'Ain
    "police": ("police", AMBE),   # municipal police of Ambérieu-en-Bugey
}


def demo_keys(security: Security) -> dict[str, str]:
    """Fresh demo API keys, one per role of DEMO_GRANTS; earlier demo keys are revoked."""
    for key in security.store.list_keys():
        if key.name.startswith("demo:") and not key.revoked_at:
            security.revoke_key(key.key_id, by="demo")
    out = {}
    for name, (role, scope) in DEMO_GRANTS.items():
        _, token = security.create_key([Grant(role, scope)], name=f"demo:{name}", by="demo")
        out[name] = token
    return out


def demo_accounts(security: Security) -> dict[str, tuple[str, str]]:
    """One web UI account per role of DEMO_GRANTS (``demo-<role>``), each with a fresh
    random password at every start: ``{role: (username, password)}``."""
    out = {}
    for name, (role, scope) in DEMO_GRANTS.items():
        username, password = f"demo-{name}", secrets.token_urlsafe(12)
        if security.store.get_account(username) is None:
            security.create_account(username, password, [Grant(role, scope)], by="demo")
        else:
            security.set_password(username, password, by="demo")
        out[name] = (username, password)
    return out


def write_keys(keys: dict[str, str], database_url: str,
               accounts: dict[str, tuple[str, str]] | None = None) -> Path:
    """``BOCAGE_<ROLE>_KEY=...`` lines beside the SQLite database (else ./bocage-data),
    readable by the owner only."""
    folder = Path("bocage-data")
    if database_url.startswith("sqlite:///"):
        folder = Path(database_url[len("sqlite:///"):].split("?", 1)[0]).parent
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "demo-keys.env"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.writelines(f"export BOCAGE_{name.upper()}_KEY={key}\n" for name, key in keys.items())
        fh.writelines(f"export BOCAGE_{name.upper()}_LOGIN={user}\n"
                      f"export BOCAGE_{name.upper()}_PASSWORD={password}\n"
                      for name, (user, password) in (accounts or {}).items())
    return path


def seed(store: Store, terms: Terms) -> int:
    """Create the example entities that are missing; returns how many were created."""
    now = format_utc(dt.datetime.now(dt.UTC))
    entities = [parse_entity(body, terms) for body in example_entities(now)]
    missing = [e for e in entities if store.get("", e["id"]) is None]
    results = store.apply("", [Mutation(e["id"], mut.create(e, now)) for e in missing])
    return sum(1 for r in results if isinstance(r, dict))
