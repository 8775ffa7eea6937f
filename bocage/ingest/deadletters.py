"""Dead letters: well-formed records the pipeline could not process, with their reason."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from bocage.ingest.record import Uplink

#: Reason codes (stable, for filters and alarms); the detail says the rest.
UNKNOWN_DEVICE: Final = "unknown-device"
UNKNOWN_MODEL: Final = "unknown-model"
UNKNOWN_CODEC: Final = "unknown-codec"
UNSUPPORTED_FPORT: Final = "unsupported-fport"
CODEC_ERROR: Final = "codec-error"
CODEC_TIMEOUT: Final = "codec-timeout"
OUT_OF_RANGE: Final = "out-of-range"
#: a reading imported from a file names no quantity of the device's model
UNKNOWN_QUANTITY: Final = "unknown-quantity"
STORE_REJECTED: Final = "store-rejected"
INTERNAL: Final = "internal-error"
REASONS: Final = frozenset({UNKNOWN_DEVICE, UNKNOWN_MODEL, UNKNOWN_CODEC, UNSUPPORTED_FPORT,
                            CODEC_ERROR, CODEC_TIMEOUT, OUT_OF_RANGE, UNKNOWN_QUANTITY,
                            STORE_REJECTED, INTERNAL})

OPEN: Final = "open"
REPLAYED: Final = "replayed"


@dataclass(frozen=True, slots=True)
class NewDeadLetter:
    record: Uplink
    reason: str
    detail: str
    seq: int = 0


@dataclass(frozen=True, slots=True)
class DeadLetter:
    id: int
    seq: int
    record: Uplink
    reason: str
    detail: str
    status: str
    created_at: str
    updated_at: str
    attempts: int

    def to_json(self, *, with_raw: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id, "status": self.status, "reason": self.reason,
            "detail": self.detail, "createdAt": self.created_at,
            "updatedAt": self.updated_at, "attempts": self.attempts,
            "record": self.record.summary(),
        }
        if with_raw:
            out["envelope"] = self.record.raw
        return out


@dataclass(frozen=True, slots=True)
class DeadLetterQuery:
    status: str | None = None
    reason: str | None = None
    dev_eui: str | None = None
    source: str | None = None
    #: only the letters of these DevEUIs (upper case); None: any device. What a
    #: caller may see is decided here, in the query, so that paging stays exact
    dev_euis: frozenset[str] | None = None
    limit: int = 100
    offset: int = 0
