"""Questions 11, 12, 13 and 15 answered on screen, in Chromium, by a real `bocage demo`
whose simulated territory backfilled two days of history; and a chart saved as PNG."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from bocage_process import cli_key, start_bocage, stop_bocage
from browser import chromium

from bocage.simulator import simulation

EPCI = "200029999"  # 14 communes: quick to simulate
PONT_D_AIN = "01304"  # has a gym, PV, a heat network (seed 5)
TERRITORY = simulation.build_territory(simulation.Options(epci=(EPCI,), seed=5))


def number(text: str) -> float:
    """A figure as the French page shows it: ``1 234,5`` -> 1234.5."""
    return float(re.sub(r"[\s\u202f\u00a0]", "", text).replace(",", "."))


def backlog(base: str, headers: dict[str, str]) -> float:
    metrics = httpx.get(f"{base}/metrics", headers=headers).text
    found = re.search(r"^bocage_ingest_backlog\S* (\S+)$", metrics, re.M)
    assert found is not None, "no bocage_ingest_backlog metric"
    return float(found.group(1))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    data = tmp_path_factory.mktemp("energy")
    admin = {"Authorization": f"Bearer {cli_key(data)}"}
    server = start_bocage("demo", data, args=("--epci", EPCI, "--seed", "5",
                                               "--history", "2d"), ready_within=300)
    try:
        deadline = time.monotonic() + 300
        while "history backfilled" not in server.log_path.read_text() or backlog(
                server.base, admin) > 200:  # sent, then ingested: the inbox drained
            assert time.monotonic() < deadline, "the history was not backfilled in time"
            assert server.proc.poll() is None, server.log_path.read_text()[-3000:]
            time.sleep(1)
        yield server.base, admin
    finally:
        stop_bocage(server.proc)


@pytest.fixture(scope="module")
def browser(demo: tuple[str, dict[str, str]]) -> Iterator[Any]:
    """Pages open as the platform administrator (the key sent with every request)."""
    with chromium() as b:
        context = b.new_context(extra_http_headers=demo[1], accept_downloads=True,
                                viewport={"width": 1280, "height": 900})
        yield context
        context.close()


def open_board(browser: Any, base: str, slug: str, query: str = "") -> Any:
    page = browser.new_page()
    page.goto(f"{base}/ui/tableaux/{slug}{query}")
    page.wait_for_selector("#dash-chart[data-ready=true]")
    return page


def figures(page: Any) -> dict[str, float]:
    out = {}
    for kpi in page.locator(".kpi").all():
        out[kpi.locator(".kpi-l").inner_text()] = number(kpi.locator(".kpi-v").inner_text())
    return out


def test_q11_gym_heated_and_lit_while_empty(demo: tuple[str, dict[str, str]],
                                            browser: Any) -> None:
    page = open_board(browser, demo[0], "gymnases")
    gyms = [e for e in TERRITORY.equipment if e.id.startswith("urn:ngsi-ld:Building:")
            and e.id.endswith("-G001")]
    shown = figures(page)
    assert shown["gymnases suivis"] == len(gyms)
    # the programme heats from 07:00 and the first users come at 09:00: hours wasted
    assert shown["Heures chauffé ou éclairé à vide"] >= len(gyms)
    assert shown["Énergie économisable (kWh)"] > 0 and shown["Économie possible (€)"] > 0
    assert "0,2516 €/kWh" in page.inner_text("#tariffs")
    assert int(page.get_attribute("#dash-chart", "data-points") or 0) >= 2
    # the commune filter keeps its gym only
    page.select_option("#d-commune", PONT_D_AIN)
    page.click("form.inline button[type=submit]")
    page.wait_for_selector("#dash-chart[data-ready=true]")
    rows = page.locator("#dashboard-table tbody tr").all_inner_texts()
    assert len(rows) == 1 and "Gymnase de Pont-d'Ain" in rows[0]
    # the answer: its week as observed, and the hours to take out of its programme
    week = [r.split("\t") for r in page.locator("#dashboard-extra tbody tr").all_inner_texts()]
    assert week and any(cells[-1] != "–" for cells in week)
    for _name, day, _occupied, active, wasted in week:
        if day not in ("Samedi", "Dimanche") and active == "7h–22h":
            assert wasted.startswith("7h–9h"), (day, wasted)  # heated before the first users
    page.close()


def test_q12_pv_production_per_commune_and_month(demo: tuple[str, dict[str, str]],
                                                 browser: Any) -> None:
    page = open_board(browser, demo[0], "photovoltaique", f"?epci={EPCI}")
    panels = TERRITORY.devices_of("pv")
    shown = figures(page)
    assert shown["Installations"] == len(panels)
    produced = shown["kWh produits cette année"]
    # two days of late-autumn sun on this much peak power: well above 0, below 5 h/day
    assert 0 < produced < shown["Puissance crête (kWc)"] * 5 * 3
    rows = page.locator("#dashboard-table tbody tr").all_inner_texts()
    assert rows and all(EPCI in r and re.search(r"\b20\d\d-\d\d\b", r) for r in rows)
    communes = [r for r in rows if "Toutes les communes" not in r]
    totals = [r for r in rows if "Toutes les communes" in r]
    assert totals and len(totals) < len(communes)  # the EPCI per month, under its communes
    for part in (communes, totals):  # both add up to the headline
        assert abs(sum(number(r.split("\t")[5]) for r in part) - produced) < 0.2 * len(part)
    page.close()


def test_q13_heat_network_this_year(demo: tuple[str, dict[str, str]], browser: Any) -> None:
    page = open_board(browser, demo[0], "reseaux-chaleur", f"?commune={PONT_D_AIN}")
    shown = figures(page)
    networks = [d for d in TERRITORY.devices_of("heat") if d.insee == PONT_D_AIN]
    assert shown["réseaux de chaleur"] == len(networks) == 1
    assert shown["MWh livrés cette année"] > 1  # November: several MWh a day
    assert shown["Jour le plus fort (kWh)"] >= shown["Moyenne par jour (kWh)"] > 0
    assert "Réseau de chaleur de Pont-d'Ain" in page.inner_text("#dashboard-table")
    page.close()


def test_q15_electricity_and_gas_this_year_and_their_cost(
        demo: tuple[str, dict[str, str]], browser: Any) -> None:
    page = open_board(browser, demo[0], "consommations", f"?commune={PONT_D_AIN}")
    shown = figures(page)
    assert shown["kWh d'électricité"] > 0 and shown["kWh de gaz"] > 0
    assert shown["€ d'électricité"] == pytest.approx(shown["kWh d'électricité"] * 0.2516,
                                                     abs=0.05)
    assert shown["€ de gaz"] == pytest.approx(shown["kWh de gaz"] * 0.125, abs=0.05)
    assert shown["€ au total"] == pytest.approx(shown["€ d'électricité"] + shown["€ de gaz"],
                                                abs=0.02)
    rows = page.locator("#dashboard-table tbody tr").all_inner_texts()
    meters = [d for d in TERRITORY.devices if d.insee == PONT_D_AIN
              and d.kind in ("energy", "gymmeter", "cabinet", "gas")]
    assert len(rows) == len(meters)
    assert sum("Gaz" in r for r in rows) == 1
    page.close()


def test_a_chart_downloads_as_png(demo: tuple[str, dict[str, str]], browser: Any) -> None:
    page = open_board(browser, demo[0], "photovoltaique")
    with page.expect_download() as info:
        page.click("#dash-chart-png")
    download = info.value
    assert download.suggested_filename == "bocage-photovoltaique-territoire.png"
    body = Path(download.path()).read_bytes()
    assert body[:8] == b"\x89PNG\r\n\x1a\n" and body[12:16] == b"IHDR"
    width, height = int.from_bytes(body[16:20], "big"), int.from_bytes(body[20:24], "big")
    assert width >= 300 and height >= 300
    page.close()


def test_on_a_phone_the_dashboards_raise_no_script_error_and_stay_on_loopback(
        demo: tuple[str, dict[str, str]], browser: Any) -> None:
    errors: list[str] = []
    seen: list[str] = []
    page = browser.new_page()
    page.set_viewport_size({"width": 390, "height": 844})
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("request", lambda request: seen.append(request.url))
    for slug in ("gymnases", "photovoltaique", "reseaux-chaleur", "consommations"):
        for lang in ("fr", "en"):
            page.goto(f"{demo[0]}/ui/tableaux/{slug}?lang={lang}")
            page.wait_for_selector("#dash-chart[data-ready=true]")
            assert page.locator("#dash-chart canvas").count() == 1
    assert page.inner_text("h1") == "Electricity and gas consumption"
    page.close()
    assert errors == []
    assert seen and [url for url in seen if not url.startswith("http://127.0.0.1:")] == []
