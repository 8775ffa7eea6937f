"""`bocage demo` serves a living simulated territory, and keeps it across restarts."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
from bocage_process import running_bocage

from bocage.simulator import simulation
from bocage.simulator.seeding import bodies

EPCI = "200029999"  # CC Rives de l'Ain - Pays du Cerdon: 14 communes, quick to start
PONT_D_AIN = f"/FR/01/{EPCI}/01304"


def wait_for(check: object, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "the territory did not come alive in time"
        time.sleep(0.25)


def test_demo_serves_a_living_territory_and_restarts_cleanly(tmp_path: Path) -> None:
    territory = simulation.build_territory(simulation.Options(epci=(EPCI,), seed=5))
    expected = sum(1 for b in bodies(territory) if b.get("scope") == PONT_D_AIN)
    lights = len(territory.devices_of("streetlight"))
    for _ in range(2):  # a second start must not duplicate or fail
        # authentication is covered by tests/security; here the territory itself
        with running_bocage("demo", tmp_path, args=("--epci", EPCI, "--seed", "5"),
                            env={"BOCAGE_AUTH": "off"}) as base:
            api = f"{base}/ngsi-ld/v1"

            def count(api: str = api, **params: str) -> int:
                r = httpx.get(f"{api}/entities", params={**params, "count": "true",
                                                         "limit": "0"})
                return int(r.headers["NGSILD-Results-Count"])

            wait_for(lambda: count(scopeQ=PONT_D_AIN) == expected)
            # every street light reports within the first seconds (primed readings)
            wait_for(lambda: count(type="Streetlight", q="powerState") == lights)
            types = httpx.get(f"{api}/types").json()["typeList"]
            assert {"Streetlight", "WasteContainer", "OffStreetParking", "Building",
                    "EVChargingStation", "Device"} <= set(types)
            bin_ = next(e for e in territory.equipment if e.type == "WasteContainer")
            near = httpx.get(f"{api}/entities", params={
                "type": "WasteContainer", "georel": "near;maxDistance==1",
                "geometry": "Point", "coordinates": f"[{bin_.at[0]},{bin_.at[1]}]"})
            assert [e["id"] for e in near.json()] == [bin_.id]
            wait_for(lambda: len(httpx.get(f"{base}/api/dead-letters").json()) > 0)
            dead = httpx.get(f"{base}/api/dead-letters").json()
            assert {d["reason"] for d in dead} == {"unsupported-fport"}


def test_demo_opens_web_accounts_whose_passwords_are_in_the_keys_file(tmp_path: Path) -> None:
    with running_bocage("demo", tmp_path, args=("--epci", EPCI, "--seed", "5")) as base:
        saved = (tmp_path / "demo-keys.env").read_text()
        found = dict(re.findall(r"export (BOCAGE_\w+)=(\S+)", saved))
        assert found["BOCAGE_AGENT_LOGIN"] == "demo-agent"
        with httpx.Client(base_url=base) as browser:
            form = browser.get("/ui/connexion")
            token = re.search(r'name="csrf" value="([^"]+)"', form.text)
            assert token is not None
            r = browser.post("/ui/connexion", data={
                "csrf": token.group(1), "username": found["BOCAGE_AGENT_LOGIN"],
                "password": found["BOCAGE_AGENT_PASSWORD"], "suivant": "/ui/carte"})
            assert r.status_code == 303 and r.headers["location"] == "/ui/carte"
            me = browser.get("/auth/me").json()
            assert me["name"] == "demo-agent" and me["grants"][0]["role"] == "agent"
            # a second start gives new passwords: the old one no longer opens a session
    with running_bocage("demo", tmp_path, args=("--epci", EPCI, "--seed", "5")) as base:
        again = dict(re.findall(r"export (BOCAGE_\w+)=(\S+)",
                                (tmp_path / "demo-keys.env").read_text()))
        assert again["BOCAGE_AGENT_PASSWORD"] != found["BOCAGE_AGENT_PASSWORD"]
        old = httpx.post(f"{base}/auth/login", json={
            "username": "demo-agent", "password": found["BOCAGE_AGENT_PASSWORD"]})
        assert old.status_code == 401
        new = httpx.post(f"{base}/auth/login", json={
            "username": "demo-agent", "password": again["BOCAGE_AGENT_PASSWORD"]})
        assert new.status_code == 200
