"""The ETSI NGSI-LD core @context: its URLs and the bundled copies (never fetched).

The documents ship as package data in ``bocage/ngsild/contexts/`` (written by
``scripts/bundle_data.py``). Every core context URL a client may send - the unversioned
one and v1.3 to v1.9, under ``/ngsi-ld/v1/`` and, for the unversioned one, also without
it (older documents use that form), over https and http - is recognised here.

For *term resolution* all of them mean the v1.9 core (a superset of the earlier
versions' terms; the two v1.3/v1.4 definitions that differ were fixed in later
versions). Serving a core context back (``GET /jsonldContexts``) returns the bundled
v1.3 / v1.4 documents for their own URLs and v1.9 for the others.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Final

_ETSI: Final = "uri.etsi.org/ngsi-ld/"

#: what bocage advertises in its Link headers
CORE_CONTEXT_URL: Final = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.9.jsonld"

#: the @vocab of the core context: where undefined terms land
CORE_VOCAB: Final = "https://uri.etsi.org/ngsi-ld/default-context/"

#: versions with their own bundled file
BUNDLED_VERSIONS: Final = ("1.3", "1.4", "1.9")


def _aliases() -> dict[str, str]:
    """URL -> bundled version served for that URL."""
    out: dict[str, str] = {}
    for scheme in ("https://", "http://"):
        for path in ("v1/ngsi-ld-core-context.jsonld", "ngsi-ld-core-context.jsonld"):
            out[scheme + _ETSI + path] = "1.9"
        for minor in range(3, 10):
            version = f"1.{minor}"
            served = version if version in BUNDLED_VERSIONS else "1.9"
            out[f"{scheme}{_ETSI}v1/ngsi-ld-core-context-v{version}.jsonld"] = served
    return out


#: every URL that denotes the core context -> the bundled version served for it
CORE_CONTEXT_ALIASES: Final[dict[str, str]] = _aliases()


def is_core_url(url: str) -> bool:
    return url in CORE_CONTEXT_ALIASES


@cache
def bundled_core_context(version: str = "1.9") -> bytes:
    """The bundled document of one core context version (read once, from package data).

    ``functools.cache`` is fine here: the files are immutable package data, so this is
    a pure function, not process state that could go stale.
    """
    if version not in BUNDLED_VERSIONS:
        raise ValueError(f"no bundled core context v{version}")
    name = f"ngsi-ld-core-context-v{version}.jsonld"
    return (resources.files("bocage.ngsild") / "contexts" / name).read_bytes()


def core_document_for(url: str) -> bytes:
    """The bundled document served for a core context URL."""
    return bundled_core_context(CORE_CONTEXT_ALIASES.get(url, "1.9"))
