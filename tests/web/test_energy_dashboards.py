"""The history dashboards (questions 11, 12, 13, 15) from readings, checked by hand."""

from __future__ import annotations

import datetime as dt

from bocage.web.dashboards import to_csv
from bocage.web.energy_dashboards import (
    ALL_COMMUNES,
    HISTORY_BY_SLUG,
    Gym,
    Meter,
    bill_board,
    gym_board,
    gym_schedule,
    heat_board,
    pv_board,
)
from bocage.web.energy_figures import Tariffs

TARIFFS = Tariffs(electricity_eur_kwh=0.25, gas_eur_kwh=0.10,
                  electricity_subscription_eur_year=365.0, gas_subscription_eur_year=0.0,
                  gas_kwh_per_m3=10.0)
H = 3_600_000


def figures(table: object) -> dict[str, object]:
    return dict(table.figures)  # type: ignore[attr-defined]


def test_four_questions_each_have_a_board() -> None:
    assert {b.question for b in HISTORY_BY_SLUG.values()} == {11, 12, 13, 15}


def test_pv_production_per_commune_and_month() -> None:
    a1 = Meter("pv:a1", "PV mairie A", "E1", "A", "pv",
               (("2026-10-31", 10.0), ("2026-11-01", 20.0)), peak_kw=10.0)
    a2 = Meter("pv:a2", "PV école A", "E1", "A", "pv", (("2026-11-01", 5.0),), peak_kw=5.0)
    b = Meter("pv:b", "PV mairie B", "E1", "B", "pv", (("2026-11-02", 30.0),), peak_kw=15.0)
    table, chart = pv_board([a1, a2, b], TARIFFS)
    assert table.rows == [
        ("E1", "A", "2026-10", 2, 15.0, 10.0, 0.7),
        ("E1", ALL_COMMUNES, "2026-10", 3, 30.0, 10.0, 0.3),
        ("E1", "A", "2026-11", 2, 15.0, 25.0, 1.7),
        ("E1", "B", "2026-11", 1, 15.0, 30.0, 2.0),
        ("E1", ALL_COMMUNES, "2026-11", 3, 30.0, 55.0, 1.8),
    ]
    assert figures(table) == {"hdash.col.installations": 3, "hdash.col.kwp": 30.0,
                              "hdash.fig.kwh_year": 65.0, "hdash.col.kwh_per_kwp": 2.2}
    assert chart.days == ["2026-10-31", "2026-11-01", "2026-11-02"]
    assert chart.series == [("hdash.series.produced", [10.0, 25.0, 30.0])]
    assert chart.as_json(str.upper)["series"][0]["label"] == "HDASH.SERIES.PRODUCED"


def test_heat_network_per_month() -> None:
    net = Meter("hm:1", "Réseau de chaleur de A", "E1", "A", "heat",
                (("2026-10-30", 1000.0), ("2026-10-31", 3000.0), ("2026-11-01", 2000.0)))
    table, chart = heat_board([net], TARIFFS)
    assert table.rows == [("hm:1", "Réseau de chaleur de A", "A", "2026-10", 4.0, 2, 3000.0,
                           2000.0),
                          ("hm:1", "Réseau de chaleur de A", "A", "2026-11", 2.0, 1, 2000.0,
                           2000.0)]
    assert figures(table) == {"hdash.fig.networks": 1, "hdash.fig.mwh_year": 6.0,
                              "hdash.col.peak_day_kwh": 3000.0,
                              "hdash.col.mean_day_kwh": 2000.0}
    assert chart.series == [("hdash.series.delivered", [1000.0, 3000.0, 2000.0])]
    empty, _ = heat_board([], TARIFFS)
    assert empty.rows == [] and figures(empty)["hdash.col.peak_day_kwh"] is None


def test_electricity_and_gas_with_their_cost() -> None:
    hall = Meter("em:1", "Compteur mairie", "E1", "A", "electricity",
                 (("2026-11-01", 40.0), ("2026-11-02", 60.0)))
    boiler = Meter("gm:1", "Compteur de gaz école", "E1", "A", "gas", (("2026-11-02", 3.0),))
    table, chart = bill_board([boiler, hall], TARIFFS)
    # electricity: 100 kWh x 0.25 + 365 EUR/year x 2 days = 27 EUR; gas: 3 m3 = 30 kWh = 3 EUR
    assert table.rows == [
        ("em:1", "Compteur mairie", "A", "hdash.energy.electricity", 100.0, "kWh", 100.0, 27.0),
        ("gm:1", "Compteur de gaz école", "A", "hdash.energy.gas", 3.0, "m³", 30.0, 3.0),
    ]
    assert figures(table) == {"hdash.fig.electricity_kwh": 100.0,
                              "hdash.fig.electricity_eur": 27.0, "hdash.fig.gas_kwh": 30.0,
                              "hdash.fig.gas_eur": 3.0, "hdash.fig.total_eur": 30.0}
    assert chart.days == ["2026-11-01", "2026-11-02"]
    assert chart.series == [("hdash.energy.electricity", [40.0, 60.0]),
                            ("hdash.energy.gas", [None, 30.0])]
    text = to_csv(table, lambda h: h, str)
    assert text.splitlines()[2] == "gm:1;Compteur de gaz école;A;hdash.energy.gas;3.0;m³;30.0;3.0"


def test_gym_hours_heated_while_empty_and_the_saving() -> None:
    t0 = int(dt.datetime(2026, 1, 13, 5, tzinfo=dt.UTC).timestamp() * 1000)
    gym = Gym("urn:ngsi-ld:Building:A-G001", "Gymnase de A", "E1", "A",
              ((t0, 500.0, 0), (t0 + H, 4500.0, 0), (t0 + 2 * H, 6500.0, 20)))
    table, chart = gym_board([gym], TARIFFS)
    # active: 2 h; occupied 1 h; empty and active: 1 h, 4 kWh above standby = 1 EUR
    assert table.rows == [("urn:ngsi-ld:Building:A-G001", "Gymnase de A", "A", 2, 1, 1, 500,
                           11.5, 4.0, 1.0)]
    assert figures(table) == {"hdash.fig.gyms": 1, "hdash.col.hours_empty_active": 1,
                              "hdash.col.kwh_saveable": 4.0, "hdash.col.eur_saveable": 1.0}
    assert chart.series == [("hdash.series.occupied", [6.5]), ("hdash.series.empty", [4.0])]


def test_gym_schedule_names_the_hours_heated_while_empty() -> None:
    t0 = int(dt.datetime(2026, 1, 13, 6, tzinfo=dt.UTC).timestamp() * 1000)  # Tue 07:00
    gym = Gym("urn:ngsi-ld:Building:A-G001", "Gymnase de A", "E1", "A",
              ((t0, 6000.0, 0), (t0 + H, 6000.0, 0), (t0 + 2 * H, 6000.0, 12),
               (t0 + 3 * H, 500.0, 0)))
    table = gym_schedule([gym])
    assert table.rows == [("urn:ngsi-ld:Building:A-G001", "Gymnase de A", "hdash.weekday.1",
                           "9h–10h", "7h–10h", "7h–9h")]
    assert HISTORY_BY_SLUG["gymnases"].extra is gym_schedule
