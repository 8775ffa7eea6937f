"""The device catalogue as the pipeline reads it: each device and model kept in memory.

Every uplink needs its device (model, equipment, configuration) and its model
(codec, quantities); reading and decoding the Device entity each time cost more
than the rest of the pipeline's own work. So the pipeline reads them through
this cache, which stays exact for every change made through this process:

* it listens to the store's committed changes (it is a ``ChangeListener`` of
  the :class:`~bocage.storage.observed.ObservedStore` every write goes
  through: admin API, NGSI-LD routes, CLI-in-process, ingestion) and forgets a
  device whose catalogue fields changed (the pipeline's own writes to a
  device -- signal, last seen, battery -- leave those fields alone, so they
  keep it) and any model that changed;
* a device that is not found is never remembered: a device registered a
  moment ago is found by its first uplink;
* another process writing the same database (``bocage devices ...`` on the
  file while the server runs) is not seen by the listener: every entry is
  read again after ``ttl`` seconds, so such a change takes effect within it
  (a device added is found at once, see above; the uplinks of a device
  deleted meanwhile become dead letters: the pipeline never re-creates a
  Device entity).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Final

from bocage.codecs.model import ModelSpec
from bocage.devices.catalogue import TENANT, Catalogue
from bocage.devices.records import DEVICE_PREFIX, MODEL_PREFIX, DeviceRecord
from bocage.domain.terms import Terms
from bocage.storage.observed import Changed

#: the Device attributes ``device_from_entity`` reads (concise names), besides scope
DEVICE_FIELDS: Final = ("devEUI", "refDeviceModel", "name", "controlledAsset", "location",
                        "communeCode", "reportingInterval", "configuration",
                        "networkServer", "applicationId", "networkDeviceId")
DEFAULT_TTL: Final = 30.0
_MAX_ENTRIES: Final = 200_000  # devices; past that the cache starts again (memory bound)


class CatalogueCache:
    def __init__(self, catalogue: Catalogue, terms: Terms, *, ttl: float = DEFAULT_TTL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._catalogue = catalogue
        self._ttl = ttl
        self._clock = clock
        self._keys = ("scope", *(terms.expand(name) for name in DEVICE_FIELDS))
        self._lock = threading.Lock()
        self._devices: dict[str, tuple[float, DeviceRecord]] = {}
        self._models: dict[str, tuple[float, ModelSpec]] = {}
        #: bumped by every invalidation: a read that overlapped one is not kept
        self._generation = 0

    # -- reads (the pipeline's thread) ---------------------------------------

    def device(self, eui: str) -> DeviceRecord | None:
        eui = eui.upper()  # as the Device entity's id spells it
        hit = self._devices.get(eui)
        now = self._clock()
        if hit is not None and now - hit[0] < self._ttl:
            return hit[1]
        generation = self._generation
        found = self._catalogue.device(eui)
        if found is not None:
            self._keep(self._devices, eui, (now, found), generation)
        else:
            self._devices.pop(eui, None)
        return found

    def model(self, ident: str) -> ModelSpec | None:
        hit = self._models.get(ident)
        now = self._clock()
        if hit is not None and now - hit[0] < self._ttl:
            return hit[1]
        generation = self._generation
        found = self._catalogue.model(ident)
        if found is not None:
            self._keep(self._models, ident, (now, found), generation)
        else:
            self._models.pop(ident, None)
        return found

    def _keep(self, table: dict[str, Any], key: str, entry: Any, generation: int) -> None:
        with self._lock:
            if generation != self._generation:
                return  # the catalogue changed while we read: the next read tries again
            if len(table) >= _MAX_ENTRIES:
                table.clear()
            table[key] = entry

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._devices.clear()
            self._models.clear()

    # -- ChangeListener (the writer's thread, after each commit) --------------

    def wants(self, tenant: str) -> bool:
        return tenant == TENANT

    def changed(self, tenant: str, changes: list[Changed],
                release: Callable[[], None]) -> None:
        try:
            for entity_id, before, after in changes:
                if entity_id.startswith(DEVICE_PREFIX):
                    if self._device_changed(before, after):
                        self._forget(self._devices, entity_id.removeprefix(DEVICE_PREFIX))
                elif entity_id.startswith(MODEL_PREFIX):
                    self._forget(self._models, entity_id.removeprefix(MODEL_PREFIX))
        finally:
            release()

    def _device_changed(self, before: Any, after: Any) -> bool:
        if before is None or after is None:
            return True
        return any(before.get(k) != after.get(k) for k in self._keys)

    def _forget(self, table: dict[str, Any], key: str) -> None:
        with self._lock:
            self._generation += 1
            table.pop(key, None)
