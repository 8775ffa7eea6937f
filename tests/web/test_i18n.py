"""Message catalogues: French first, English complete, dates shown in Europe/Paris."""

from __future__ import annotations

from bocage.web.i18n import LANGUAGES, Translator, catalogue, pick_language


def test_every_language_has_the_same_keys() -> None:
    keys = {lang: set(catalogue(lang)) for lang in LANGUAGES}
    assert keys["fr"] == keys["en"], keys["fr"] ^ keys["en"]
    assert len(keys["fr"]) > 50


def test_french_is_the_default_and_english_is_chosen_by_query_then_cookie() -> None:
    assert pick_language(None, None) == "fr"
    assert pick_language("en", None) == "en"
    assert pick_language(None, "en") == "en"
    assert pick_language("fr", "en") == "fr"
    assert pick_language("de", "xx") == "fr"


def test_numbers_dates_and_fallbacks() -> None:
    fr, en = Translator("fr"), Translator("en")
    assert fr.number(12345.5) == "12\u202f345,5"
    assert en.number(12345.5) == "12,345.5"
    assert fr.percent(0.875) == "87,5\u00a0%"
    # 23:30 UTC on 31 March 2026 is 01:30 on 1 April in Paris (summer time)
    assert fr.when("2026-03-31T23:30:00.000Z") == "01/04/2026 01:30"
    assert en.when("2026-01-15T12:00:00Z") == "2026-01-15 13:00"
    assert fr("nav.map") == "Carte" and en("nav.map") == "Map"
    assert fr("no.such.key") == "no.such.key"
    assert fr("error.not_found", subject="x") == "Rien ne correspond à « x »."
