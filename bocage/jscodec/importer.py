"""``bocage devices import-repo``: a device repository's codecs and models into the catalogue.

Every codec is checked (it must compile and define the functions of its roles)
and stored as a ``DeviceCodec`` entity, id ``<vendor>.<codec>``. Every device
becomes a device model, id ``<vendor>.<device>`` (``<vendor>.<device>.<codec>``
when its firmware versions use several codecs), whose quantities are the
decoded keys the mapping table recognises (``bocage.jscodec.mapping``), read
from the uplink examples' ``data``. Keys it does not recognise are reported,
not stored; a device with no recognised key gets no model (its codec is still
imported: write its model by hand, ``POST /api/device-models``, naming it).
Importing again replaces codecs and models of the same ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bocage.codecs.model import ModelSpec
from bocage.devices.catalogue import Catalogue
from bocage.domain.errors import BocageError
from bocage.jscodec.check import source_of
from bocage.jscodec.library import JsCodecLibrary
from bocage.jscodec.mapping import map_decoded
from bocage.jscodec.repo import RepoDevice, RepoVendor
from bocage.jscodec.sandbox import UPLINK

#: equipment type of imported models unless told otherwise (the repository does
#: not say where a device is installed, so not which Smart Data Model it feeds)
DEFAULT_TARGET_TYPE = "DeviceMeasurement"


@dataclass(slots=True)
class VendorReport:
    vendor: str
    codecs: list[str] = field(default_factory=list)
    #: (codec id, reason)
    codecs_refused: list[tuple[str, str]] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    #: (model id, reason)
    models_skipped: list[tuple[str, str]] = field(default_factory=list)
    #: model id -> decoded keys left unmapped
    unmapped: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: (file, reason) met while reading the repository
    problems: list[tuple[str, str]] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.codecs_refused or self.problems)


def model_ids(device: RepoDevice) -> list[tuple[str, str]]:
    """(model id, codec name) for each codec the device's firmware versions use."""
    base = f"{device.vendor}.{device.id}"
    if len(device.codecs) == 1:
        return [(base, device.codecs[0])]
    return [(f"{base}.{codec}", codec) for codec in device.codecs]


def import_vendor(vendor: RepoVendor, library: JsCodecLibrary, catalogue: Catalogue,
                  target_type: str = DEFAULT_TARGET_TYPE) -> VendorReport:
    report = VendorReport(vendor=vendor.id, problems=list(vendor.problems))
    imported: set[str] = set()
    for name, codec in sorted(vendor.codecs.items()):
        try:
            library.put(source_of(codec))
        except BocageError as exc:
            report.codecs_refused.append((codec.id, exc.detail))
            continue
        report.codecs.append(codec.id)
        imported.add(name)
    for device in vendor.devices:
        for model_id, codec_name in model_ids(device):
            if codec_name not in imported:
                why = "refused" if codec_name in vendor.codecs else "missing"
                report.models_skipped.append((model_id, f"its codec {codec_name} is {why}"))
                continue
            codec = vendor.codecs[codec_name]
            samples = [ex["output"]["data"] for ex in codec.examples.get(UPLINK, [])
                       if isinstance(ex.get("output"), dict)
                       and isinstance(ex["output"].get("data"), dict)]
            mapping = map_decoded(samples)
            if not mapping.quantities:
                seen = ", ".join(mapping.unmapped) or "none: no uplink example with data"
                report.models_skipped.append(
                    (model_id, f"no recognised quantity among its decoded keys ({seen})"))
                continue
            spec = ModelSpec(id=model_id, vendor=vendor.name, model=device.name,
                             codec=codec.id, target_type=target_type,
                             quantities=mapping.quantities, description=device.description)
            try:
                catalogue.add_model(spec, replace=True)
            except BocageError as exc:
                report.models_skipped.append((model_id, exc.detail))
                continue
            report.models.append(model_id)
            if mapping.unmapped:
                report.unmapped[model_id] = mapping.unmapped
    return report
