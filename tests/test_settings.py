"""Settings: read once, every source, and documented."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from bocage.settings import Settings, load_settings

DOCS = Path(__file__).parent.parent / "docs" / "settings.md"


def test_defaults() -> None:
    s = load_settings(env={})
    assert s.database_url == "sqlite:///./bocage-data/bocage.db"
    assert (s.host, s.port) == ("127.0.0.1", 8000)


def test_sources_in_priority_order(tmp_path: Path) -> None:
    cfg = tmp_path / "bocage.toml"
    cfg.write_text('[bocage]\nport = 9000\nhost = "0.0.0.0"\nlog_level = "DEBUG"\n')
    env = {"BOCAGE_CONFIG": str(cfg), "BOCAGE_PORT": "9100"}
    s = load_settings(env=env, host=None)
    assert (s.host, s.port, s.log_level) == ("0.0.0.0", 9100, "DEBUG")
    assert load_settings(env=env, port=9200).port == 9200


def test_settings_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Settings().port = 1  # type: ignore[misc]


def test_unknown_or_bad_values_fail_loudly(tmp_path: Path) -> None:
    cfg = tmp_path / "bocage.toml"
    cfg.write_text("databse_url = 'typo'\n")
    with pytest.raises(ValueError, match="databse_url"):
        load_settings(env={}, config_file=cfg)
    with pytest.raises(ValueError):
        load_settings(env={"BOCAGE_PORT": "eighty"})


def test_every_setting_is_documented() -> None:
    text = DOCS.read_text()
    for field in dataclasses.fields(Settings):
        assert f"`{field.name}`" in text, f"{field.name} missing from docs/settings.md"
        assert f"`BOCAGE_{field.name.upper()}`" in text
