"""The device catalogue through the admin API, the NGSI-LD API and the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from bocage.cli import app as cli
from bocage.devices.csv_import import rows_to_devices
from bocage.domain.errors import BadRequestData


def test_builtin_models_are_listed_and_visible_as_entities(client: TestClient) -> None:
    ids = {m["id"] for m in client.get("/api/device-models").json()}
    assert {"bocage-sl1", "bocage-wm1", "bocage-us1", "bocage-ce1", "bocage-ps1"} <= ids
    sl1 = client.get("/api/device-models/bocage-sl1").json()
    assert sl1["targetType"] == "Streetlight" and sl1["fPorts"] == [10]
    assert {"key": "power", "attribute": "powerConsumption", "unit": "WTT", "min": 0.0,
            "max": 2000.0} in sl1["quantities"]
    r = client.get("/ngsi-ld/v1/entities/urn:ngsi-ld:DeviceModel:bocage-sl1")
    assert r.status_code == 200 and r.json()["modelName"]["value"].startswith("SL-1")
    assert client.get("/api/device-models/nope").status_code == 404


def test_device_crud(client: TestClient) -> None:
    body = {"devEui": "70b3d57ed0001a2b", "model": "bocage-us1", "name": "Bac verre, place",
            "location": {"longitude": 5.3445, "latitude": 45.8996}, "commune": "01202",
            "reportingInterval": 3600, "configuration": {"depth": 1.5}}
    r = client.post("/api/devices", json=body)
    assert r.status_code == 201 and r.headers["location"] == "/api/devices/70B3D57ED0001A2B"
    assert client.post("/api/devices", json=body).status_code == 409
    dev = client.get("/api/devices/70b3d57ed0001a2b").json()
    assert dev["assetId"] == "urn:ngsi-ld:WasteContainer:70B3D57ED0001A2B"
    assert dev["configuration"] == {"depth": 1.5} and dev["commune"] == "01202"
    assert [d["devEui"] for d in client.get("/api/devices").json()] == ["70B3D57ED0001A2B"]
    # the equipment entity exists from the start, located and linked to its device
    bin_ = client.get("/ngsi-ld/v1/entities/urn:ngsi-ld:WasteContainer:70B3D57ED0001A2B").json()
    assert bin_["type"] == "WasteContainer" and bin_["location"]["value"]["coordinates"]
    assert bin_["refDevice"]["object"] == "urn:ngsi-ld:Device:70B3D57ED0001A2B"
    assert client.delete("/api/devices/70B3D57ED0001A2B").status_code == 204
    assert client.get("/api/devices/70B3D57ED0001A2B").status_code == 404
    assert client.delete("/api/devices/70B3D57ED0001A2B").status_code == 404
    # the equipment and its data stay
    assert client.get(
        "/ngsi-ld/v1/entities/urn:ngsi-ld:WasteContainer:70B3D57ED0001A2B").status_code == 200


@pytest.mark.parametrize("body,detail", [
    ({"devEui": "12", "model": "bocage-us1"}, "16 hex digits"),
    ({"devEui": "70b3d57ed0001a2b", "model": "nope"}, "unknown device model"),
    ({"devEui": "70b3d57ed0001a2b"}, "model"),
    ({"devEui": "70b3d57ed0001a2b", "model": "bocage-us1", "commune": "Lyon"}, "INSEE"),
    ({"devEui": "70b3d57ed0001a2b", "model": "bocage-us1",
      "location": {"longitude": 500, "latitude": 1}}, "WGS84"),
    ({"devEui": "70b3d57ed0001a2b", "model": "bocage-us1", "assetId": "not a uri"}, "URI"),
])
def test_bad_devices_are_400(client: TestClient, body: object, detail: str) -> None:
    r = client.post("/api/devices", json=body)
    assert r.status_code == 400 and detail in r.json()["detail"]
    assert client.get("/api/devices").json() == []


def test_custom_model_crud_and_validation(client: TestClient) -> None:
    model = {"id": "acme-th", "vendor": "ACME", "model": "TH", "codec": "bocage-ce1",
             "targetType": "IndoorEnvironmentObserved", "fPorts": [4],
             "quantities": [{"key": "temperature", "attribute": "temperature", "unit": "CEL"}]}
    assert client.post("/api/device-models", json=model).status_code == 201
    assert client.post("/api/device-models", json=model).status_code == 409
    assert client.get("/api/device-models/acme-th").json()["vendor"] == "ACME"
    bad = {**model, "id": "x", "codec": "quickjs:nothing"}
    r = client.post("/api/device-models", json=bad)
    assert r.status_code == 400 and "unknown codec" in r.json()["detail"]
    r = client.post("/api/device-models", json={**model, "id": "y", "quantities": []})
    assert r.status_code == 400
    assert client.delete("/api/device-models/acme-th").status_code == 204
    assert client.get("/api/device-models/acme-th").status_code == 404


def test_csv_rows() -> None:
    rows = rows_to_devices([
        "devEui,model,name,longitude,latitude,reportingInterval\n",
        "0000000000000A01,bocage-sl1,L1,5.36,45.95,900\n",
        "0000000000000A02,bocage-sl1,L2,east,45.95,\n",
    ])
    assert rows[0] == (2, {"devEui": "0000000000000A01", "model": "bocage-sl1", "name": "L1",
                           "location": {"longitude": 5.36, "latitude": 45.95},
                           "reportingInterval": 900})
    assert isinstance(rows[1][1], BadRequestData)
    with pytest.raises(BadRequestData, match="devEui"):
        rows_to_devices(["eui,model\n"])


def test_cli_add_import_list(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"BOCAGE_DATABASE_URL": f"sqlite:///{tmp_path}/bocage.db"}
    csv_file = tmp_path / "devices.csv"
    csv_file.write_text("devEui,model,name,commune\n"
                        "0000000000000A01,bocage-sl1,Lampadaire 1,01004\n"
                        "0000000000000A02,bocage-nope,,\n")
    r = runner.invoke(cli, ["devices", "import", str(csv_file)], env=env)
    assert r.exit_code == 1, r.output
    assert "1 device(s) added, 1 row(s) refused" in r.output
    assert "unknown device model 'bocage-nope'" in r.output
    r = runner.invoke(cli, ["devices", "add", "0000000000000a03", "bocage-wm1",
                            "--name", "Compteur mairie"], env=env)
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["devices", "add", "0000000000000a03", "bocage-wm1"], env=env)
    assert r.exit_code == 1 and "already exists" in r.output
    r = runner.invoke(cli, ["devices", "list"], env=env)
    assert r.exit_code == 0
    lines = r.output.strip().splitlines()
    assert [line.split("\t")[0] for line in lines] == ["0000000000000A01", "0000000000000A03"]
    r = runner.invoke(cli, ["devices", "models"], env=env)
    assert "bocage-us1" in r.output
