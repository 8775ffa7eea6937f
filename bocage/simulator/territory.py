"""The territory: communes, their equipment and the devices that report on it. Pure.

Equipment per commune follows its population (see :func:`plan`): street lights and
their control cabinets, water meters, bins, a town hall, a school with classroom
sensors and a gas boiler, a gym (heated and lit on a fixed programme) with a people
counter, a carpool car park with spot sensors, EV charging points, PV on public
buildings, a heat network where the commune is big enough and the seed says so, water
level sensors for communes the seed puts along a river, and video-protection cameras.
Every number comes from the population and the seed: the same communes and seed give
the same territory, entity ids and DevEUIs.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bocage.simulator import geography as geo
from bocage.simulator.admin import Commune, Epci
from bocage.simulator.rand import between, chance, unit

#: profile kind -> (DevEUI kind digit, equipment type, id code, reporting interval s)
KINDS: dict[str, tuple[str, str, str, int]] = {
    "streetlight": ("1", "Streetlight", "L", 900),
    "water": ("2", "WaterConsumptionObserved", "W", 3600),
    "bin": ("3", "WasteContainer", "B", 3600),
    "classroom": ("4", "IndoorEnvironmentObserved", "C", 600),
    "parking": ("5", "ParkingSpot", "P", 600),
    "ev": ("6", "EVChargingStation", "E", 900),
    "pv": ("7", "PhotovoltaicMeasurement", "S", 900),
    "energy": ("8", "ACMeasurement", "M", 900),
    #: the gym's meter: an "energy" meter (same DevEUI digit, type and id code) whose
    #: building follows a fixed heating and lighting programme
    "gymmeter": ("8", "ACMeasurement", "M", 900),
    "gas": ("F", "DeviceMeasurement", "F", 3600),
    "level": ("9", "FloodMonitoring", "N", 900),
    "camera": ("A", "Device", "V", 900),
    "heat": ("B", "DeviceMeasurement", "T", 900),
    "air": ("C", "AirQualityObserved", "Q", 900),
    "people": ("D", "IndoorEnvironmentObserved", "Y", 900),
    "cabinet": ("E", "ACMeasurement", "A", 900),
}
#: profile kind -> device model id, for the models this build knows how to simulate
DEFAULT_MODELS: dict[str, str] = {
    "streetlight": "bocage-sl1", "water": "bocage-wm1", "bin": "bocage-us1",
    "classroom": "bocage-ce1", "parking": "bocage-ps1", "ev": "bocage-sim-ev",
}
#: every kind -> its model, for the builds whose codec registry has them all
ALL_MODELS: dict[str, str] = {
    **DEFAULT_MODELS, "pv": "bocage-pv1", "energy": "bocage-em1", "cabinet": "bocage-em1",
    "gymmeter": "bocage-em1", "gas": "bocage-gm1", "heat": "bocage-hm1",
    "level": "bocage-wl1", "camera": "bocage-vc1", "air": "bocage-aq1", "people": "bocage-pc1",
}
#: models that are not built-in codecs (registered by the simulator itself)
SIMULATOR_MODELS = frozenset({"bocage-sim-ev"})
#: EUI prefix of every simulated device (so they are easy to tell apart)
EUI_PREFIX = "B0CA"


@dataclass(frozen=True, slots=True)
class Place:
    """A commune with its simulated centre and its NGSI-LD scope."""

    commune: Commune
    at: tuple[float, float]
    scope: str


@dataclass(frozen=True, slots=True)
class Equipment:
    id: str
    type: str
    name: str
    insee: str
    scope: str
    at: tuple[float, float]
    #: static attributes (concise terms -> value)
    attrs: dict[str, Any] = field(default_factory=dict)
    #: relationships (concise terms -> entity id)
    refs: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SimDevice:
    dev_eui: str
    #: profile kind (see KINDS)
    kind: str
    #: device model id as registered in the catalogue
    model: str
    asset_id: str
    insee: str
    at: tuple[float, float]
    interval: int
    name: str = ""
    #: the model id the device's frames really follow, when it differs from ``model``
    #: (a misconfigured device: its uplinks end up as dead letters)
    sends_as: str = ""
    configuration: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Territory:
    seed: int
    places: tuple[Place, ...]
    equipment: tuple[Equipment, ...]
    devices: tuple[SimDevice, ...]
    epci: dict[str, Epci]

    def place(self, insee: str) -> Place:
        return next(p for p in self.places if p.commune.insee == insee)

    def devices_of(self, kind: str) -> list[SimDevice]:
        return [d for d in self.devices if d.kind == kind]


def available_models(models: set[str]) -> dict[str, str]:
    """The kinds whose model is among ``models`` (the codecs installed) or the simulator's."""
    return {k: m for k, m in ALL_MODELS.items() if m in models or m in SIMULATOR_MODELS}


def pv_peak_kw(dev_eui: str, seed: int) -> float:
    """Peak power of a PV installation, kWp."""
    return round(between(6, 36, seed, "pv", dev_eui), 1)


def river_config(dev_eui: str, seed: int) -> dict[str, float]:
    """The bridge a level sensor hangs from, and the commune's thresholds (metres of water
    above the bed), handed to the decoder as the device's configuration."""
    reference = round(between(4.0, 6.0, seed, "bridge", dev_eui), 2)
    return {"referenceLevel": reference, "alertLevel": round(reference * 0.5, 2),
            "dangerLevel": round(reference * 0.68, 2)}


def _clamp(x: float, lo: int, hi: int) -> int:
    return int(min(hi, max(lo, round(x))))


def plan(c: Commune, seed: int) -> dict[str, int]:
    """How much of each equipment the commune gets. Depends on population (and, for
    the heat network and the river, on the seed)."""
    pop = c.population
    if pop <= 0:  # a "dead" commune (mort pour la France): nothing to equip
        return {}
    lights = _clamp(pop / 60, 4, 150)
    classrooms = 0 if pop < 250 else _clamp(pop / 350, 1, 12)
    out = {
        "townhall": 1,
        "streetlight": lights,
        "cabinet": math.ceil(lights / 25),
        "water": _clamp(pop / 80, 2, 100),
        "bin": _clamp(pop / 250, 1, 40),
        "school": 1 if classrooms else 0,
        "classroom": classrooms,
        "gym": 1 if pop >= 1500 else 0,
        "parking": 0 if pop < 1000 else _clamp(pop / 250, 6, 40),
        "ev": 0 if pop < 800 else min(6, 1 + pop // 5000),
        "heat": 1 if pop >= 2500 and chance(0.5, seed, "heat", c.insee) else 0,
        "level": (1 + (pop >= 3000)) if chance(0.3, seed, "river", c.insee) else 0,
        "camera": 0 if pop < 2000 else min(8, pop // 3000 + 1),
        "air": 1 if pop >= 4000 else 0,
    }
    out["pv"] = (pop >= 500) + (out["school"] and pop >= 1000) + out["gym"]
    return {k: int(v) for k, v in out.items()}


def eui(insee: str, kind: str, n: int) -> str:
    """DevEUI: prefix, INSEE code (hex-safe: 2A/2B are hex), kind digit, number."""
    return f"{EUI_PREFIX}{insee}{KINDS[kind][0]}{n:06X}"


def scope_of(c: Commune) -> str:
    return f"/FR/{c.departement}/{c.epci or 'sans-epci'}/{c.insee}"


def place_communes(communes: Sequence[Commune], seed: int) -> list[Place]:
    out = []
    for c in sorted(communes, key=lambda c: c.insee):
        if not geo.known(c.departement):
            raise ValueError(f"no extent known for department {c.departement!r}")
        box = geo.departement_box(c.departement)
        centre = geo.epci_centre(box, seed, c.epci) if c.epci else None
        out.append(Place(c, geo.commune_centre(box, seed, c.insee, centre), scope_of(c)))
    return out


def build(communes: Sequence[Commune], epci: dict[str, Epci], seed: int = 1,
          models: dict[str, str] | None = None, misconfigured: bool = True) -> Territory:
    """The territory of these communes. ``models``: profile kind -> device model id for
    the kinds that get devices (default :data:`DEFAULT_MODELS`); equipment of other
    kinds is created without a device."""
    models = DEFAULT_MODELS if models is None else models
    places = place_communes(communes, seed)
    equipment: list[Equipment] = []
    devices: list[SimDevice] = []
    for p in places:
        e, d = _equip(p, seed, models)
        equipment.extend(e)
        devices.extend(d)
    if misconfigured:
        bad = _misconfigured(places, seed)
        if bad is not None:
            devices.append(bad)
    return Territory(seed, tuple(places), tuple(equipment), tuple(devices),
                     {k: v for k, v in epci.items()
                      if k in {p.commune.epci for p in places}})


def _misconfigured(places: Sequence[Place], seed: int) -> SimDevice | None:
    """One bin sensor registered with the parking-spot model: its fill frames (fPort 3)
    are refused by the model it was given (dead letter ``unsupported-fport``)."""
    if not places:
        return None
    p = max(places, key=lambda p: (p.commune.population, p.commune.insee))
    c = p.commune
    return SimDevice(
        dev_eui=eui(c.insee, "bin", 0xFFFFFF), kind="bin", model="bocage-ps1",
        sends_as="bocage-us1", asset_id=f"urn:ngsi-ld:ParkingSpot:{c.insee}-X001",
        insee=c.insee, at=geo.offset(p.at, seed, "misconfigured", 300),
        interval=KINDS["bin"][3], name=f"Capteur mal configuré, {c.name}")


def _equip(p: Place, seed: int, models: dict[str, str]) -> tuple[list[Equipment],
                                                                  list[SimDevice]]:
    c = p.commune
    counts = plan(c, seed)
    equipment: list[Equipment] = []
    devices: list[SimDevice] = []

    def near(key: str, radius: float = 800) -> tuple[float, float]:
        return geo.offset(p.at, seed, f"{c.insee}:{key}", radius)

    def add(kind_type: str, code: str, n: int, name: str, at: tuple[float, float],
            attrs: dict[str, Any] | None = None, refs: dict[str, str] | None = None,
            ) -> Equipment:
        e = Equipment(f"urn:ngsi-ld:{kind_type}:{c.insee}-{code}{n:03d}", kind_type,
                      name, c.insee, p.scope, at, attrs or {}, refs or {})
        equipment.append(e)
        return e

    def device(kind: str, n: int, asset: Equipment, config: dict[str, Any] | None = None,
               ) -> None:
        model = models.get(kind)
        if model is None:
            return
        devices.append(SimDevice(eui(c.insee, kind, n), kind, model, asset.id, c.insee,
                                 asset.at, KINDS[kind][3], asset.name, "", config or {}))

    def sensed(kind: str, n: int, name: str, key: str, radius: float = 800,
               attrs: dict[str, Any] | None = None, refs: dict[str, str] | None = None,
               config: dict[str, Any] | None = None) -> Equipment:
        _, etype, code, _ = KINDS[kind]
        e = add(etype, code, n, name, near(key, radius), attrs, refs)
        device(kind, n, e, config)
        return e

    if not counts:
        return equipment, devices
    hall = add("Building", "H", 1, f"Mairie de {c.name}", near("townhall", 150),
               {"category": ["townhall"]})
    publics = [hall]
    for i in range(1, counts["cabinet"] + 1):
        cab = add("StreetlightControlCabinet", "K", i, f"Armoire d'éclairage {i}, {c.name}",
                  near(f"cabinet{i}", 700))
        sensed("cabinet", i, f"Compteur électrique, {cab.name}", f"cabinet{i}", 5,
               refs={"refStreetlightControlCabinet": cab.id})
    for i in range(1, counts["streetlight"] + 1):
        cabinet = f"urn:ngsi-ld:StreetlightControlCabinet:{c.insee}-K{(i - 1) // 25 + 1:03d}"
        sensed("streetlight", i, f"Point lumineux {i}, {c.name}", f"light{i}", 1200,
               {"powerRated": round(between(35, 70, seed, "watt", c.insee, i))},
               {"refStreetlightControlCabinet": cabinet})
    for i in range(1, counts["water"] + 1):
        sensed("water", i, f"Compteur d'eau {i}, {c.name}", f"water{i}", 1500)
    for i in range(1, counts["bin"] + 1):
        depth = 1.2 if i % 3 else 1.5
        sensed("bin", i, f"Conteneur {i}, {c.name}", f"bin{i}", 1000,
               {"binFullnessThreshold": 80, "volumeStored": depth},
               config={"depth": depth})
    if counts["school"]:
        school = add("Building", "S", 1, f"École de {c.name}", near("school", 500),
                     {"category": ["school"]})
        publics.append(school)
        for i in range(1, counts["classroom"] + 1):
            sensed("classroom", i, f"Salle {i}, école de {c.name}", "school", 40,
                   refs={"refBuilding": school.id})
        # the school is heated by a gas boiler
        sensed("gas", 1, f"Compteur de gaz, {school.name}", "gasmeter", 30,
               refs={"refBuilding": school.id})
    if counts["gym"]:
        gym = add("Building", "G", 1, f"Gymnase de {c.name}", near("gym", 700),
                  {"category": ["sportsCentre"]})
        publics.append(gym)
        sensed("people", 1, f"Compteur de passage, {gym.name}", "gym", 20,
               refs={"refBuilding": gym.id})
    if counts["parking"]:
        site = add("OffStreetParking", "R", 1, f"Aire de covoiturage de {c.name}",
                   near("carpool", 1500),
                   {"totalSpotNumber": counts["parking"], "category": ["carpool"]})
        for i in range(1, counts["parking"] + 1):
            e = add("ParkingSpot", "P", i, f"Place {i}, covoiturage de {c.name}",
                    geo.offset(site.at, seed, f"{c.insee}:spot{i}", 40),
                    refs={"refParkingSite": site.id})
            device("parking", i, e)
    for i in range(1, counts["ev"] + 1):
        sensed("ev", i, f"Borne de recharge {i}, {c.name}", f"ev{i}", 600,
               {"capacity": 2, "socketType": ["Type2"]})
    for i, building in enumerate(publics[:counts["pv"]], start=1):
        kw = pv_peak_kw(eui(c.insee, "pv", i), seed)
        sensed("pv", i, f"Photovoltaïque, {building.name}", f"pv{i}", 30,
               {"peakPower": kw}, {"refBuilding": building.id})
    for i, building in enumerate(publics, start=1):
        sensed("gymmeter" if building.id.endswith("-G001") else "energy", i,
               f"Compteur d'énergie, {building.name}", f"meter{i}", 20,
               refs={"refBuilding": building.id})

    if counts["heat"]:
        net = add("HeatNetwork", "T", 1, f"Réseau de chaleur de {c.name}", near("heat", 600))
        sensed("heat", 1, f"Compteur de chaleur, {net.name}", "heatmeter", 20,
               refs={"refHeatNetwork": net.id})
    for i in range(1, counts["level"] + 1):
        sensed("level", i, f"Niveau de la rivière {i}, {c.name}", f"river{i}", 2500,
               config=river_config(eui(c.insee, "level", i), seed))
    for i in range(1, counts["air"] + 1):
        sensed("air", i, f"Qualité de l'air, {c.name}", "air", 400)
    for i in range(1, counts["camera"] + 1):  # the camera's Device is its own equipment
        model = models.get("camera")
        if model is not None:
            dev_eui = eui(c.insee, "camera", i)
            devices.append(SimDevice(
                dev_eui, "camera", model, f"urn:ngsi-ld:Device:{dev_eui}", c.insee,
                near(f"cam{i}", 600), KINDS["camera"][3],
                f"Caméra de vidéoprotection {i}, {c.name}"))
    return equipment, devices


def counts_by_commune(items: Iterable[Equipment | SimDevice], type_or_kind: str,
                      ) -> dict[str, int]:
    out: dict[str, int] = {}
    for x in items:
        key = x.type if isinstance(x, Equipment) else x.kind
        if key == type_or_kind:
            out[x.insee] = out.get(x.insee, 0) + 1
    return out


def jitter(seed: int, dev_eui: str) -> float:
    """Phase of a device inside its reporting interval, in [0, 1)."""
    return unit(seed, "phase", dev_eui)
