"""A JavaScript codec as stored: its files, which file plays which role, its examples.

Stored as an NGSI-LD ``DeviceCodec`` entity beside the ``DeviceModel`` entities
(``urn:ngsi-ld:DeviceCodec:<id>``), so codecs live in the same database as the
models naming them (SQLite or PostgreSQL), survive restarts, and are backed up,
exported and tenanted with the rest. Pure: no I/O here.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from bocage.domain.entity import Entity, instance_value
from bocage.domain.errors import BadRequestData
from bocage.domain.terms import Terms
from bocage.jscodec.sandbox import ROLES, JsError, JsResult, Sandbox

CODEC_PREFIX: Final = "urn:ngsi-ld:DeviceCodec:"
#: largest codec source accepted (all its files), in bytes
MAX_SOURCE_BYTES: Final = 1_000_000
_CALL_ROLE: Final = {"decode_uplink": "uplinkDecoder", "decode_downlink": "downlinkDecoder",
                     "encode_downlink": "downlinkEncoder"}
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def codec_entity_id(ident: str) -> str:
    return CODEC_PREFIX + ident


@dataclass(frozen=True, slots=True)
class CodecSource:
    id: str
    #: JavaScript file name -> its text
    files: dict[str, str]
    #: role (uplinkDecoder, downlinkEncoder, downlinkDecoder) -> file name
    roles: dict[str, str]
    vendor: str = ""
    name: str = ""
    #: role -> the examples of the repository format (input / output), kept for checks
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: identifies this exact source (compiled runtimes are pooled by it); computed once
    digest: str = field(init=False, default="", compare=False)

    def __post_init__(self) -> None:
        if not _ID.match(self.id):
            raise BadRequestData(f"codec id {self.id!r} may hold letters, digits, . _ - only")
        for role, file_name in self.roles.items():
            if role not in ROLES:
                raise BadRequestData(f"codec {self.id}: unknown role {role!r}; "
                                     f"roles are {', '.join(ROLES)}")
            if file_name not in self.files:
                raise BadRequestData(f"codec {self.id}: {role} names {file_name!r}, "
                                     "which is not among its files")
        if not self.roles:
            raise BadRequestData(f"codec {self.id}: names no uplinkDecoder, downlinkEncoder "
                                 "or downlinkDecoder")
        if sum(len(t.encode()) for t in self.files.values()) > MAX_SOURCE_BYTES:
            raise BadRequestData(f"codec {self.id}: source larger than {MAX_SOURCE_BYTES} bytes")
        body = orjson.dumps({"files": self.files, "roles": self.roles},
                            option=orjson.OPT_SORT_KEYS)
        object.__setattr__(self, "digest", hashlib.sha256(body).hexdigest()[:16])

    def file_for(self, role: str) -> str | None:
        name = self.roles.get(role)
        return None if name is None else self.files[name]

    def run(self, sandbox: Sandbox, call: str, *args: Any) -> JsResult:
        """Run one function (decode_uplink, decode_downlink, encode_downlink) in the
        calling thread's pooled runtime of the file that plays its role."""
        role = _CALL_ROLE[call]
        file_name = self.roles.get(role)
        if file_name is None:
            raise JsError(f"codec {self.id} has no {role}")
        return sandbox.run((f"{self.id}/{file_name}", self.digest), self.files[file_name],
                           call, *args)

    def summary(self) -> dict[str, Any]:
        return {"id": self.id, "vendor": self.vendor, "name": self.name,
                "roles": dict(sorted(self.roles.items())), "digest": self.digest,
                "examples": sum(len(v) for v in self.examples.values())}


def codec_entity(src: CodecSource) -> dict[str, Any]:
    """The DeviceCodec entity body (concise terms; the caller expands them)."""
    return {
        "id": codec_entity_id(src.id), "type": "DeviceCodec",
        "name": {"type": "Property", "value": src.name or src.id},
        "brandName": {"type": "Property", "value": src.vendor or "unknown"},
        "language": {"type": "Property", "value": "javascript"},
        "digest": {"type": "Property", "value": src.digest},
        "source": {"type": "JsonProperty",
                   "json": {"files": src.files, "roles": src.roles, "examples": src.examples,
                            "vendor": src.vendor, "name": src.name}},
    }


def codec_from_entity(entity: Entity, terms: Terms) -> CodecSource:
    insts = entity.get(terms.expand("source"))
    body = instance_value(insts[0]) if insts else None
    if not isinstance(body, dict):
        raise BadRequestData(f"codec {entity['id']} has no source attribute")
    return CodecSource(id=entity["id"].removeprefix(CODEC_PREFIX), files=body["files"],
                       roles=body["roles"], vendor=body.get("vendor", ""),
                       name=body.get("name", ""), examples=body.get("examples") or {})
