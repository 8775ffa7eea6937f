"""A second process writing the same SQLite file (the CLI beside a running server): the
server's cached ids must not collide with the rows it wrote."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bocage.domain.query import EntityQuery
from bocage.ngsild import mutations as mut
from bocage.storage.base import Mutation
from bocage.storage.sqlite import SQLiteStore

T = "https://example.org/Thing"
P = "https://example.org/p"


def create(store: SQLiteStore, ident: str, attr: str = P) -> object:
    e = {"id": ident, "type": [T], attr: [{"type": "Property", "value": 1}]}
    [result] = store.apply("", [Mutation(ident, mut.create(e, "2026-01-01T00:00:00Z"))])
    return result


def test_writes_after_another_process_wrote_the_same_file(tmp_path: Path) -> None:
    db = tmp_path / "bocage.db"
    server = SQLiteStore(db)
    try:
        assert isinstance(create(server, "urn:a:1"), dict)
        other = f"""
import sys
sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})
from bocage.storage.sqlite import SQLiteStore
from bocage.storage.base import Mutation
from bocage.ngsild import mutations as mut
s = SQLiteStore({str(db)!r})
for n in range(5):
    e = {{"id": f"urn:b:{{n}}", "type": ["{T}"], "https://example.org/new{{n}}": [
        {{"type": "GeoProperty", "value": {{"type": "Point", "coordinates": [1, 2]}}}}]}}
    r = s.apply("", [Mutation(e["id"], mut.create(e, "2026-01-01T00:00:00Z"))])
    assert isinstance(r[0], dict), r
s.close()
"""
        subprocess.run([sys.executable, "-c", other], check=True, timeout=60)
        # the server's next writes: new entities, a new attribute name, a geometry
        for n in range(3):
            assert isinstance(create(server, f"urn:a:{n + 2}", "https://example.org/new9"),
                              dict)
        e = {"id": "urn:a:geo", "type": [T], "https://uri.etsi.org/ngsi-ld/location": [
            {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [3, 4]}}]}
        [r] = server.apply("", [Mutation(e["id"], mut.create(e, "2026-01-01T00:00:00Z"))])
        assert isinstance(r, dict), r
        ids = {x["id"] for x in server.query("", EntityQuery(limit=100)).entities}
        assert ids == {"urn:a:1", "urn:a:2", "urn:a:3", "urn:a:4", "urn:a:geo",
                       *(f"urn:b:{n}" for n in range(5))}
    finally:
        server.close()
