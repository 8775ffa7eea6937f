"""What became of each processed message: read, or a dead letter saying it could not be.

The ingestion worker reports, after each batch, one :class:`Outcome` per uplink of
a device (``up`` events): ``failed`` when it ended in a dead letter whose reason
says the payload could not be read (codec error, codec timeout, value out of
range). Supervision counts them per device (the ``codec_errors`` rule kind).
Messages dead for other reasons (unknown device, unsupported fPort...) are left
out: they say nothing of the codec. Pure.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from bocage.ingest import deadletters as reasons
from bocage.ingest.deadletters import NewDeadLetter
from bocage.ingest.record import Uplink

#: the dead-letter reasons that count as "could not be read"
UNREADABLE: Final = frozenset({reasons.CODEC_ERROR, reasons.CODEC_TIMEOUT,
                               reasons.OUT_OF_RANGE})


@dataclass(frozen=True, slots=True)
class Outcome:
    dev_eui: str
    #: when the network server received it, ms since the epoch
    at_ms: int
    failed: bool


def _ms(iso: str) -> int:
    try:
        return int(dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return 0


def outcomes(batch: Sequence[tuple[int, Uplink]],
             dead: Sequence[NewDeadLetter]) -> list[Outcome]:
    why = {d.seq: d.reason for d in dead}
    out: list[Outcome] = []
    for seq, record in batch:
        if record.event != "up" or not record.dev_eui:
            continue
        reason = why.get(seq)
        if reason is not None and reason not in UNREADABLE:
            continue
        out.append(Outcome(record.dev_eui, _ms(record.received_at), reason is not None))
    return out
