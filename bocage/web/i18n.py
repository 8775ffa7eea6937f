"""Message catalogues of the web UI: French first, English available.

One TOML file per language in ``locales/`` (flat keys, dotted by page), plus
any files in ``locales/<lang>/`` (one per part of the UI, merged in name order;
a key defined twice is an error). A missing key in English falls back to
French, and a key missing everywhere is shown as itself, so a forgotten
message is visible, never a crash; a test checks that both catalogues hold
the same keys.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Final
from zoneinfo import ZoneInfo

LANGUAGES: Final = ("fr", "en")
DEFAULT: Final = "fr"
#: dates are kept in UTC and shown in the territory's time zone
PARIS: Final = ZoneInfo("Europe/Paris")


@cache
def catalogue(lang: str) -> dict[str, str]:
    folder = resources.files("bocage.web").joinpath("locales")
    merged = _flatten(tomllib.loads(folder.joinpath(f"{lang}.toml").read_text("utf-8")))
    parts = folder.joinpath(lang)
    if parts.is_dir():
        for part in sorted(parts.iterdir(), key=lambda p: p.name):
            if not part.name.endswith(".toml"):
                continue
            more = _flatten(tomllib.loads(part.read_text("utf-8")))
            twice = sorted(merged.keys() & more.keys())
            if twice:
                raise ValueError(f"locales/{lang}/{part.name} redefines {', '.join(twice[:5])}")
            merged.update(more)
    return merged


def _flatten(tree: dict[str, object], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = str(value)
    return out


def pick_language(query: str | None, cookie: str | None) -> str:
    for candidate in (query, cookie):
        if candidate in LANGUAGES:
            return candidate
    return DEFAULT


@dataclass(frozen=True, slots=True)
class Translator:
    lang: str

    def __call__(self, key: str, **values: object) -> str:
        text = catalogue(self.lang).get(key) or catalogue(DEFAULT).get(key) or key
        return text.format(**values) if values else text

    def number(self, value: float | int | None, digits: int = 1) -> str:
        if value is None:
            return "–"
        if isinstance(value, bool):
            return self("value.true" if value else "value.false")
        text = f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,d}"
        if isinstance(value, float):
            text = text.rstrip("0").rstrip(".") if "." in text else text
        if self.lang == "fr":  # 12 345,6
            text = text.replace(",", "\u202f").replace(".", ",")
        return text

    def percent(self, ratio: float | None) -> str:
        if ratio is None:
            return "–"
        return f"{self.number(round(ratio * 100, 1))}\u00a0%"

    def when(self, iso: str | None) -> str:
        """A UTC ISO instant shown in Europe/Paris: ``26/11/2026 14:05`` (fr)."""
        if not iso:
            return "–"
        try:
            moment = dt.datetime.fromisoformat(iso.replace("Z", "+00:00"))
        except ValueError:
            return iso
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        local = moment.astimezone(PARIS)
        fmt = "%d/%m/%Y %H:%M" if self.lang == "fr" else "%Y-%m-%d %H:%M"
        return local.strftime(fmt)
