"""Alarm events -> the message a person reads: French first (English on request). Pure.

One event gives a message about that alarm; several (a digest) give one
message listing them all, oldest first. Times are shown in Europe/Paris, the
equipment by its name and type, the commune by its name, and each alarm with
the link to its page in the web UI. Words come from the UI catalogues
(``bocage/web/locales/*/notify.toml``, types and severities from the main ones).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from bocage.web.i18n import Translator

_ORDER: Final = ("raised", "escalated", "cleared")


@dataclass(frozen=True, slots=True)
class Message:
    subject: str
    text: str


def equipment_label(t: Translator, event: dict[str, Any]) -> str:
    eq = event.get("equipment") or {}
    name = eq.get("name") or eq.get("id") or "?"
    type_name = eq.get("type")
    label = t(f"type.{type_name}") if type_name else ""
    if label and label != f"type.{type_name}" and label.lower() not in str(name).lower():
        return f"{label} {name}"
    return str(name)


def _commune(event: dict[str, Any]) -> str:
    commune = event.get("commune") or {}
    code, name = commune.get("code"), commune.get("name")
    if name and code:
        return f"{name} ({code})"
    return str(name or code or "")


def _severity(t: Translator, severity: str) -> str:
    return t(f"severity.{severity}").lower() if t.lang == "fr" else severity


def render(events: Sequence[dict[str, Any]], lang: str = "fr", scope: str = "",
           recipient_name: str = "") -> Message:
    """The message for one event or a digest of several."""
    t = Translator(lang)
    events = sorted(events, key=lambda e: str(e.get("at", "")))
    if len(events) == 1:
        e = events[0]
        commune = _commune(e)
        subject = t("notify.subject_one", event=t(f"notify.event.{e['event']}"),
                    severity=_severity(t, str(e.get("severity"))),
                    rule=e.get("ruleName") or e.get("rule"),
                    equipment=equipment_label(t, e),
                    where=f" ({(e.get('commune') or {}).get('name') or commune})"
                    if commune else "")
        intro = t("notify.intro_one")
    else:
        counts = Counter(str(e["event"]) for e in events)
        summary = ", ".join(t(f"notify.count.{k}", n=counts[k]) for k in _ORDER if counts[k])
        subject = t("notify.subject_many", n=len(events), summary=summary)
        intro = t("notify.intro_many", n=len(events), first=t.when(events[0].get("at")),
                  last=t.when(events[-1].get("at")))
    lines = [t("notify.greeting"), "", intro]
    for e in events:
        lines.extend(["", *_block(t, e)])
    lines.extend(["", "-- ", t("notify.footer", scope=scope or "?",
                                name=recipient_name or scope or "?")])
    return Message(" ".join(subject.split()), "\n".join(lines) + "\n")


def _block(t: Translator, e: dict[str, Any]) -> list[str]:
    severity = _severity(t, str(e.get("severity")))
    if e.get("previousSeverity"):
        severity += f" ({t('notify.previous', severity=_severity(t, e['previousSeverity']))})"
    title = t(f"notify.event.{e['event']}").upper()
    rows = [
        f"{title} – {e.get('ruleName') or e.get('rule')}",
        f"  {t('notify.equipment')} : {equipment_label(t, e)}",
    ]
    if e.get("commune"):
        rows.append(f"  {t('notify.commune')} : {_commune(e)}")
    rows.append(f"  {t('notify.severity')} : {severity}")
    if e.get("description"):
        rows.append(f"  {t('notify.detail')} : {e['description']}")
    rows.append(f"  {t('notify.time')} : {t.when(e.get('at'))}")
    rows.append(f"  {t('notify.link')} : {e.get('link')}")
    return rows


def document(events: Sequence[dict[str, Any]], recipient: str, lang: str = "fr",
             scope: str = "", recipient_name: str = "") -> dict[str, Any]:
    """What a webhook or an MQTT subscriber receives: the message and the events."""
    message = render(events, lang, scope, recipient_name)
    return {"type": "AlarmNotification", "recipient": recipient, "subject": message.subject,
            "text": message.text, "events": sorted(events, key=lambda e: str(e.get("at", "")))}
