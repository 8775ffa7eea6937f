"""The data quality page: dead letters filtered, paged and replayed through the scoped
service, on both backends, with real uplinks through the ChirpStack webhook."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

from bocage.api.app import create_app
from bocage.domain.access import ROOT, Grant
from bocage.settings import Settings
from bocage.storage.base import Store
from bocage.web.i18n import Translator
from bocage.web.quality_pages import read_filters, reason_label, result_message

UP = orjson.loads((Path(__file__).parents[1] / "connectors" / "fixtures" /
                   "chirpstack-v4/event-up.json").read_bytes())
CS = {"Authorization": "Bearer cs-secret"}
EPCI = "/FR/01/240100883"
A, B = EPCI + "/01004", EPCI + "/01202"
A_EUI, B_EUI, NEW_EUI = "A0A0A0A0A0A0A0A1", "B0B0B0B0B0B0B0B1", "C0C0C0C0C0C0C0C1"
B_LETTERS = 110  # more than a page, more than the 100 letters the old page read


def uplink(eui: str, n: int, port: int = 1) -> dict[str, Any]:
    body = copy.deepcopy(UP)
    body["deduplicationId"] = f"{eui}-{n}"
    body["deviceInfo"]["devEui"] = eui.lower()
    body["fPort"] = port
    body["fCnt"] = n
    return body


def token(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


@pytest.fixture
def world(settings: Settings, store: Store) -> Iterator[dict[str, Any]]:
    app = create_app(settings.replace(chirpstack_secret="cs-secret"), store)
    security = app.state.security

    def client(*grants: tuple[str, str]) -> TestClient:
        _, key = security.create_key([Grant(r, s) for r, s in grants], name="t", by="t")
        return TestClient(app, raise_server_exceptions=False,
                          headers={"Authorization": f"Bearer {key}"})

    with client(("admin", ROOT)) as root:
        for eui, scope in ((A_EUI, A), (B_EUI, B)):
            r = root.post("/api/devices", json={"devEui": eui, "model": "bocage-ps1",
                                                "scope": scope})
            assert r.status_code == 201, r.text
        # B's letters first, A's last: far down the list of open letters
        for n in range(B_LETTERS):
            assert root.post("/ingest/chirpstack?event=up", json=uplink(B_EUI, n, 99),
                             headers=CS).status_code == 202
        for n in range(3):
            assert root.post("/ingest/chirpstack?event=up", json=uplink(A_EUI, n, 99),
                             headers=CS).status_code == 202
        # a device nobody registered yet
        for n in range(2):
            assert root.post("/ingest/chirpstack?event=up", json=uplink(NEW_EUI, n),
                             headers=CS).status_code == 202
        assert app.state.ingestion.wait_idle(20.0)
        yield {"root": root, "agent_a": client(("agent", A)), "agent_b": client(("agent", B)),
               "elu": client(("elu", EPCI)), "operator_a": client(("operator", A))}


def letters_on(html: str) -> list[str]:
    return re.findall(r"<code>([0-9A-F]{16})</code>", html)


def test_an_agent_sees_his_communes_letters_however_far_down(world: dict[str, Any]) -> None:
    page = world["agent_a"].get("/ui/qualite")
    assert page.status_code == 200
    assert letters_on(page.text) == [A_EUI] * 3
    assert "3 lettres ouvertes" in page.text
    # the API pages exactly under the same scoping
    api = world["agent_a"]
    assert len(api.get("/api/dead-letters", params={"limit": 2}).json()) == 2
    assert len(api.get("/api/dead-letters", params={"limit": 2, "offset": 2}).json()) == 1
    # B's agent: 110 letters, 50 per page, none of A's
    b = world["agent_b"].get("/ui/qualite")
    assert letters_on(b.text) == [B_EUI] * 50 and "page 1 sur 3" in b.text
    last = world["agent_b"].get("/ui/qualite", params={"page": "3"})
    assert letters_on(last.text) == [B_EUI] * 10 and A_EUI not in last.text
    assert 'rel="prev"' in last.text and 'rel="next"' not in last.text
    # the letters of an unregistered device: the platform only
    assert NEW_EUI not in b.text and NEW_EUI not in page.text
    assert NEW_EUI in world["root"].get("/ui/qualite", params={"appareil": NEW_EUI}).text


def test_filters_by_reason_and_device(world: dict[str, Any]) -> None:
    root = world["root"]
    unknown = root.get("/ui/qualite", params={"motif": "unknown-device"})
    assert letters_on(unknown.text) == [NEW_EUI] * 2 and "2 lettres ouvertes" in unknown.text
    mine = root.get("/ui/qualite", params={"appareil": A_EUI.lower()})
    assert letters_on(mine.text) == [A_EUI] * 3
    # a foreign agent asking for A's device by name sees nothing of it
    assert letters_on(world["agent_b"].get("/ui/qualite",
                                           params={"appareil": A_EUI}).text) == []


def test_a_bad_filter_gets_a_french_message_next_to_the_field(world: dict[str, Any]) -> None:
    r = world["root"].get("/ui/qualite", params={"appareil": "zz-not-an-eui"})
    assert r.status_code == 400
    assert "16 chiffres hexadécimaux" in r.text
    assert re.search(r'id="q-appareil"[^>]*aria-invalid="true"', r.text)
    r = world["root"].get("/ui/qualite", params={"motif": "nonsense"})
    assert r.status_code == 400 and "Choisissez un motif" in r.text


def test_a_foreign_agent_cannot_replay_anothers_letters(world: dict[str, Any]) -> None:
    root, b = world["root"], world["agent_b"]
    [first, *_] = root.get("/api/dead-letters", params={"devEui": A_EUI}).json()
    csrf = token(b.get("/ui/qualite").text)
    r = b.post(f"/ui/qualite/lettres/{first['id']}/rejouer", data={"csrf": csrf},
               follow_redirects=False)
    assert r.status_code == 404
    r = b.post("/ui/qualite/rejouer", data={"csrf": csrf, "appareil": A_EUI},
               follow_redirects=False)
    assert r.status_code == 303 and "fait=0" in r.headers["location"]
    after = root.get("/api/dead-letters", params={"devEui": A_EUI}).json()
    assert [d["attempts"] for d in after] == [1, 1, 1]
    # an operator sees A's letters but may not replay them (devices.write)
    op = world["operator_a"]
    page = op.get("/ui/qualite")
    assert letters_on(page.text) == [A_EUI] * 3 and "Rejouer" not in page.text
    # an elected official sees no dead letter at all
    assert letters_on(world["elu"].get("/ui/qualite").text) == []


def test_a_form_without_its_token_replays_nothing(world: dict[str, Any]) -> None:
    root = world["root"]
    [letter, *_] = root.get("/api/dead-letters", params={"devEui": NEW_EUI}).json()
    root.get("/ui/qualite")
    r = root.post(f"/ui/qualite/lettres/{letter['id']}/rejouer", data={"csrf": "forged"})
    assert r.status_code == 403 and "Le formulaire a expiré" in r.text
    assert root.get(f"/api/dead-letters/{letter['id']}").json()["attempts"] == 1


def test_replay_after_registering_the_device(world: dict[str, Any]) -> None:
    root, agent = world["root"], world["agent_a"]
    letters = root.get("/api/dead-letters", params={"devEui": NEW_EUI}).json()
    first = letters[0]["id"]
    # still unknown: the replay says why, the letter stays open
    csrf = token(root.get("/ui/qualite").text)
    r = root.post(f"/ui/qualite/lettres/{first}/rejouer", data={"csrf": csrf})
    assert r.status_code == 200 and "toujours en échec (Capteur inconnu)" in r.text
    # the agent registers the device in his commune: its letters are now his to replay
    r = agent.post("/api/devices", json={"devEui": NEW_EUI, "model": "bocage-ps1",
                                         "scope": A})
    assert r.status_code == 201, r.text
    page = agent.get("/ui/qualite", params={"motif": "unknown-device"})
    assert letters_on(page.text) == [NEW_EUI] * 2
    csrf = token(page.text)
    r = agent.post(f"/ui/qualite/lettres/{first}/rejouer",
                   data={"csrf": csrf, "motif": "unknown-device"}, follow_redirects=False)
    assert r.status_code == 303 and "motif=unknown-device" in r.headers["location"]
    shown = agent.get(r.headers["location"])
    assert "1 lettre(s) rejouée(s)" in shown.text
    assert letters_on(shown.text) == [NEW_EUI]
    spot = agent.get(f"/ngsi-ld/v1/entities/urn:ngsi-ld:ParkingSpot:{NEW_EUI}")
    assert spot.status_code == 200 and spot.json()["status"]["value"] == "occupied"
    # the rest of this device's letters, in one go
    r = agent.post("/ui/qualite/rejouer", data={"csrf": csrf, "appareil": NEW_EUI},
                   follow_redirects=False)
    assert "fait=1" in r.headers["location"] and "echec=0" in r.headers["location"]
    assert root.get("/api/dead-letters", params={"devEui": NEW_EUI,
                                                 "status": "open"}).json() == []
    audit = root.get("/api/audit", params={"limit": 1000}).json()
    replays = [a for a in audit if a["action"].startswith("dead-letter.replay")]
    assert [a["action"] for a in replays] == ["dead-letter.replay", "dead-letter.replay",
                                              "dead-letter.replay-all"]
    assert replays[1]["actor"] != replays[0]["actor"]  # the agent's, after the admin's


# ------------------------------------------------------------------ pure parts

def test_read_filters_checks_reason_device_and_page() -> None:
    f = read_filters({"motif": "codec-error", "appareil": " a0a0a0a0a0a0a0a1 ", "page": "3"})
    assert (f.reason, f.device, f.page, f.error) == ("codec-error", A_EUI, 3, "")
    assert read_filters({"motif": "x"}).error == "motif"
    assert read_filters({"appareil": "12"}).error == "appareil"
    assert read_filters({"page": "-1"}).page == 1 and read_filters({"page": "0"}).page == 1
    assert read_filters({"motif": "codec-error"}).query() == {"motif": "codec-error"}


def test_result_message_says_what_happened() -> None:
    fr, en = Translator("fr"), Translator("en")
    assert result_message(fr, {}) == ""
    assert result_message(fr, {"fait": "2"}).startswith("2 lettre(s) rejouée(s)")
    text = result_message(fr, {"fait": "0", "echec": "1", "pourquoi": "unknown-device"})
    assert "Aucune lettre" in text and "Capteur inconnu" in text
    assert "3 left to replay" in result_message(en, {"fait": "1", "reste": "3"})
    # a forged reason is never echoed
    assert "<b>" not in result_message(fr, {"fait": "0", "echec": "1", "pourquoi": "<b>"})


def test_every_reason_has_words_in_both_languages() -> None:
    from bocage.ingest.deadletters import REASONS

    for lang in ("fr", "en"):
        for code in REASONS:
            assert reason_label(Translator(lang), code) != code, (lang, code)
