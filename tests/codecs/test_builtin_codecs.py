"""One generic test runs every example of every built-in codec folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from bocage.codecs.registry import CodecError, builtin_folders, builtin_registry

REGISTRY = builtin_registry()


def _examples() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for folder in builtin_folders():
        for i, ex in enumerate(orjson.loads((folder / "examples.json").read_bytes())):
            out.append((f"{folder.name}[{i}]", ex))
    return out


EXAMPLES = _examples()


def test_the_builtin_models_are_there() -> None:
    ids = {c.id for c in REGISTRY}
    assert {"bocage-sl1", "bocage-wm1", "bocage-us1", "bocage-ce1", "bocage-ps1",
            "bocage-aq1", "bocage-wl1", "bocage-em1", "bocage-gm1", "bocage-hm1",
            "bocage-pv1", "bocage-pc1", "bocage-vc1"} <= ids


@pytest.mark.parametrize("folder", builtin_folders(), ids=lambda p: p.name)
def test_every_folder_has_its_three_files_and_an_error_example(folder: Path) -> None:
    for name in ("manifest.toml", "decoder.py", "examples.json"):
        assert (folder / name).is_file(), f"{folder.name} lacks {name}"
    examples = orjson.loads((folder / "examples.json").read_bytes())
    assert any("error" in ex for ex in examples), "an example must show an error case"
    assert any("output" in ex for ex in examples)
    codec = next(c for c in REGISTRY if c.folder == folder)
    produced = set().union(*(ex["output"] for ex in examples if "output" in ex))
    for q in codec.model.quantities:
        assert q.key in produced, f"{q.key} is in the manifest but no example produces it"


@pytest.mark.parametrize("name,example", EXAMPLES, ids=[n for n, _ in EXAMPLES])
def test_example(name: str, example: dict[str, Any]) -> None:
    folder = name.split("[")[0]
    codec = next(c for c in REGISTRY if c.folder.name == folder)
    payload = bytes.fromhex(example["bytes"].replace(" ", ""))
    config = {**codec.model.defaults, **example.get("config", {})}
    if "error" in example:
        with pytest.raises(CodecError, match=example["error"]):
            codec.decode(payload, example["fPort"], config)
    else:
        assert codec.decode(payload, example["fPort"], config) == example["output"]


def test_every_builtin_model_is_in_the_docs_tables() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "ingestion.md").read_text(encoding="utf-8")
    for codec in REGISTRY:
        # the models table and the payload formats table
        assert doc.count(f"| `{codec.id}`") >= 2, f"document {codec.id} in docs/ingestion.md"
