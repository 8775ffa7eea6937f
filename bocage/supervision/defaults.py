"""The rules every territory starts with, one or more per built-in device model.

A stored rule with the same id replaces a default (to change a threshold or
disable it with ``"enabled": false``); deleting it restores the default.
Attribute names and units are those the built-in models write (see
``bocage/codecs/*/manifest.toml``).
"""

from __future__ import annotations

from typing import Final

from bocage.supervision.rules import Rule, compile_rule

_DEFINITIONS: Final = (
    {"id": "lamp-failure", "name": "Panne de lampe", "severity": "major", "intervention": True,
     "target": {"type": "Streetlight"},
     "condition": {"kind": "any", "conditions": [
         {"kind": "lamp_failure", "min_power": 5},
         {"kind": "threshold", "attribute": "status", "op": "==", "value": "defectiveLamp"}]},
     "description": "Switched on without drawing power, or the controller reports a failure."},
    {"id": "water-leak", "name": "Fuite d'eau probable", "severity": "major",
     "target": {"type": "WaterConsumptionObserved"},
     "condition": {"kind": "night_flow", "attribute": "flow", "above": 5, "nights": 3},
     "description": "Night minimum flow above 5 L/h for three nights in a row."},
    {"id": "water-leak-flag", "name": "Fuite signalée par le compteur", "severity": "minor",
     "target": {"type": "WaterConsumptionObserved"},
     "condition": {"kind": "threshold", "attribute": "alarmFlowPersistence", "op": "==",
                   "value": True}},
    {"id": "bin-full", "name": "Conteneur plein", "severity": "minor",
     "target": {"type": "WasteContainer"}, "for_s": 900,
     "condition": {"kind": "threshold", "attribute": "fillingLevel", "op": ">=", "value": 0.9,
                   "hysteresis": 0.2}},
    {"id": "classroom-co2", "name": "CO2 élevé en classe", "severity": "warning",
     "target": {"type": "IndoorEnvironmentObserved"}, "for_s": 600,
     "condition": {"kind": "occupied", "attribute": "co2", "above": 1500}},
    {"id": "flood-rise", "name": "Montée des eaux", "severity": "critical",
     "target": {"type": "FloodMonitoring"},
     "condition": {"kind": "rate", "attribute": "currentLevel", "rise": 0.1, "window_s": 3600},
     "description": "Water level rising by 10 cm an hour or more."},
    {"id": "flood-level", "name": "Niveau d'alerte crue", "severity": "critical",
     "target": {"type": "FloodMonitoring"},
     "condition": {"kind": "threshold", "attribute": "floodLevelStatus", "op": "!=",
                   "value": "normal"}},
    {"id": "device-silent", "name": "Capteur muet", "severity": "major",
     "target": {"type": "Device"},
     "condition": {"kind": "silence", "factor": 3, "interval_s": 3600},
     "description": "No message for three times the expected interval (camera, sensor)."},
    {"id": "camera-fault", "name": "Défaut caméra", "severity": "major",
     "target": {"type": "Device"}, "intervention": True,
     "condition": {"kind": "any", "conditions": [
         {"kind": "threshold", "attribute": "deviceState", "op": "==", "value": "videoLoss"},
         {"kind": "threshold", "attribute": "deviceState", "op": "==",
          "value": "recordingFault"},
         {"kind": "threshold", "attribute": "deviceState", "op": "==", "value": "tampered"}]}},
    {"id": "battery-low", "name": "Batterie faible", "severity": "warning",
     "target": {"type": "Device"},
     "condition": {"kind": "battery_low", "below": 0.15}},
    {"id": "battery-end-of-life", "name": "Fin de vie de batterie prévue", "severity": "warning",
     "target": {"type": "Device"},
     "condition": {"kind": "battery_trend", "days": 30, "level": 0.05}},
)

#: codec error rate, per built-in device model: (model id, share of failed messages above
#: which to alarm, messages needed in the 24 h window before judging, severity). Models that
#: report often need more messages; a flood sensor that cannot be read is blind: major.
_CODEC_ERRORS: Final = (
    ("bocage-sl1", 0.2, 12, "minor"),   # street lights: status every 15 min to 1 h
    ("bocage-wm1", 0.2, 6, "minor"),    # water meters: a few readings a day
    ("bocage-us1", 0.2, 6, "minor"),    # bins: a few fill levels a day
    ("bocage-ps1", 0.2, 20, "minor"),   # parking spots: on every change
    ("bocage-ce1", 0.2, 12, "minor"),   # classrooms: every 10 to 15 min
    ("bocage-aq1", 0.2, 12, "minor"),   # air quality: every 15 to 30 min
    ("bocage-wl1", 0.1, 12, "major"),   # river level: flood watch must be readable
    ("bocage-em1", 0.2, 12, "minor"),   # electricity meters
    ("bocage-gm1", 0.2, 6, "minor"),    # gas meters
    ("bocage-hm1", 0.2, 6, "minor"),    # heat meters
    ("bocage-pv1", 0.2, 12, "minor"),   # PV inverters: daytime readings
    ("bocage-pc1", 0.2, 12, "minor"),   # people counters
    ("bocage-vc1", 0.2, 6, "major"),    # camera heartbeats: video protection blind
)
#: the built-in models the codec error defaults cover (a test keeps it equal to the registry)
CODEC_ERROR_MODELS: Final = tuple(m for m, *_ in _CODEC_ERRORS)

_CODEC_DEFINITIONS: Final = tuple(
    {"id": f"codec-errors-{model.removeprefix('bocage-')}",
     "name": "Messages illisibles", "severity": severity,
     "target": {"type": "Device", "model": model},
     "condition": {"kind": "codec_errors", "above": share, "window_s": 86400,
                   "min_messages": least},
     "description": f"More than {share:.0%} of the device's messages over 24 hours end in "
                    "dead letters (codec error, codec timeout, value out of range)."}
    for model, share, least, severity in _CODEC_ERRORS)

DEFAULT_RULES: Final[tuple[Rule, ...]] = tuple(
    compile_rule(d) for d in (*_DEFINITIONS, *_CODEC_DEFINITIONS))
