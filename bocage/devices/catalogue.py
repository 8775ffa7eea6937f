"""The catalogue over the Store: read and write devices and models as entities."""

from __future__ import annotations

from collections.abc import Callable

from bocage.codecs.model import ModelSpec
from bocage.codecs.registry import CodecRegistry
from bocage.devices.records import (
    DeviceRecord,
    device_entity,
    device_from_entity,
    device_id,
    model_entity,
    model_from_entity,
    model_id,
)
from bocage.domain.entity import Entity
from bocage.domain.errors import (
    AlreadyExists,
    BadRequestData,
    BocageError,
    NonexistentTenant,
    ResourceNotFound,
)
from bocage.domain.query import EntityQuery
from bocage.domain.terms import Terms
from bocage.ngsild import mutations as mut
from bocage.ngsild.parse import parse_entity
from bocage.storage.base import Mutation, MutationFn, MutationResult, Store, _Delete

TENANT = ""  # the catalogue lives in the default tenant until tenancy per commune lands


class Catalogue:
    def __init__(self, store: Store, terms: Terms, codecs: CodecRegistry,
                 now: Callable[[], str], models: Catalogue | None = None) -> None:
        self._store = store
        self._terms = terms
        self._codecs = codecs
        self._now = now
        self._models = models

    def over(self, store: Store) -> Catalogue:
        """The same catalogue reading and writing devices through ``store`` (a scoped
        store: what a caller may see); device models, platform-wide, still come from here."""
        return Catalogue(store, self._terms, self._codecs, self._now, models=self)

    # -- reads ------------------------------------------------------------

    def _get(self, entity_id: str) -> Entity | None:
        try:
            return self._store.get(TENANT, entity_id)
        except NonexistentTenant:
            return None

    def device(self, eui: str) -> DeviceRecord | None:
        entity = self._get(device_id(eui))
        return None if entity is None else device_from_entity(entity, self._terms)

    def device_entity(self, eui: str) -> Entity | None:
        return self._get(device_id(eui))

    def model(self, ident: str) -> ModelSpec | None:
        if self._models is not None:
            return self._models.model(ident)
        entity = self._get(model_id(ident))
        return None if entity is None else model_from_entity(entity, self._terms)

    def _all(self, type_name: str) -> list[Entity]:
        return all_of_type(self._store, self._terms, type_name)

    def devices(self) -> list[Entity]:
        return self._all("Device")

    def models(self) -> list[ModelSpec]:
        return [model_from_entity(e, self._terms) for e in self._all("DeviceModel")]

    # -- writes -----------------------------------------------------------

    def _apply(self, mutations: list[Mutation]) -> list[MutationResult]:
        return self._store.apply(TENANT, mutations)

    def ensure_builtin_models(self) -> int:
        """Create the DeviceModel entity of every built-in codec that lacks one."""
        now = self._now()
        muts = [Mutation(model_id(c.model.id),
                         mut.create(parse_entity(model_entity(c.model), self._terms), now))
                for c in self._codecs if c.model is not None]
        results = self._apply(muts)
        return sum(1 for r in results if isinstance(r, dict))

    def add_model(self, spec: ModelSpec, *, replace: bool = False) -> None:
        """Create a model (``replace``: create or replace it, as a re-import does)."""
        if spec.codec != "network-server" and self._codecs.get(spec.codec) is None:
            raise BadRequestData(f"unknown codec {spec.codec!r}; built-in codecs: "
                                 + ", ".join(c.id for c in self._codecs)
                                 + " (JavaScript codecs: see GET /api/codecs)")
        entity = parse_entity(model_entity(spec), self._terms)
        write = (mut.replace(entity, self._now(), upsert=True) if replace
                 else mut.create(entity, self._now()))
        self._check(self._apply([Mutation(entity["id"], write)]))

    def delete_model(self, ident: str) -> None:
        self._check(self._apply([Mutation(model_id(ident), mut.delete_entity(model_id(ident)))]))

    def add_device(self, dev: DeviceRecord) -> None:
        """Create the Device entity and, when missing, the equipment entity it feeds."""
        spec = self.model(dev.model)
        if spec is None:
            raise BadRequestData(f"unknown device model {dev.model!r}")
        if not dev.asset_id:
            raise BadRequestData("the device needs an assetId")
        now = self._now()
        device = parse_entity(device_entity(dev), self._terms)
        asset_body: dict[str, object] = {
            "id": dev.asset_id, "type": spec.target_type,
            "refDevice": {"type": "Relationship", "object": dev.id}}
        if dev.scope:
            asset_body["scope"] = list(dev.scope)
        if dev.location is not None:
            asset_body["location"] = {
                "type": "GeoProperty",
                "value": {"type": "Point", "coordinates": list(dev.location)}}
        asset = parse_entity(asset_body, self._terms)
        if self._get(dev.id) is not None:
            raise AlreadyExists(f"device {dev.dev_eui} already exists", instance=dev.id)
        # the equipment first, on its own: through a scoped store it may be refused (another
        # commune's entity), and then no device may exist that would feed it uplinks.
        # An existing equipment entity keeps its own location and scopes; only the link
        # is added. A device that is its own equipment (a camera) has no other entity.
        if dev.asset_id != dev.id:
            self._check(self._apply([Mutation(dev.asset_id, _create_or_link(asset, now))]))
        self._check(self._apply([Mutation(dev.id, mut.create(device, now))]))

    def delete_device(self, eui: str) -> None:
        """Forget the device; the equipment entity and its data stay."""
        self._check(self._apply([Mutation(device_id(eui), mut.delete_entity(device_id(eui)))]))

    @staticmethod
    def _check(results: list[MutationResult]) -> None:
        for r in results:
            if isinstance(r, BocageError):
                raise r


def all_of_type(store: Store, terms: Terms, type_name: str) -> list[Entity]:
    """Every catalogue entity of a type, read page by page."""
    out: list[Entity] = []
    offset = 0
    while True:
        query = EntityQuery(types=((terms.expand(type_name),),), limit=1000, offset=offset)
        try:
            page = store.query(TENANT, query)
        except NonexistentTenant:
            return out
        out.extend(page.entities)
        if len(page.entities) < 1000:
            return out
        offset += 1000


def _create_or_link(asset: Entity, now: str) -> MutationFn:
    create = mut.create(asset, now)
    link = {k: v for k, v in asset.items() if k not in ("location", "scope")}
    merge = mut.merge(link, now, upsert=True)

    def fn(current: Entity | None) -> Entity | _Delete:
        return create(None) if current is None else merge(current)

    return fn


__all__ = ["Catalogue", "ResourceNotFound", "all_of_type"]
